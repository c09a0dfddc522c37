"""The first half of checking: each value's type and form, required and unknown fields; no database."""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import timezones
from ..models import is_colour
from ..money import parse_money
from .read import JSONNumber
from .result import Problem
from .spec import (
    ADDRESS,
    SMS_CONSENT,
    APPLICATION,
    APPOINTMENT,
    DOCUMENT,
    ENCOUNTER,
    FACILITY,
    FORMAT,
    GROUP,
    GUARANTOR,
    LINE,
    MAX_INTEGER,
    PATIENT,
    RECEIPT,
    STATEMENT,
    STATEMENT_ENCOUNTER,
    Field,
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
_LAST4 = re.compile(r"\d{4}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Row:
    """One object of the document: where it is, its valid fields (parsed), and its children."""

    path: str
    data: dict[str, object]
    void: bool = False
    children: dict[str, list[Row]] = field(default_factory=dict)


_BAD = object()


def at(path: str, key: str) -> str:
    return f"{path}.{key}" if _NAME.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def _what(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, JSONNumber)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {json.dumps(shown)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, JSONNumber)) and not isinstance(value, bool)


def _or(choices: Iterable[str]) -> str:
    quoted = [f'"{c}"' for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


class Checker:
    """Walks a document, collecting every problem and the parsed rows."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    # -- values

    def value(self, value: object, f: Field, path: str) -> object:
        """The parsed value, or _BAD after recording why it is not acceptable."""
        kind = f.kind
        if kind in ("money", "money+"):
            return self._money(value, path, non_negative=kind == "money+")
        if kind == "bool":
            if isinstance(value, bool):
                return value
            return self._wrong(path, "true or false", value)
        if kind == "count":
            if isinstance(value, bool) or not isinstance(value, int):
                if _is_number(value):
                    self.error(path, f"Must be a whole number, not {_what(value)}.")
                    return _BAD
                return self._wrong(path, "a whole number", value)
            if value < 1:
                self.error(path, f"Must be at least 1, not {value}.")
                return _BAD
            if value > MAX_INTEGER:
                self.error(path, f"Must be at most {MAX_INTEGER}, not {value}.")
                return _BAD
            return value
        if kind == "percent":  # a whole number from 0 to 90 (a plan's down payment; 0: none)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 90:
                self.error(path, f"Must be a whole number from 0 to 90, not {_what(value)}.")
                return _BAD
            return value
        if kind == "list":
            return value if isinstance(value, list) else self._wrong(path, "a list [...]", value)
        if kind == "object":
            return value if isinstance(value, dict) else self._wrong(path, "an object {...}", value)

        if not isinstance(value, str):
            return self._wrong(path, "text (a string in quotes)", value)
        if f.max_length is not None and len(value) > f.max_length:
            self.error(path, f"Is too long: at most {f.max_length} characters, not {len(value)}.")
            return _BAD
        if kind == "key" and not value.strip():
            self.error(path, "Must not be empty.")
            return _BAD
        if kind == "choice" and value not in f.choices:
            self.error(path, f"Must be {_or(f.choices)}, not {_what(value)}.")
            return _BAD
        if kind == "color" and not is_colour(value):
            self.error(path, f'Must be a colour written #rrggbb, like "#0b6e4f", not {_what(value)}.')
            return _BAD
        if kind == "timezone" and not timezones.is_zone(value):
            self.error(path, f'Must be a time zone name like "America/Chicago", not {_what(value)}.')
            return _BAD
        if kind == "date":
            return self._date(value, path)
        if kind == "datetime":
            return self._datetime(value, path)
        return value

    def _wrong(self, path: str, expected: str, value: object) -> object:
        self.error(path, f"Must be {expected}, not {_what(value)}.")
        return _BAD

    def _money(self, value: object, path: str, non_negative: bool) -> object:
        if _is_number(value):
            self.error(path, f'Must be a decimal string like "25.00", not a number ({value}).')
            return _BAD
        if not isinstance(value, str):
            return self._wrong(path, 'an amount written as text, like "25.00"', value)
        try:
            amount = parse_money(value)
        except ValueError:
            self.error(
                path,
                f'Must be an amount with two decimal places, like "25.00" or "-110.00", not {_what(value)}.',
            )
            return _BAD
        if non_negative and amount < 0:
            self.error(path, f"Must not be negative (it is {value}).")
            return _BAD
        return amount

    def _date(self, value: str, path: str) -> object:
        if not _DATE.fullmatch(value):
            self.error(path, f'Must be a date written YYYY-MM-DD, like "2026-09-14", not {_what(value)}.')
            return _BAD
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.error(path, f"Is not a real date: {_what(value)}.")
            return _BAD

    def _datetime(self, value: str, path: str) -> object:
        if not _DATETIME.fullmatch(value):
            self.error(
                path,
                "Must be a local date and time written YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, "
                f'like "2026-12-03T09:30:00", not {_what(value)}.',
            )
            return _BAD
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            self.error(path, f"Is not a real date and time: {_what(value)}.")
            return _BAD

    # -- objects

    def row(self, value: object, path: str, spec: dict[str, Field], what: str) -> Row | None:
        """Check one object against its fields: types, required, unknown keys (warnings)."""
        if not isinstance(value, dict):
            self._wrong(path, "an object {...}", value)
            return None
        for key in getattr(value, "repeated", ()):
            self.error(at(path, key), "Appears twice in the same object; give each field once.")
        data: dict[str, object] = {}
        for key, raw in value.items():
            if key not in spec:
                self.warn(at(path, key), f'Unknown field "{key}"; it was ignored.')
                continue
            parsed = self.value(raw, spec[key], at(path, key))
            if parsed is not _BAD:
                data[key] = parsed
        void = data.get("void") is True
        for key, f in spec.items():
            if key not in value and f.required and (f.key or not void):
                self.error(at(path, key), f'Missing: every {what} needs "{key}".')
        return Row(path, data, void)

    def rows(self, parent: Row, key: str, spec: dict[str, Field], what: str) -> list[Row]:
        rows = []
        for i, item in enumerate(parent.data.get(key) or []):
            row = self.row(item, f"{at(parent.path, key)}[{i}]", spec, what)
            if row is not None:
                rows.append(row)
        parent.children[key] = rows
        return rows

    def keys(self, parent: Row, key: str, f: Field) -> list[tuple[str, str]]:
        """A list of key strings (a statement's encounters) as (path, value)."""
        out = []
        for i, item in enumerate(parent.data.get(key) or []):
            path = f"{at(parent.path, key)}[{i}]"
            parsed = self.value(item, f, path)
            if parsed is not _BAD:
                out.append((path, parsed))
        return out


def shape(doc: object, checker: Checker) -> Row | None:
    """Check the document's shape and types; the parsed tree, with only the valid fields."""
    top = checker.row(doc, "$", DOCUMENT, "import document")
    if top is None:
        return None
    if "format" in top.data and top.data["format"] != FORMAT:
        checker.error("$.format", f'Must be "{FORMAT}", not {_what(top.data["format"])}.')
    checker.rows(top, "groups", GROUP, "group")
    for g in checker.rows(top, "guarantors", GUARANTOR, "guarantor"):
        if "address" in g.data:
            address = checker.row(g.data["address"], at(g.path, "address"), ADDRESS, "address")
            if address is not None:
                g.children["address"] = [address]
        if "sms_consent" in g.data:
            consent = checker.row(g.data["sms_consent"], at(g.path, "sms_consent"), SMS_CONSENT, "texting consent")
            if consent is not None:
                g.children["sms_consent"] = [consent]
        checker.rows(g, "patients", PATIENT, "patient")
        for e in checker.rows(g, "encounters", ENCOUNTER, "encounter"):
            if "facility" in e.data:
                facility = checker.row(e.data["facility"], at(e.path, "facility"), FACILITY, "facility")
                if facility is not None:
                    e.children["facility"] = [facility]
            for position, line in enumerate(checker.rows(e, "lines", LINE, "line"), start=1):
                # a line without an id is known by its position (1-based) in the encounter
                line.data.setdefault("id", str(position))
        for s in checker.rows(g, "statements", STATEMENT, "statement"):
            s.data["encounters"] = checker.keys(s, "encounters", STATEMENT_ENCOUNTER)
        for r in checker.rows(g, "receipts", RECEIPT, "receipt"):
            last4 = r.data.get("last4")
            if last4 and not _LAST4.fullmatch(last4):
                message = f"Must be the card's last four digits, not {_what(last4)}."
                checker.error(at(r.path, "last4"), message)
            checker.rows(r, "applications", APPLICATION, "receipt application")
        checker.rows(g, "appointments", APPOINTMENT, "appointment")
    return top
