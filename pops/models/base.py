"""The fields and the base model every POPS table shares."""
from __future__ import annotations

import datetime as dt

from peewee import (
    BigIntegerField,
    CharField,
    DateTimeField,
    Model,
    TextField,
)

from .. import clock
from ..db import database
from ..money import from_cents, to_cents


class MoneyField(BigIntegerField):
    """A Decimal amount stored as whole cents, so SQL sums are exact on every database."""

    def db_value(self, value):
        return None if value is None else to_cents(value)

    def python_value(self, value):
        return None if value is None else from_cents(value)


class UTCDateTimeField(DateTimeField):
    """An instant: stored as naive UTC, read back timezone-aware."""

    def db_value(self, value):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


def _now() -> dt.datetime:
    return clock.now()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False

    @classmethod
    def columns(cls, alias: str) -> str:
        """Every column of the table under `alias`, in field order: a hand-written SELECT's list for from_row()."""
        return ", ".join(f'{alias}."{f.column_name}"' for f in cls._meta.sorted_fields)

    @classmethod
    def from_row(cls, row, start: int = 0):
        """The instance in row[start:] as columns() lists it (a hand-written SELECT's row), as Peewee would build it."""
        readers = cls._readers()
        instance = cls(__no_default__=1)
        instance.__data__ = {name: v if read is None or v is None else read(v)
                             for (name, read), v in zip(readers, row[start:start + len(readers)])}
        return instance

    @classmethod
    def _readers(cls) -> list[tuple[str, object]]:
        readers = cls.__dict__.get("_row_readers")
        if readers is None:  # once per model: its fields' names and converters (None: text, as read), in column order
            readers = [(f.name, None if type(f) in _TEXT_FIELDS else f.python_value) for f in cls._meta.sorted_fields]
            cls._row_readers = readers
        return readers


_TEXT_FIELDS = (CharField, TextField)  # every database hands their values back as the str Peewee would make
