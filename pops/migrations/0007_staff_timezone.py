"""Each staff member's time zone for pages spanning groups ("": the zone of the group with the lowest code)."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('staff', 'timezone', CharField(max_length=64, default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('staff', 'timezone'))
