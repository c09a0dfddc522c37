"""What the database already holds of the rows a document names, read in a few large queries."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..models import (
    Appointment,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    Patient,
    Receipt,
    ReceiptApplication,
    Statement,
)
from .shape import Row

_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit


def chunks(values: Iterable, size: int = _CHUNK) -> Iterator[list]:
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


@dataclass
class Known:
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


def known_rows(top: Row) -> Known:
    """What the database holds of every row the document names or references (reads, never writes)."""
    known = Known()
    guarantors = top.children.get("guarantors", [])

    codes = {g.data["group"] for g in guarantors if "group" in g.data}
    for chunk in chunks(codes):
        query = Group.select(Group.code).where(Group.code.in_(chunk))
        known.groups.update(code for (code,) in query.tuples())

    accounts = {g.data["account"] for g in guarantors if "account" in g.data}
    for chunk in chunks(accounts):
        query = Guarantor.select(Guarantor.account, Guarantor.id).where(Guarantor.account.in_(chunk))
        known.guarantors.update(query.tuples())

    for chunk in chunks(known.guarantors.values()):
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
    for chunk in chunks(statement_numbers):
        query = Statement.select(Statement.number, Guarantor.account).join(Guarantor)
        known.statements.update(query.where(Statement.number.in_(chunk)).tuples())
    for chunk in chunks(receipt_numbers):
        query = Receipt.select(Receipt.number, Guarantor.account, Receipt.source, Receipt.imported).join(Guarantor)
        for number, account, source, imported in query.where(Receipt.number.in_(chunk)).tuples():
            known.receipts[number] = (account, source, imported)
    for chunk in chunks(appointment_ids):
        query = Appointment.select(Appointment.ext_id, Guarantor.account).join(Guarantor)
        known.appointments.update(query.where(Appointment.ext_id.in_(chunk)).tuples())
    return known
