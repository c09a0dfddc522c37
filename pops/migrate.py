"""Schema versions: which migrations a database still needs, and applying them."""
from __future__ import annotations

from pathlib import Path

from peewee import Database
from playhouse.migrations import Runner

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def runner(db: Database, directory: Path = MIGRATIONS_DIR) -> Runner:
    return Runner(db, str(directory), table_name="schema_migration")


def pending(db: Database, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of migrations not yet applied to this database, oldest first."""
    return [m.name for m in runner(db, directory).status() if not m.applied and m.path]


def upgrade(db: Database, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration in order, each in its own transaction; returns their names."""
    return runner(db, directory).up()


class MigrationNeeded(Exception):
    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(
            "The database needs %d migration(s) before POPS can use it: %s.\n"
            "Back it up, then run:  pops migrate" % (len(names), ", ".join(names))
        )


def require_current(db: Database) -> None:
    """Refuse to go on with a database whose schema is behind the code."""
    names = pending(db)
    if names:
        raise MigrationNeeded(names)
