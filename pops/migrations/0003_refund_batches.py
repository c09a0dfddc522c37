"""A refund joins the reference batch of the day it was made; each gateway call carries a key."""
from peewee import *


def up(migrator, db):
    class ReferenceBatch(Model):
        class Meta:
            database = db
            table_name = 'reference_batch'

    migrator.migrate(
        migrator.add_column('transaction', 'batch_id', ForeignKeyField(ReferenceBatch, null=True, on_delete='RESTRICT', field=ReferenceBatch.id)),
        migrator.add_column('transaction', 'idempotency_key', CharField(max_length=64, null=True, unique=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('transaction', 'idempotency_key'),
        migrator.drop_column('transaction', 'batch_id'),
    )
