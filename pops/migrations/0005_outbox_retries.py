"""The outbox's retries (tries, when next, when a code's message expires) and the job runner's lease.

Unsent messages older than a day, and code messages whose code has expired, become `expired`:
they are never sent. Frozen copies of the models as they were.
"""
import datetime as dt

from peewee import *

CODE_PURPOSES = ("sign_in", "verify_email", "verify_mobile")
CODE_LIFETIME = dt.timedelta(minutes=10)
TOO_OLD = dt.timedelta(hours=24)


def up(migrator, db):
    class OutboxMessage(Model):
        created_at = DateTimeField()
        purpose = CharField(max_length=30, default='')
        status = CharField(max_length=10, default='outbox')
        expires_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'outbox_message'

    class JobLease(Model):
        name = CharField(max_length=30, unique=True)
        holder = CharField(max_length=100, default='')
        until = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'job_lease'

    migrator.migrate(
        migrator.add_column('outbox_message', 'attempts', IntegerField(default=0)),
        migrator.add_column('outbox_message', 'next_attempt_at', DateTimeField(null=True)),
        migrator.add_column('outbox_message', 'expires_at', DateTimeField(null=True)),
        migrator.add_index('outbox_message', ('next_attempt_at',), False),
    )
    db.create_tables([JobLease])

    from pops import clock  # the rehearsal clock too: "now" is POPS's now

    now = clock.now().astimezone(dt.timezone.utc).replace(tzinfo=None)
    codes = OutboxMessage.purpose.in_(CODE_PURPOSES)
    unsent = OutboxMessage.status == 'outbox'
    OutboxMessage.update(status='expired').where(
        unsent & ((OutboxMessage.created_at < now - TOO_OLD) | (codes & (OutboxMessage.created_at < now - CODE_LIFETIME)))
    ).execute()
    for message in OutboxMessage.select().where(unsent & codes):  # the few codes still good: when they expire
        OutboxMessage.update(expires_at=message.created_at + CODE_LIFETIME).where(OutboxMessage.id == message.id).execute()


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index('outbox_message', 'outbox_message_next_attempt_at'),
        migrator.drop_column('outbox_message', 'expires_at'),
        migrator.drop_column('outbox_message', 'next_attempt_at'),
        migrator.drop_column('outbox_message', 'attempts'),
    )
    migrator.migrate(migrator.drop_table('job_lease'))
