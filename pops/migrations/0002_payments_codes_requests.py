"""Payments (attempts, stored cards), one-time codes, patient requests, the sandbox gateway's
tables, the guarantor's payment sequence and one open reference batch per group and day.

Frozen copies of the models as they were; stand-ins name the tables the new ones refer to.
"""
from peewee import *


def _stand_in(db, name):
    class Meta:
        database = db
        table_name = name

    return type(name.title().replace("_", ""), (Model,), {"Meta": Meta})


def up(migrator, db):
    Guarantor = _stand_in(db, "guarantor")
    Staff = _stand_in(db, "staff")
    Receipt = _stand_in(db, "receipt")
    PatientSession = _stand_in(db, "patient_session")

    migrator.migrate(migrator.add_column("guarantor", "payment_seq", IntegerField(default=0)))
    db.execute_sql(
        'CREATE UNIQUE INDEX "reference_batch_group_id_batch_date" ON "reference_batch" '
        "(\"group_id\", \"batch_date\") WHERE (\"status\" = 'open')"
    )

    class StoredCard(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        gateway_token = CharField(unique=True, max_length=100)
        brand = CharField(max_length=40)
        last4 = CharField(max_length=4)
        exp_month = IntegerField()
        exp_year = IntegerField()
        created_at = DateTimeField()
        removed_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'stored_card'

    class PaymentAttempt(Model):
        key = CharField(unique=True, max_length=64)
        guarantor = ForeignKeyField(Guarantor, on_delete='RESTRICT')
        session = ForeignKeyField(PatientSession, null=True, on_delete='SET NULL')
        staff = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        entrance = CharField(max_length=10)
        amount = BigIntegerField()
        amount_choice = CharField(max_length=20)
        status = CharField(max_length=10, default='attempt', index=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        settled_at = DateTimeField(null=True)
        gateway_checkout = CharField(max_length=100, default='')
        gateway_transaction = CharField(max_length=100, default='')
        method = CharField(max_length=20, default='')
        card_type = CharField(max_length=40, default='')
        last4 = CharField(max_length=4, default='')
        message = CharField(max_length=300, default='')
        stored_card = ForeignKeyField(StoredCard, null=True, on_delete='SET NULL')
        receipt = ForeignKeyField(Receipt, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'payment_attempt'

    class OneTimeCode(Model):
        attempt = CharField(unique=True, max_length=64)
        purpose = CharField(max_length=20)
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        channel = CharField(max_length=10)
        destination = CharField(max_length=254)
        code_hash = CharField(max_length=128)
        created_at = DateTimeField(index=True)
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        failures = IntegerField(default=0)
        ip = CharField(max_length=64, default='')
        class Meta:
            database = db
            table_name = 'one_time_code'

    class PatientRequest(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        kind = CharField(max_length=20)
        detail = TextField()
        created_at = DateTimeField(index=True)
        handled_at = DateTimeField(null=True)
        handled_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'patient_request'

    class SandboxCheckout(Model):
        token = CharField(unique=True, max_length=64)
        idempotency_key = CharField(unique=True, max_length=64)
        amount = BigIntegerField()
        description = CharField(max_length=200, default='')
        return_url = CharField(max_length=500)
        options = TextField(default='{}')
        status = CharField(max_length=10, default='open')
        created_at = DateTimeField()
        expires_at = DateTimeField()
        charge = CharField(max_length=64, default='')
        result_token_used = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'sandbox_checkout'

    class SandboxCharge(Model):
        transaction = CharField(unique=True, max_length=64)
        idempotency_key = CharField(unique=True, max_length=64)
        amount = BigIntegerField()
        refunded = BigIntegerField(default=0)
        status = CharField(max_length=20)
        decline_code = CharField(max_length=40, default='')
        brand = CharField(max_length=40, default='')
        last4 = CharField(max_length=4, default='')
        wallet = CharField(max_length=20, default='')
        card_token = CharField(max_length=64, default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'sandbox_charge'

    class SandboxRefund(Model):
        transaction = CharField(unique=True, max_length=64)
        charge = CharField(max_length=64, index=True)
        idempotency_key = CharField(unique=True, max_length=64)
        amount = BigIntegerField()
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'sandbox_refund'

    class SandboxCardToken(Model):
        token = CharField(unique=True, max_length=64)
        brand = CharField(max_length=40)
        last4 = CharField(max_length=4)
        exp_month = IntegerField()
        exp_year = IntegerField()
        behaviour = CharField(max_length=20, default='approve')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'sandbox_card_token'

    db.create_tables([StoredCard, PaymentAttempt, OneTimeCode, PatientRequest, SandboxCheckout,
                      SandboxCharge, SandboxRefund, SandboxCardToken])


def down(migrator, db):
    for table in ('sandbox_card_token', 'sandbox_refund', 'sandbox_charge', 'sandbox_checkout',
                  'patient_request', 'one_time_code', 'payment_attempt', 'stored_card'):
        migrator.migrate(migrator.drop_table(table))
    db.execute_sql('DROP INDEX IF EXISTS "reference_batch_group_id_batch_date"')
    migrator.migrate(migrator.drop_column('guarantor', 'payment_seq'))
