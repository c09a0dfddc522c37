"""Import format v1 (spec/import-v1.md): check a PM system's document whole, then upsert it at once.

`validate` lists every problem of a document (errors refuse it, warnings do not); `import_document`
writes a valid document in one transaction, touching only rows whose values differ, so the same
document imported twice changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from .. import clock
from ..db import database
from ..models import (
    CONTACT_FIELDS,
    GROUP_DEFAULTS,
    LINE_KINDS,
    Appointment,
    ContactChange,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    Link,
    Patient,
    Receipt,
    ReceiptApplication,
    Statement,
    StatementEncounter,
)
from ..money import ZERO, parse_money

FORMAT = "pops-import/1"
IMPORT_RECEIPT_STATUSES = ("paid", "refunded")
IMPORT_RECEIPT_SOURCES = ("office", "mail", "pops")
RECEIPT_METHODS = ("card", "google_pay", "apple_pay", "cash", "check", "other")
APPOINTMENT_STATUSES = ("scheduled", "completed", "cancelled", "no_show")
LANDING_PAGES = ("home", "pay")
KINDS = ("groups", "guarantors", "patients", "encounters", "lines", "statements", "receipts", "appointments")
MAX_INTEGER = 2_147_483_647  # an INTEGER column on PostgreSQL
_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit
_UTC = dt.timezone.utc

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_LAST4 = re.compile(r"\d{4}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- results and problems -------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (a JSON path such as `$.guarantors[0].escrow`) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def format_problems(problems: Iterable[Problem]) -> str:
    """One problem per line, "PATH: message"."""
    return "\n".join(str(p) for p in problems)


class ImportRefused(Exception):
    """The document breaks the format; nothing was written. `.problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    voided: int = 0


@dataclass
class ImportResult:
    """What an import did, per kind of row, and what the clerk should know about."""

    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    warnings: list[Problem] = field(default_factory=list)
    # contact details the patient changed in the portal that the import did not overwrite
    contacts_kept: list[Problem] = field(default_factory=list)
    contacts_cleared: int = 0
    posted_back: list[str] = field(default_factory=list)  # POPS receipt numbers

    @property
    def changed(self) -> bool:
        return bool(
            self.contacts_cleared
            or self.posted_back
            or any(c.created or c.updated or c.voided for c in self.counts.values())
        )

    def summary(self) -> str:
        lines = []
        for kind, c in self.counts.items():
            if c.created or c.updated or c.unchanged or c.voided:
                lines.append(
                    f"{kind}: {c.created} created, {c.updated} updated, "
                    f"{c.unchanged} unchanged, {c.voided} voided"
                )
        if self.posted_back:
            lines.append(f"POPS payments posted back: {', '.join(self.posted_back)}")
        if self.contacts_cleared:
            lines.append(f"contact changes now in the PM system: {self.contacts_cleared}")
        lines.extend(f"kept: {p}" for p in self.contacts_kept)
        lines.extend(f"warning: {p}" for p in self.warnings)
        return "\n".join(lines)


# --- reading --------------------------------------------------------------------------------

class JSONNumber:
    """A JSON number with a fraction or exponent, kept as written so a message can quote it."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Object(dict):
    """A JSON object that remembers keys it carried more than once (json keeps only the last)."""

    repeated: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = []
        for key, _ in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        obj.repeated = tuple(repeated)
    return obj


def load(text: str) -> object:
    """Parse a document's JSON; numbers with a fraction stay as written (JSONNumber), never floats."""
    try:
        return json.loads(
            text,
            parse_float=JSONNumber,
            parse_constant=JSONNumber,
            object_pairs_hook=_object_pairs,
        )
    except json.JSONDecodeError as exc:
        message = f"The document is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
    except ValueError as exc:  # e.g. an integer with thousands of digits
        message = f"The document is not valid JSON: {exc}."
    except RecursionError:
        message = "The document is not valid JSON: it is nested too deeply."
    raise ImportRefused([Problem("$", message)])


def import_file(path: str | Path) -> ImportResult:
    """Read a UTF-8 JSON file and import it (see import_document)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            [Problem("$", f"The file is not UTF-8 text (a byte that is not UTF-8 at offset {exc.start}).")]
        ) from None
    return import_document(load(text))


# --- the shape of a document ----------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    kind: str  # text, key, bool, count, money, money+, date, datetime, list, object, choice, color, timezone
    required: bool = True
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    key: bool = False  # identifies the row: required even when the row is voided


def _text(model_field, required: bool = True) -> _Field:
    return _Field("text", required, getattr(model_field, "max_length", None))


def _key(model_field, required: bool = True) -> _Field:
    return _Field("key", required, model_field.max_length, key=required)


def _choice(choices: tuple[str, ...], required: bool = True) -> _Field:
    return _Field("choice", required, choices=choices)


_VOID = _Field("bool", required=False)
_REQUIRED_LIST = _Field("list")
_OPTIONAL_LIST = _Field("list", required=False)


def _group_option(name: str, default: object) -> _Field:
    if name == "brand_color":
        return _Field("color", required=False)
    if name == "timezone":
        return _Field("timezone", required=False)
    if name == "landing_page":
        return _choice(LANDING_PAGES, required=False)
    if isinstance(default, bool):
        return _Field("bool", required=False)
    if isinstance(default, int):
        return _Field("count", required=False)
    return _text(Group._meta.fields[name], required=False)


DOCUMENT = {"format": _Field("text"), "groups": _REQUIRED_LIST, "guarantors": _REQUIRED_LIST}
GROUP = {
    "code": _key(Group.code),
    "name": _text(Group.name),
    **{name: _group_option(name, default) for name, default in GROUP_DEFAULTS.items()},
}
GUARANTOR = {
    "account": _key(Guarantor.account),
    "group": _key(Group.code),
    "first_name": _text(Guarantor.first_name),
    "last_name": _text(Guarantor.last_name),
    "preferred_name": _text(Guarantor.preferred_name, required=False),
    "date_of_birth": _Field("date"),
    "email": _text(Guarantor.email, required=False),
    "mobile": _text(Guarantor.mobile, required=False),
    "sms_opt_out": _Field("bool"),
    "address": _Field("object", required=False),
    "escrow": _Field("money+"),
    "unapplied": _Field("money+"),
    "patients": _REQUIRED_LIST,
    "encounters": _REQUIRED_LIST,
    "statements": _OPTIONAL_LIST,
    "receipts": _OPTIONAL_LIST,
    "appointments": _OPTIONAL_LIST,
}
ADDRESS = {
    "line1": _text(Guarantor.address_line1),
    "line2": _text(Guarantor.address_line2, required=False),
    "city": _text(Guarantor.city),
    "state": _text(Guarantor.state),
    "zip": _text(Guarantor.zip),
}
PATIENT = {
    "id": _key(Patient.ext_id),
    "first_name": _text(Patient.first_name),
    "last_name": _text(Patient.last_name),
    "date_of_birth": _Field("date"),
}
ENCOUNTER = {
    "id": _key(Encounter.ext_id),
    "patient": _Field("key", max_length=Patient.ext_id.max_length),
    "date": _Field("date"),
    "provider": _text(Encounter.provider),
    "facility": _Field("object", required=False),
    "description": _text(Encounter.description),
    "in_collections": _Field("bool"),
    "insurance_pending": _Field("money+", required=False),
    "lines": _REQUIRED_LIST,
    "void": _VOID,
}
FACILITY = {"code": _text(Encounter.facility_code), "name": _text(Encounter.facility_name)}
LINE = {
    "id": _key(EncounterLine.ext_id, required=False),
    "kind": _choice(LINE_KINDS),
    "code": _text(EncounterLine.code, required=False),
    "description": _text(EncounterLine.description),
    "amount": _Field("money"),
    "date": _Field("date", required=False),
    "applies_to": _text(EncounterLine.applies_to, required=False),
    "provider": _text(EncounterLine.provider, required=False),
    "receipt": _text(EncounterLine.receipt_number, required=False),
    "void": _VOID,
}
STATEMENT = {
    "number": _key(Statement.number),
    "date": _Field("date"),
    "due_date": _Field("date"),
    "balance": _Field("money"),
    "amount_due": _Field("money+"),
    "encounters": _REQUIRED_LIST,
    "void": _VOID,
}
RECEIPT = {
    "number": _key(Receipt.number),
    "date": _Field("date"),
    "method": _choice(RECEIPT_METHODS),
    "card_type": _text(Receipt.card_type, required=False),
    "last4": _text(Receipt.last4, required=False),
    "amount": _Field("money+"),
    "status": _choice(IMPORT_RECEIPT_STATUSES),
    "source": _choice(IMPORT_RECEIPT_SOURCES),
    "applications": _REQUIRED_LIST,
    "void": _VOID,
}
APPLICATION = {
    "encounter": _Field("key", max_length=Encounter.ext_id.max_length),
    "line": _Field("key", max_length=EncounterLine.ext_id.max_length),
    "amount": _Field("money"),
}
APPOINTMENT = {
    "id": _key(Appointment.ext_id),
    "patient": _Field("key", max_length=Patient.ext_id.max_length),
    "at": _Field("datetime"),
    "provider": _text(Appointment.provider),
    "location": _text(Appointment.location),
    "reason": _text(Appointment.reason),
    "status": _choice(APPOINTMENT_STATUSES),
    "void": _VOID,
}


@dataclass
class _Row:
    """One object of the document: where it is, its valid fields (parsed), and its children."""

    path: str
    data: dict[str, object]
    void: bool = False
    children: dict[str, list[_Row]] = field(default_factory=dict)


_BAD = object()


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _at(path: str, key: str) -> str:
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


class _Checker:
    """Walks a document, collecting every problem and the parsed rows."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    # -- values

    def value(self, value: object, f: _Field, path: str) -> object:
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
        if kind == "color" and not _COLOR.fullmatch(value):
            self.error(path, f'Must be a colour written #rrggbb, like "#0b6e4f", not {_what(value)}.')
            return _BAD
        if kind == "timezone" and value not in _timezones():
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

    def row(self, value: object, path: str, spec: dict[str, _Field], what: str) -> _Row | None:
        """Check one object against its fields: types, required, unknown keys (warnings)."""
        if not isinstance(value, dict):
            self._wrong(path, "an object {...}", value)
            return None
        for key in getattr(value, "repeated", ()):
            self.error(_at(path, key), "Appears twice in the same object; give each field once.")
        data: dict[str, object] = {}
        for key, raw in value.items():
            if key not in spec:
                self.warn(_at(path, key), f'Unknown field "{key}"; it was ignored.')
                continue
            parsed = self.value(raw, spec[key], _at(path, key))
            if parsed is not _BAD:
                data[key] = parsed
        void = data.get("void") is True
        for key, f in spec.items():
            if key not in value and f.required and (f.key or not void):
                self.error(_at(path, key), f'Missing: every {what} needs "{key}".')
        return _Row(path, data, void)

    def rows(self, parent: _Row, key: str, spec: dict[str, _Field], what: str) -> list[_Row]:
        rows = []
        for i, item in enumerate(parent.data.get(key) or []):
            row = self.row(item, f"{_at(parent.path, key)}[{i}]", spec, what)
            if row is not None:
                rows.append(row)
        parent.children[key] = rows
        return rows

    def keys(self, parent: _Row, key: str, f: _Field) -> list[tuple[str, str]]:
        """A list of key strings (a statement's encounters) as (path, value)."""
        out = []
        for i, item in enumerate(parent.data.get(key) or []):
            path = f"{_at(parent.path, key)}[{i}]"
            parsed = self.value(item, f, path)
            if parsed is not _BAD:
                out.append((path, parsed))
        return out


def _shape(doc: object, checker: _Checker) -> _Row | None:
    """Check the document's shape and types; the parsed tree, with only the valid fields."""
    top = checker.row(doc, "$", DOCUMENT, "import document")
    if top is None:
        return None
    if "format" in top.data and top.data["format"] != FORMAT:
        checker.error("$.format", f'Must be "{FORMAT}", not {_what(top.data["format"])}.')
    checker.rows(top, "groups", GROUP, "group")
    for g in checker.rows(top, "guarantors", GUARANTOR, "guarantor"):
        if "address" in g.data:
            address = checker.row(g.data["address"], _at(g.path, "address"), ADDRESS, "address")
            if address is not None:
                g.children["address"] = [address]
        checker.rows(g, "patients", PATIENT, "patient")
        for e in checker.rows(g, "encounters", ENCOUNTER, "encounter"):
            if "facility" in e.data:
                facility = checker.row(e.data["facility"], _at(e.path, "facility"), FACILITY, "facility")
                if facility is not None:
                    e.children["facility"] = [facility]
            for position, line in enumerate(checker.rows(e, "lines", LINE, "line"), start=1):
                # a line without an id is known by its position (1-based) in the encounter
                line.data.setdefault("id", str(position))
        for s in checker.rows(g, "statements", STATEMENT, "statement"):
            s.data["encounters"] = checker.keys(
                s, "encounters", _Field("key", max_length=Encounter.ext_id.max_length)
            )
        for r in checker.rows(g, "receipts", RECEIPT, "receipt"):
            last4 = r.data.get("last4")
            if last4 and not _LAST4.fullmatch(last4):
                message = f"Must be the card's last four digits, not {_what(last4)}."
                checker.error(_at(r.path, "last4"), message)
            checker.rows(r, "applications", APPLICATION, "receipt application")
        checker.rows(g, "appointments", APPOINTMENT, "appointment")
    return top


# --- what the database already holds --------------------------------------------------------

def _chunks(values: Iterable, size: int = _CHUNK) -> Iterator[list]:
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


@dataclass
class _Known:
    """The rows a document names or references, as the database has them now."""

    groups: set[str] = field(default_factory=set)
    guarantors: dict[str, int] = field(default_factory=dict)  # account -> id
    patients: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    encounters: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    lines: dict[int, dict[str, tuple[str, str]]] = field(default_factory=lambda: defaultdict(dict))
    pops_paid_encounters: set[int] = field(default_factory=set)
    statements: dict[str, str] = field(default_factory=dict)  # number -> account
    # number -> (account, source, imported)
    receipts: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    appointments: dict[str, str] = field(default_factory=dict)  # id -> account


def _known(top: _Row) -> _Known:
    known = _Known()
    guarantors = top.children.get("guarantors", [])

    codes = {g.data["group"] for g in guarantors if "group" in g.data}
    for chunk in _chunks(codes):
        query = Group.select(Group.code).where(Group.code.in_(chunk))
        known.groups.update(code for (code,) in query.tuples())

    accounts = {g.data["account"] for g in guarantors if "account" in g.data}
    for chunk in _chunks(accounts):
        query = Guarantor.select(Guarantor.account, Guarantor.id).where(Guarantor.account.in_(chunk))
        known.guarantors.update(query.tuples())

    for chunk in _chunks(known.guarantors.values()):
        query = Patient.select(Patient.guarantor, Patient.ext_id).where(Patient.guarantor.in_(chunk))
        for gid, ext_id in query.tuples():
            known.patients[gid].add(ext_id)
        query = Encounter.select(Encounter.guarantor, Encounter.ext_id, Encounter.id)
        for gid, ext_id, eid in query.where(Encounter.guarantor.in_(chunk)).tuples():
            known.encounters[gid][ext_id] = eid
        query = (
            EncounterLine.select(
                EncounterLine.encounter, EncounterLine.ext_id, EncounterLine.kind, EncounterLine.applies_to
            )
            .join(Encounter)
            .where(Encounter.guarantor.in_(chunk))
        )
        for eid, ext_id, kind, applies_to in query.tuples():
            known.lines[eid][ext_id] = (kind, applies_to)
        query = (
            ReceiptApplication.select(ReceiptApplication.encounter)
            .join(Receipt)
            .join_from(ReceiptApplication, Encounter)
            .where(
                Encounter.guarantor.in_(chunk),
                ReceiptApplication.source == "pops",
                Receipt.source == "pops",
                Receipt.imported == False,  # noqa: E712 (SQL)
            )
            .distinct()
        )
        known.pops_paid_encounters.update(eid for (eid,) in query.tuples())

    statement_numbers, receipt_numbers, appointment_ids = set(), set(), set()
    for g in guarantors:
        statement_numbers.update(s.data["number"] for s in g.children.get("statements", []) if "number" in s.data)
        receipt_numbers.update(r.data["number"] for r in g.children.get("receipts", []) if "number" in r.data)
        appointment_ids.update(a.data["id"] for a in g.children.get("appointments", []) if "id" in a.data)
        for e in g.children.get("encounters", []):
            lines = e.children.get("lines", [])
            receipt_numbers.update(line.data["receipt"] for line in lines if line.data.get("receipt"))
    for chunk in _chunks(statement_numbers):
        query = Statement.select(Statement.number, Guarantor.account).join(Guarantor)
        known.statements.update(query.where(Statement.number.in_(chunk)).tuples())
    for chunk in _chunks(receipt_numbers):
        query = Receipt.select(Receipt.number, Guarantor.account, Receipt.source, Receipt.imported).join(Guarantor)
        for number, account, source, imported in query.where(Receipt.number.in_(chunk)).tuples():
            known.receipts[number] = (account, source, imported)
    for chunk in _chunks(appointment_ids):
        query = Appointment.select(Appointment.ext_id, Guarantor.account).join(Guarantor)
        known.appointments.update(query.where(Appointment.ext_id.in_(chunk)).tuples())
    return known


def _is_pops_own(receipt: tuple[str, str, bool] | None) -> bool:
    return receipt is not None and receipt[1] == "pops" and not receipt[2]


# --- references -----------------------------------------------------------------------------

class _References:
    """Keys unique where the spec says so; every reference resolving to a row that will exist."""

    def __init__(self, known: _Known, checker: _Checker):
        self.known = known
        self.checker = checker
        self.error = checker.error
        # document-wide keys -> the path of the row that first used them
        self.statements: dict[str, str] = {}
        self.receipts: dict[str, str] = {}
        self.appointments: dict[str, str] = {}

    def unique(self, seen: dict[str, str], value: str, path: str, label: str, where: str = "this document"):
        """Record a key's first use; an error, and False, when it was used before."""
        if value in seen:
            self.error(path, f'{label} "{value}" appears more than once in {where} (first at {seen[value]}).')
            return False
        seen[value] = path.rsplit(".", 1)[0]
        return True

    def document(self, top: _Row) -> None:
        group_codes: dict[str, str] = {}
        for g in top.children.get("groups", []):
            if "code" in g.data:
                self.unique(group_codes, g.data["code"], _at(g.path, "code"), "Group")
        accounts: dict[str, str] = {}
        for g in top.children.get("guarantors", []):
            account = g.data.get("account")
            if account is not None:
                self.unique(accounts, account, _at(g.path, "account"), "Account")
            code = g.data.get("group")
            if code is not None and code not in group_codes and code not in self.known.groups:
                self.error(_at(g.path, "group"), f'Group "{code}" is neither in this document nor in POPS.')
            _Account(self, g, account).check()


class _Account:
    """The references within one guarantor's part of the document."""

    def __init__(self, refs: _References, g: _Row, account: str | None):
        self.refs, self.g, self.account = refs, g, account
        self.known = refs.known
        self.error = refs.error
        self.gid = self.known.guarantors.get(account) if account is not None else None
        self.who = f"account {account}" if account is not None else "this guarantor"
        self.patients: set[str] = set(self.known.patients.get(self.gid, ())) if self.gid else set()
        db_encounters = self.known.encounters.get(self.gid, {}) if self.gid else {}
        self.db_encounters = db_encounters
        # each encounter's lines as they will be after the import: line id -> (kind, applies_to)
        self.lines: dict[str, dict[str, tuple[str, str]]] = {
            ext_id: dict(self.known.lines.get(eid, {})) for ext_id, eid in db_encounters.items()
        }
        self.voided: set[str] = set()
        self.repeated_lines: set[str] = set()  # paths of lines whose id an earlier line took

    def check(self) -> None:
        self.check_patients()
        encounters = self.check_encounters()
        for e in encounters:
            self.check_lines(e)
        self.check_statements()
        self.check_receipts()
        self.check_appointments()

    def check_patients(self) -> None:
        seen: dict[str, str] = {}
        for p in self.g.children.get("patients", []):
            if "id" in p.data and self.refs.unique(seen, p.data["id"], _at(p.path, "id"), "Patient"):
                self.patients.add(p.data["id"])

    def patient(self, row: _Row) -> None:
        patient = row.data.get("patient")
        if patient is not None and patient not in self.patients:
            self.error(
                _at(row.path, "patient"),
                f'Patient "{patient}" is not a patient of {self.who}, in this document or in POPS.',
            )

    def check_encounters(self) -> list[_Row]:
        """Encounters kept by the import (first of each id, not voided), with their lines recorded."""
        seen: dict[str, str] = {}
        kept = []
        for e in self.g.children.get("encounters", []):
            ext_id = e.data.get("id")
            if ext_id is None or not self.refs.unique(seen, ext_id, _at(e.path, "id"), "Encounter"):
                continue
            if e.void:
                self.voided.add(ext_id)
                self.lines.pop(ext_id, None)
                eid = self.db_encounters.get(ext_id)
                if eid is not None and eid in self.known.pops_paid_encounters:
                    self.error(
                        _at(e.path, "void"),
                        f'Encounter "{ext_id}" has payments made in POPS applied; it cannot be voided.',
                    )
                continue
            self.patient(e)
            effective = self.lines.setdefault(ext_id, {})
            line_ids: dict[str, str] = {}
            for line in e.children.get("lines", []):
                line_id = line.data["id"]
                where = f'encounter "{ext_id}"'
                if not self.refs.unique(line_ids, line_id, _at(line.path, "id"), "Line", where):
                    self.repeated_lines.add(line.path)
                elif line.void:
                    effective.pop(line_id, None)
                elif "kind" in line.data:
                    current = effective.get(line_id, ("", ""))
                    effective[line_id] = (line.data["kind"], line.data.get("applies_to", current[1]))
            kept.append(e)
        return kept

    def check_lines(self, e: _Row) -> None:
        ext_id = e.data["id"]
        effective = self.lines[ext_id]
        for line in e.children.get("lines", []):
            line_id = line.data["id"]
            if line.void or line.path in self.repeated_lines or line_id not in effective:
                continue
            kind, applies_to = effective[line_id]
            if applies_to:
                self.check_applies_to(line, ext_id, applies_to, effective)
            amount = line.data.get("amount")
            if kind == "charge" and amount is not None and amount < 0 and not applies_to:
                self.error(
                    _at(line.path, "amount"),
                    f"A charge cannot be negative ({amount}) unless it reverses another charge: "
                    'give "applies_to" naming the charge line of this encounter it reverses.',
                )
            receipt = line.data.get("receipt")
            if receipt and kind == "patient_payment":
                found = self.known.receipts.get(receipt)
                if _is_pops_own(found) and found[0] != self.account:
                    self.refs.checker.warn(
                        _at(line.path, "receipt"),
                        f'Receipt "{receipt}" is a POPS payment of account {found[0]}, not of {self.who}; '
                        "it was not marked as posted back.",
                    )

    def check_applies_to(self, line: _Row, ext_id: str, applies_to: str, effective) -> None:
        path = _at(line.path, "applies_to")
        target = effective.get(applies_to)
        if applies_to == line.data["id"]:
            self.error(path, f'Line "{applies_to}" cannot apply to itself.')
        elif target is None:
            message = f'Line "{applies_to}" is not a line of encounter "{ext_id}", in this document or in POPS.'
            self.error(path, message)
        elif target[0] != "charge":
            self.error(
                path,
                f'Line "{applies_to}" of encounter "{ext_id}" is not a charge (its kind is {target[0]}); '
                '"applies_to" names the charge line a line settles.',
            )

    def encounter(self, ext_id: str, path: str) -> bool:
        if ext_id in self.voided:
            self.error(path, f'Encounter "{ext_id}" is voided in this document, so nothing can refer to it.')
            return False
        if ext_id not in self.lines:
            message = f'Encounter "{ext_id}" is not an encounter of {self.who}, in this document or in POPS.'
            self.error(path, message)
            return False
        return True

    def numbered(self, seen: dict[str, str], row: _Row, key: str, label: str, owner: str | None) -> None:
        """A document-wide key: once in the document, and not another account's in POPS."""
        value = row.data.get(key)
        if value is None or not self.refs.unique(seen, value, _at(row.path, key), label):
            return
        if owner is not None and owner != self.account:
            self.error(_at(row.path, key), f'{label} "{value}" already belongs to account {owner} in POPS.')

    def check_statements(self) -> None:
        for s in self.g.children.get("statements", []):
            owner = self.known.statements.get(s.data.get("number"))
            self.numbered(self.refs.statements, s, "number", "Statement", owner)
            if not s.void:
                for path, ext_id in s.data.get("encounters", []):
                    self.encounter(ext_id, path)

    def check_receipts(self) -> None:
        for r in self.g.children.get("receipts", []):
            number = r.data.get("number")
            found = self.known.receipts.get(number)
            self.numbered(self.refs.receipts, r, "number", "Receipt", found[0] if found else None)
            if _is_pops_own(found) and found[0] == self.account:
                if r.void:
                    message = f'Receipt "{number}" is a payment made in POPS; an import cannot void it.'
                    self.error(_at(r.path, "void"), message)
                elif r.data.get("source", "pops") != "pops":
                    message = f'Receipt "{number}" is a payment made in POPS; its source must be "pops".'
                    self.error(_at(r.path, "source"), message)
            if r.void:
                continue
            for a in r.children.get("applications", []):
                ext_id, line_id = a.data.get("encounter"), a.data.get("line")
                if ext_id is None or not self.encounter(ext_id, _at(a.path, "encounter")):
                    continue
                if line_id is not None and line_id not in self.lines[ext_id]:
                    self.error(
                        _at(a.path, "line"),
                        f'Line "{line_id}" is not a line of encounter "{ext_id}", in this document or in POPS.',
                    )

    def check_appointments(self) -> None:
        for a in self.g.children.get("appointments", []):
            owner = self.known.appointments.get(a.data.get("id"))
            self.numbered(self.refs.appointments, a, "id", "Appointment", owner)
            if not a.void:
                self.patient(a)


def _check(doc: object) -> tuple[_Row | None, list[Problem], list[Problem]]:
    checker = _Checker()
    top = _shape(doc, checker)
    if top is not None:
        _References(_known(top), checker).document(top)
    return top, checker.errors, checker.warnings


def validate(doc: object) -> tuple[list[Problem], list[Problem]]:
    """Every problem of a document, as (errors, warnings). Reads the database, never writes."""
    _, errors, warnings = _check(doc)
    return errors, warnings


# --- writing --------------------------------------------------------------------------------

def import_document(doc: object) -> ImportResult:
    """Validate, then upsert the whole document in one transaction.

    Any error raises ImportRefused (with every problem) and writes nothing.
    """
    with database.atomic():
        top, errors, warnings = _check(doc)
        if errors:
            raise ImportRefused(errors)
        writer = _Writer(ImportResult(warnings=warnings))
        writer.document(top)
    return writer.result



class _Writer:
    """Writes a validated document; every row is compared first and written only when it differs."""

    def __init__(self, result: ImportResult):
        self.result = result
        self.groups: dict[str, Group] = {}

    def tally(self, kind: str, outcome: str) -> None:
        counts = self.result.counts[kind]
        setattr(counts, outcome, getattr(counts, outcome) + 1)

    @staticmethod
    def save(model, existing, values: dict[str, object]):
        """Create the row, or update the fields that differ; (row, "created" | "updated" | "unchanged")."""
        if existing is None:
            return model.create(**values), "created"
        # __data__ holds foreign keys as ids, which is what `values` carries
        changes = {k: v for k, v in values.items() if existing.__data__.get(k) != v}
        if not changes:
            return existing, "unchanged"
        model.update(**changes).where(model.id == existing.id).execute()
        existing.__data__.update(changes)
        return existing, "updated"

    def document(self, top: _Row) -> None:
        self.write_groups(top.children.get("groups", []))
        for g in top.children.get("guarantors", []):
            self.guarantor(g)

    # -- groups

    def write_groups(self, rows: list[_Row]) -> None:
        codes = [g.data["code"] for g in rows]
        for chunk in _chunks(codes):
            self.groups.update((g.code, g) for g in Group.select().where(Group.code.in_(chunk)))
        for row in rows:
            code = row.data["code"]
            values = {k: v for k, v in row.data.items() if k != "code"}
            current = self.groups.get(code)
            if current is None:
                values = {**GROUP_DEFAULTS, **values, "code": code}
            group, outcome = self.save(Group, current, values)
            self.groups[code] = group
            self.tally("groups", outcome)

    def group(self, code: str) -> Group:
        if code not in self.groups:
            self.groups[code] = Group.get(Group.code == code)
        return self.groups[code]

    # -- a guarantor and everything on the account

    def guarantor(self, g: _Row) -> None:
        d = g.data
        group = self.group(d["group"])
        values: dict[str, object] = {
            "account": d["account"],
            "group": group.id,
            "first_name": d["first_name"],
            "last_name": d["last_name"],
            "date_of_birth": d["date_of_birth"],
            "sms_opt_out": d["sms_opt_out"],
            "escrow": d["escrow"],
            "unapplied": d["unapplied"],
        }
        for name in CONTACT_FIELDS:
            if name in d:
                values[name] = d[name]
        if g.children.get("address"):
            # an address is replaced whole: a missing line2 clears the old one
            a = g.children["address"][0].data
            values.update(
                address_line1=a["line1"],
                address_line2=a.get("line2", ""),
                city=a["city"],
                state=a["state"],
                zip=a["zip"],
            )
        current = Guarantor.get_or_none(Guarantor.account == d["account"])
        if current is not None:
            self.contact_changes(current, values, g.path)
        guarantor, outcome = self.save(Guarantor, current, values)
        self.tally("guarantors", outcome)

        gid = guarantor.id
        patients = self.patients(gid, g.children.get("patients", []))
        encounters, posted = self.encounters(gid, patients, g.children.get("encounters", []))
        self.statements(gid, encounters, g.children.get("statements", []))
        self.receipts(gid, ZoneInfo(group.timezone), encounters, g.children.get("receipts", []))
        self.appointments(gid, patients, g.children.get("appointments", []))
        self.post_back(gid)

    def contact_changes(self, guarantor: Guarantor, values: dict[str, object], path: str) -> None:
        """A contact detail the patient changed in the portal stands until the import carries it."""
        pending: dict[str, list[ContactChange]] = defaultdict(list)
        query = (
            ContactChange.select()
            .where((ContactChange.guarantor == guarantor.id) & ContactChange.cleared_at.is_null())
            .order_by(ContactChange.changed_at, ContactChange.id)
        )
        for change in query:
            pending[change.field].append(change)
        for name, changes in pending.items():
            if name not in values:
                continue
            if _same_contact(name, values[name], changes[-1].new_value):
                ids = [c.id for c in changes]
                ContactChange.update(cleared_at=clock.now()).where(ContactChange.id.in_(ids)).execute()
                self.result.contacts_cleared += len(ids)
            else:
                incoming = values.pop(name)
                self.result.contacts_kept.append(
                    Problem(
                        _at(path, name),
                        f"Kept {json.dumps(getattr(guarantor, name))}, which the patient set in the portal; "
                        f"the import's {json.dumps(incoming)} applies once the PM system has the new value.",
                    )
                )

    def patients(self, gid: int, rows: list[_Row]) -> dict[str, int]:
        existing = {p.ext_id: p for p in Patient.select().where(Patient.guarantor == gid)}
        for row in rows:
            d = row.data
            values = {
                "guarantor": gid,
                "ext_id": d["id"],
                "first_name": d["first_name"],
                "last_name": d["last_name"],
                "date_of_birth": d["date_of_birth"],
            }
            existing[d["id"]], outcome = self.save(Patient, existing.get(d["id"]), values)
            self.tally("patients", outcome)
        return {ext_id: p.id for ext_id, p in existing.items()}

    def encounters(
        self, gid: int, patients: dict[str, int], rows: list[_Row]
    ) -> tuple[dict[str, int], set[str]]:
        """Upsert encounters and their lines: (encounter ids by key, receipts their payment lines name)."""
        existing = {e.ext_id: e for e in Encounter.select().where(Encounter.guarantor == gid)}
        named = [existing[r.data["id"]].id for r in rows if r.data["id"] in existing and not r.void]
        lines: dict[int, dict[str, EncounterLine]] = defaultdict(dict)
        for chunk in _chunks(named):
            for line in EncounterLine.select().where(EncounterLine.encounter.in_(chunk)):
                lines[line.encounter_id][line.ext_id] = line
        receipts: set[str] = set()
        for row in rows:
            d = row.data
            current = existing.get(d["id"])
            if row.void:
                if current is None:
                    self.tally("encounters", "unchanged")
                else:
                    self.void_encounter(current.id)
                    del existing[d["id"]]
                    self.tally("encounters", "voided")
                continue
            values = {
                "guarantor": gid,
                "ext_id": d["id"],
                "patient": patients[d["patient"]],
                "date": d["date"],
                "provider": d["provider"],
                "description": d["description"],
                "in_collections": d["in_collections"],
            }
            if "insurance_pending" in d:
                values["insurance_pending"] = d["insurance_pending"]
            if row.children.get("facility"):
                facility = row.children["facility"][0].data
                values.update(facility_code=facility["code"], facility_name=facility["name"])
            encounter, outcome = self.save(Encounter, current, values)
            existing[d["id"]] = encounter
            self.tally("encounters", outcome)
            receipts |= self.lines(encounter, lines[encounter.id], row.children.get("lines", []))
        return {ext_id: e.id for ext_id, e in existing.items()}, receipts

    def lines(self, encounter: Encounter, existing: dict[str, EncounterLine], rows: list[_Row]) -> set[str]:
        receipts = set()
        for row in rows:
            d = row.data
            current = existing.get(d["id"])
            if row.void:
                if current is None:
                    self.tally("lines", "unchanged")
                else:
                    EncounterLine.delete().where(EncounterLine.id == current.id).execute()
                    del existing[d["id"]]
                    self.tally("lines", "voided")
                continue
            values = {
                "encounter": encounter.id,
                "ext_id": d["id"],
                "kind": d["kind"],
                "description": d["description"],
                "amount": d["amount"],
                # a line's date and provider default to its encounter's
                "date": d.get("date", encounter.date),
                "provider": d.get("provider", encounter.provider),
            }
            optional = {"code": "code", "applies_to": "applies_to", "receipt": "receipt_number"}
            values.update((column, d[key]) for key, column in optional.items() if key in d)
            existing[d["id"]], outcome = self.save(EncounterLine, current, values)
            self.tally("lines", outcome)
            if d["kind"] == "patient_payment" and d.get("receipt"):
                receipts.add(d["receipt"])
        return receipts

    @staticmethod
    def void_encounter(encounter_id: int) -> None:
        # Validation refused voiding an encounter with POPS payments; what is left on it was imported.
        StatementEncounter.delete().where(StatementEncounter.encounter == encounter_id).execute()
        ReceiptApplication.delete().where(
            (ReceiptApplication.encounter == encounter_id) & (ReceiptApplication.source == "import")
        ).execute()
        EncounterLine.delete().where(EncounterLine.encounter == encounter_id).execute()
        Encounter.delete().where(Encounter.id == encounter_id).execute()

    def statements(self, gid: int, encounters: dict[str, int], rows: list[_Row]) -> None:
        existing: dict[str, Statement] = {}
        for chunk in _chunks([r.data["number"] for r in rows]):
            existing.update((s.number, s) for s in Statement.select().where(Statement.number.in_(chunk)))
        listed: dict[int, set[int]] = defaultdict(set)
        for chunk in _chunks([s.id for s in existing.values()]):
            query = StatementEncounter.select(StatementEncounter.statement, StatementEncounter.encounter)
            for sid, eid in query.where(StatementEncounter.statement.in_(chunk)).tuples():
                listed[sid].add(eid)
        for row in rows:
            d = row.data
            current = existing.get(d["number"])
            if row.void:
                if current is None:
                    self.tally("statements", "unchanged")
                else:
                    Link.update(statement=None).where(Link.statement == current.id).execute()
                    StatementEncounter.delete().where(StatementEncounter.statement == current.id).execute()
                    Statement.delete().where(Statement.id == current.id).execute()
                    self.tally("statements", "voided")
                continue
            values = {
                "guarantor": gid,
                "number": d["number"],
                "date": d["date"],
                "due_date": d["due_date"],
                "balance": d["balance"],
                "amount_due": d["amount_due"],
            }
            statement, outcome = self.save(Statement, current, values)
            wanted = {encounters[ext_id] for _, ext_id in d["encounters"]}
            have = listed.get(statement.id, set())
            if wanted != have:
                if have - wanted:
                    StatementEncounter.delete().where(
                        (StatementEncounter.statement == statement.id)
                        & StatementEncounter.encounter.in_(list(have - wanted))
                    ).execute()
                if wanted - have:
                    StatementEncounter.insert_many(
                        [{"statement": statement.id, "encounter": eid} for eid in sorted(wanted - have)]
                    ).execute()
                outcome = "updated" if outcome == "unchanged" else outcome
            self.tally("statements", outcome)

    def receipts(self, gid: int, tz: ZoneInfo, encounters: dict[str, int], rows: list[_Row]) -> None:
        existing: dict[str, Receipt] = {}
        for chunk in _chunks([r.data["number"] for r in rows]):
            existing.update((r.number, r) for r in Receipt.select().where(Receipt.number.in_(chunk)))
        applied: dict[int, list[tuple[int, str, Decimal]]] = defaultdict(list)
        for chunk in _chunks([r.id for r in existing.values() if r.imported]):
            query = ReceiptApplication.select().where(
                ReceiptApplication.receipt.in_(chunk) & (ReceiptApplication.source == "import")
            )
            for a in query:
                applied[a.receipt_id].append((a.encounter_id, a.line_ext_id, a.amount))
        for row in rows:
            d = row.data
            current = existing.get(d["number"])
            if current is not None and current.source == "pops" and not current.imported:
                # POPS's own payment listed back: receipts[] never change a balance; only the PM
                # system's patient_payment lines that name it take it over (post_back below).
                self.tally("receipts", "unchanged")
                continue
            if row.void:
                if current is None:
                    self.tally("receipts", "unchanged")
                else:
                    ReceiptApplication.delete().where(ReceiptApplication.receipt == current.id).execute()
                    Receipt.delete().where(Receipt.id == current.id).execute()
                    self.tally("receipts", "voided")
                continue
            values = {
                "number": d["number"],
                "guarantor": gid,
                "source": d["source"],
                "received_date": d["date"],
                # the practice's midnight of that date, as an instant
                "received_at": dt.datetime.combine(d["date"], dt.time(), tzinfo=tz).astimezone(_UTC),
                "method": d["method"],
                "amount": d["amount"],
                "status": d["status"],
                "refunded_amount": d["amount"] if d["status"] == "refunded" else ZERO,
                "imported": True,
            }
            for key in ("card_type", "last4"):
                if key in d:
                    values[key] = d[key]
            receipt, outcome = self.save(Receipt, current, values)
            wanted = sorted(
                (encounters[a.data["encounter"]], a.data["line"], a.data["amount"])
                for a in row.children.get("applications", [])
            )
            if wanted != sorted(applied.get(receipt.id, [])):
                ReceiptApplication.delete().where(
                    (ReceiptApplication.receipt == receipt.id) & (ReceiptApplication.source == "import")
                ).execute()
                if wanted:
                    ReceiptApplication.insert_many(
                        [
                            {
                                "receipt": receipt.id,
                                "encounter": eid,
                                "line_ext_id": line,
                                "amount": amount,
                                "source": "import",
                            }
                            for eid, line, amount in wanted
                        ]
                    ).execute()
                outcome = "updated" if outcome == "unchanged" else outcome
            self.tally("receipts", outcome)

    def appointments(self, gid: int, patients: dict[str, int], rows: list[_Row]) -> None:
        existing: dict[str, Appointment] = {}
        for chunk in _chunks([r.data["id"] for r in rows]):
            existing.update((a.ext_id, a) for a in Appointment.select().where(Appointment.ext_id.in_(chunk)))
        for row in rows:
            d = row.data
            current = existing.get(d["id"])
            if row.void:
                if current is None:
                    self.tally("appointments", "unchanged")
                else:
                    Appointment.delete().where(Appointment.id == current.id).execute()
                    self.tally("appointments", "voided")
                continue
            values = {
                "guarantor": gid,
                "ext_id": d["id"],
                "patient": patients[d["patient"]],
                "at": d["at"],
                "provider": d["provider"],
                "location": d["location"],
                "reason": d["reason"],
                "status": d["status"],
            }
            _, outcome = self.save(Appointment, current, values)
            self.tally("appointments", outcome)

    def post_back(self, gid: int) -> None:
        """POPS payments the PM system's patient_payment lines carry are counted there, once.

        Worked out again from the lines as they now stand (not only the ones this document
        names), so a line the PM system voids gives the payment back to POPS.
        """
        carried = {
            number for (number,) in EncounterLine.select(EncounterLine.receipt_number).join(Encounter)
            .where((Encounter.guarantor == gid) & (EncounterLine.kind == "patient_payment")
                   & (EncounterLine.receipt_number != "")).distinct().tuples()
        }
        own = Receipt.select(Receipt.id, Receipt.number, Receipt.posted_back).where(
            (Receipt.guarantor == gid) & (Receipt.source == "pops") & (Receipt.imported == False)  # noqa: E712 (SQL)
        )
        for rid, number, was in own.tuples():
            now = number in carried
            if now != was:
                Receipt.update(posted_back=now).where(Receipt.id == rid).execute()
                if now:
                    self.result.posted_back.append(number)


def _same_contact(field: str, incoming: object, changed: str) -> bool:
    """Whether the PM system now has the patient's new value, however it writes it:
    "(555) 555-0199" is "+15555550199", and an email's case does not matter."""
    incoming = "" if incoming is None else str(incoming)
    if field == "mobile":
        from ..otp import normalize_mobile

        return (normalize_mobile(incoming) or incoming) == (normalize_mobile(changed) or changed)
    if field == "email":
        return incoming.strip().casefold() == changed.strip().casefold()
    return " ".join(incoming.split()) == " ".join(changed.split())
