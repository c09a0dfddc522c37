"""The fields of each object in an import document (docs/import-v1.md), sized to the columns they fill."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..i18n import LANGUAGES
from ..models import (
    GROUP_DEFAULTS,
    LINE_KINDS,
    Appointment,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    Patient,
    Receipt,
    Statement,
)

FORMAT = "pops-import/1"
IMPORT_RECEIPT_STATUSES = ("paid", "refunded")
IMPORT_RECEIPT_SOURCES = ("office", "mail", "pops")
RECEIPT_METHODS = ("card", "google_pay", "apple_pay", "cash", "check", "other")
APPOINTMENT_STATUSES = ("scheduled", "completed", "cancelled", "no_show")
LANDING_PAGES = ("home", "pay")
MAX_INTEGER = 2_147_483_647  # an INTEGER column on PostgreSQL


@dataclass(frozen=True)
class Field:
    """How one field of an object is checked."""

    kind: str  # text, key, bool, count, percent, money, money+, date, datetime, list, object, choice, color, timezone
    required: bool = True
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    key: bool = False  # identifies the row: required even when the row is voided


def _text(model_field, required: bool = True) -> Field:
    return Field("text", required, getattr(model_field, "max_length", None))


def _key(model_field, required: bool = True) -> Field:
    return Field("key", required, model_field.max_length, key=required)


def _choice(choices: tuple[str, ...], required: bool = True) -> Field:
    return Field("choice", required, choices=choices)


_VOID = Field("bool", required=False)
_REQUIRED_LIST = Field("list")
_OPTIONAL_LIST = Field("list", required=False)


def _group_option(name: str, default: object) -> Field:
    if name == "brand_color":
        return Field("color", required=False)
    if name == "timezone":
        return Field("timezone", required=False)
    if name == "landing_page":
        return _choice(LANDING_PAGES, required=False)
    if isinstance(default, bool):
        return Field("bool", required=False)
    if isinstance(default, Decimal):
        return Field("money+", required=False)
    if name == "plan_down_payment_percent":
        return Field("percent", required=False)
    if isinstance(default, int):
        return Field("count", required=False)
    return _text(Group._meta.fields[name], required=False)


DOCUMENT = {"format": Field("text"), "groups": _REQUIRED_LIST, "guarantors": _REQUIRED_LIST}
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
    "date_of_birth": Field("date"),
    "email": _text(Guarantor.email, required=False),
    "mobile": _text(Guarantor.mobile, required=False),
    "sms_opt_out": Field("bool"),
    "language": _choice(LANGUAGES, required=False),  # what POPS writes to them in; left out: unchanged
    "address": Field("object", required=False),
    "sms_consent": Field("object", required=False),  # {at, how}: the patient's consent to texts (issue 16)
    "escrow": Field("money+"),
    "unapplied": Field("money+"),
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
SMS_CONSENT = {
    "at": Field("datetime"),  # the practice's local time, as the PM system gives it
    "how": Field("text", max_length=50),  # e.g. "paper form at registration"
}
PATIENT = {
    "id": _key(Patient.ext_id),
    "first_name": _text(Patient.first_name),
    "last_name": _text(Patient.last_name),
    "date_of_birth": Field("date"),
}
ENCOUNTER = {
    "id": _key(Encounter.ext_id),
    "patient": Field("key", max_length=Patient.ext_id.max_length),
    "date": Field("date"),
    "provider": _text(Encounter.provider),
    "facility": Field("object", required=False),
    "description": _text(Encounter.description),
    "in_collections": Field("bool"),
    "insurance_pending": Field("money+", required=False),
    "lines": _REQUIRED_LIST,
    "void": _VOID,
}
FACILITY = {"code": _text(Encounter.facility_code), "name": _text(Encounter.facility_name)}
LINE = {
    "id": _key(EncounterLine.ext_id, required=False),
    "kind": _choice(LINE_KINDS),
    "code": _text(EncounterLine.code, required=False),
    "description": _text(EncounterLine.description),
    "amount": Field("money"),
    "date": Field("date", required=False),
    "applies_to": _text(EncounterLine.applies_to, required=False),
    "provider": _text(EncounterLine.provider, required=False),
    "receipt": _text(EncounterLine.receipt_number, required=False),
    "void": _VOID,
}
STATEMENT = {
    "number": _key(Statement.number),
    "date": Field("date"),
    "due_date": Field("date"),
    "balance": Field("money"),
    "amount_due": Field("money+"),
    "encounters": _REQUIRED_LIST,
    "void": _VOID,
}
STATEMENT_ENCOUNTER = Field("key", max_length=Encounter.ext_id.max_length)  # each of a statement's "encounters"
RECEIPT = {
    "number": _key(Receipt.number),
    "date": Field("date"),
    "method": _choice(RECEIPT_METHODS),
    "card_type": _text(Receipt.card_type, required=False),
    "last4": _text(Receipt.last4, required=False),
    "amount": Field("money+"),
    "status": _choice(IMPORT_RECEIPT_STATUSES),
    "source": _choice(IMPORT_RECEIPT_SOURCES),
    "applications": _REQUIRED_LIST,
    "void": _VOID,
}
APPLICATION = {
    "encounter": Field("key", max_length=Encounter.ext_id.max_length),
    "line": Field("key", max_length=EncounterLine.ext_id.max_length),
    "amount": Field("money"),
}
APPOINTMENT = {
    "id": _key(Appointment.ext_id),
    "patient": Field("key", max_length=Patient.ext_id.max_length),
    "at": Field("datetime"),
    "provider": _text(Appointment.provider),
    "location": _text(Appointment.location),
    "reason": _text(Appointment.reason),
    "status": _choice(APPOINTMENT_STATUSES),
    "void": _VOID,
}
