"""The fields and the base model every POPS table shares."""
from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
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
        if value.__class__ is str:  # SQLite's text, as this field writes it: read at C speed when it can be
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        value = super().python_value(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


ROWS_SEEN = 512  # rows kept per model by from_row(seen_often=True); all let go when full


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
    def from_row(cls, row, start: int = 0, *, seen_often: bool = False):
        """The instance in row[start:] as columns() lists it (a hand-written SELECT's row), as Peewee would build it.

        `seen_often`: a row read on every page and seldom changed (a session's guarantor and group). Its values as
        read are kept with what they convert to, so the same row again is a copy of a dict, not a conversion of
        each column; a changed row is a different key (nothing is kept but the row's own values)."""
        names, converted = cls._readers()
        values = row[start:start + len(names)]
        instance = cls(__no_default__=1)
        if seen_often:
            seen = cls.__dict__.get("_rows_seen")
            if seen is None:
                seen = cls._rows_seen = {}
            data = seen.get(values)
            if data is not None:
                instance.__data__ = dict(data)  # its values are immutable (text, numbers, Decimal, dates, bools)
                return instance
        data = instance.__data__ = dict(zip(names, values))
        for name, read in converted:
            value = data[name]
            if value is not None:
                data[name] = read(value)
        if seen_often:
            if len(seen) >= ROWS_SEEN:
                seen.clear()
            seen[values] = dict(data)
        return instance

    @classmethod
    def _readers(cls) -> tuple[list[str], list[tuple[str, object]]]:
        """Once per model: its fields' names in column order, and the converters of those not used as read."""
        readers = cls.__dict__.get("_row_readers")
        if readers is None:
            fields = cls._meta.sorted_fields
            readers = cls._row_readers = ([f.name for f in fields],
                                          [(f.name, bool if type(f) is BooleanField else f.python_value)
                                           for f in fields if not _as_read(f)])
        return readers


# Every database hands these back as the str or int Peewee would make of them (a bool or a date it would not).
_AS_READ = (CharField, TextField, IntegerField, BigIntegerField, AutoField, BigAutoField)


def _as_read(field) -> bool:
    """A column whose value is used as the database gives it (no Python conversion): text, whole numbers, and
    a foreign key to a whole-number key. An exact type: a subclass (MoneyField) converts."""
    if type(field) is ForeignKeyField:
        field = field.rel_field
    return type(field) in _AS_READ
