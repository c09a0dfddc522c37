"""Stripe: which gateway (and live or test mode) made each attempt, stored card and transaction; a
receipt's dispute; the webhook events acted on; each guarantor's Stripe Customer. Everything before
this came from the sandbox."""
from peewee import *


def up(migrator, db):
    class Guarantor(Model):
        class Meta:
            database = db
            table_name = 'guarantor'

    class StripeEvent(Model):
        event_id = CharField(max_length=100, unique=True)
        type = CharField(max_length=60)
        live = BooleanField(default=False)
        received_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'stripe_event'

    class StripeCustomer(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        customer = CharField(max_length=100, unique=True)
        live = BooleanField(default=False)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'stripe_customer'
            indexes = ((('guarantor', 'live'), True),)

    migrator.migrate(
        *[migrator.add_column(table, 'gateway', CharField(max_length=20, default='sandbox'))
          for table in ('payment_attempt', 'stored_card', 'transaction')],
        *[migrator.add_column(table, 'live', BooleanField(default=False))
          for table in ('payment_attempt', 'stored_card', 'transaction')],
        migrator.add_column('payment_attempt', 'store_card', BooleanField(default=False)),
        migrator.add_column('payment_attempt', 'needs_review', BooleanField(default=False)),
        migrator.add_column('receipt', 'dispute_status', CharField(max_length=30, default='')),
    )
    db.create_tables([StripeEvent, StripeCustomer])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('stripe_customer'), migrator.drop_table('stripe_event'))
    migrator.migrate(
        migrator.drop_column('receipt', 'dispute_status'),
        migrator.drop_column('payment_attempt', 'needs_review'),
        migrator.drop_column('payment_attempt', 'store_card'),
        *[migrator.drop_column(table, column)
          for table in ('payment_attempt', 'stored_card', 'transaction') for column in ('live', 'gateway')],
    )
