"""Texts done right (issue 16): the group's Text sender name and reminder schedule; a number's STOP and
its replies; the reminders sent for each statement."""
from peewee import *


def up(migrator, db):
    class Guarantor(Model):
        class Meta:
            database = db
            table_name = 'guarantor'

    class Statement(Model):
        class Meta:
            database = db
            table_name = 'statement'

    class Link(Model):
        class Meta:
            database = db
            table_name = 'link'

    class OutboxMessage(Model):
        class Meta:
            database = db
            table_name = 'outbox_message'

    class SmsNumber(Model):
        mobile = CharField(max_length=32, unique=True)
        stopped = BooleanField(default=False)
        changed_at = DateTimeField()
        answered_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'sms_number'

    class SmsInbound(Model):
        received_at = DateTimeField()
        sender = CharField(max_length=32, index=True)
        to = CharField(max_length=32, default='')
        body = CharField(max_length=1600, default='')
        keyword = CharField(max_length=10, default='')
        answered = BooleanField(default=False)

        class Meta:
            database = db
            table_name = 'sms_inbound'

    class Reminder(Model):
        statement = ForeignKeyField(Statement, on_delete='CASCADE')
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        step = IntegerField()
        channel = CharField(max_length=10)
        sent_at = DateTimeField()
        link = ForeignKeyField(Link, null=True, on_delete='SET NULL')
        message = ForeignKeyField(OutboxMessage, null=True, on_delete='SET NULL')

        class Meta:
            database = db
            table_name = 'reminder'
            indexes = ((('statement', 'step'), True),)

    migrator.migrate(
        migrator.add_column('group', 'text_sender', CharField(max_length=30, default='')),
        migrator.add_column('group', 'reminders', BooleanField(default=False)),
        migrator.add_column('group', 'reminder_first_days', IntegerField(default=10)),
        migrator.add_column('group', 'reminder_second_days', IntegerField(default=20)),
    )
    db.create_tables([SmsNumber, SmsInbound, Reminder])


def down(migrator, db):
    for table in ('reminder', 'sms_inbound', 'sms_number'):
        migrator.migrate(migrator.drop_table(table))
    migrator.migrate(*[migrator.drop_column('group', column) for column in (
        'text_sender', 'reminders', 'reminder_first_days', 'reminder_second_days')])
