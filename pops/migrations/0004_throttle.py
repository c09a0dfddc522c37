"""The throttle: per-address counters (bad QuickPay codes, sign-in lookups) and per-key locks.

A frozen copy of the model as it was.
"""
from peewee import *


def up(migrator, db):
    class Throttle(Model):
        kind = CharField(max_length=20)
        key = CharField(max_length=254)
        count = IntegerField(default=0)
        window_start = DateTimeField()
        blocked_until = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'throttle'
            indexes = ((('kind', 'key'), True),)

    db.create_tables([Throttle])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('throttle'))
