"""Spanish (issue 16): the guarantor's language (the import's, and the patient's own choice in Profile),
and a payment attempt's message as a code with its parameters, translated when shown. Rows from before
keep their English text in `message` and show it."""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('guarantor', 'language', CharField(max_length=8, default='')),
        migrator.add_column('guarantor', 'chosen_language', CharField(max_length=8, default='')),
        migrator.add_column('payment_attempt', 'message_code', CharField(max_length=60, default='')),
        migrator.add_column('payment_attempt', 'message_params', TextField(default='')),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('payment_attempt', 'message_params'),
        migrator.drop_column('payment_attempt', 'message_code'),
        migrator.drop_column('guarantor', 'chosen_language'),
        migrator.drop_column('guarantor', 'language'),
    )
