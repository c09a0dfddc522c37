"""What the portal's pages show about one account: visits line by line, statements, receipts, appointments.

Every function takes the guarantor, so ownership is decided here and nowhere else:
`get_statement(number, guarantor)` and `get_receipt(number, guarantor)` are the only way in.
Each page's figures come from a fixed handful of aggregate queries, however long the ledger.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from . import balances, clock, db, ledger
from .models import (
    Appointment,
    Encounter,
    EncounterLine,
    Guarantor,
    Patient,
    PatientSession,
    Receipt,
    ReceiptApplication,
    Statement,
    StatementEncounter,
    Transaction,
)
from .money import ZERO, quantize

# Which column of the Account page each kind of ledger line settles a charge in.
COLUMN_OF_KIND = {"adjustment": "adjusted", "insurance_payment": "insurance_paid", "patient_payment": "patient_paid"}


# --- visits, line by line -----------------------------------------------------------------

@dataclass
class ServiceLine:
    """One charge on a visit and what settled it; amounts that reduce a charge are positive."""

    service_date: dt.date
    service_id: str
    code: str
    description: str
    billed: Decimal = ZERO
    adjusted: Decimal = ZERO
    insurance_paid: Decimal = ZERO
    patient_paid: Decimal = ZERO
    insurance_pending: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return quantize(self.billed - self.adjusted - self.insurance_paid - self.patient_paid - self.insurance_pending)

    def add(self, column: str, amount: Decimal) -> None:
        setattr(self, column, quantize(getattr(self, column) + amount))


@dataclass
class Visit:
    encounter: Encounter  # with .patient loaded
    lines: list[ServiceLine]
    insurance_pending: Decimal
    balance: Decimal  # the encounter's patient balance, as the money rules count it

    @property
    def is_open(self) -> bool:
        return self.balance > 0


@dataclass
class VisitGroup:
    """Visits at one facility, with one provider, for one patient (the Account page's grouping)."""

    facility: str
    provider: str
    patient: str
    visits: list[Visit] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return quantize(sum((v.balance for v in self.visits), ZERO))


@dataclass
class AccountDetail:
    balances: balances.Balances
    since_last_statement: list[VisitGroup]
    history: list[VisitGroup]
    history_all: bool
    history_paid_hidden: int  # visits left out of the history because nothing is owed on them
    collections: list[Visit]
    plan: ledger.PlanSummary | None = None  # the live payment plan, read with the account


def _spread(rows: list[ServiceLine], column: str, amount: Decimal) -> None:
    """Settle an amount that names no charge: oldest charges first, each up to what it still owes."""
    if amount <= 0:
        rows[0].add(column, amount)
        return
    for row in rows:
        take = min(amount, max(row.remaining, ZERO))
        if take > 0:
            row.add(column, take)
            amount -= take
        if amount <= 0:
            return
    rows[-1].add(column, amount)


def _visit(encounter: Encounter, lines: list[EncounterLine], pops_applied: dict[str, Decimal]) -> Visit:
    """One encounter's charges with their adjustments, insurance and patient payments beside them.

    A line's `applies_to` places it on its charge; a line or POPS payment that names no charge
    settles the oldest charges first, and so does the insurance still pending. The lines'
    remaining balances add up to the encounter's patient balance.
    """
    charges = [line for line in lines if line.kind == "charge"]
    rows: dict[str, ServiceLine] = {
        line.ext_id: ServiceLine(line.date, f"{encounter.ext_id}-{line.ext_id}", line.code, line.description,
                                 billed=line.amount)
        for line in charges
    }
    ordered = list(rows.values()) or [
        ServiceLine(encounter.date, encounter.ext_id, "", encounter.description)
    ]
    unplaced: list[tuple[str, Decimal]] = []
    for line in lines:
        column = COLUMN_OF_KIND.get(line.kind)
        if column is None:
            continue
        # Payments and adjustments are negative in the ledger; shown as what they took off.
        target = rows.get(line.applies_to) if line.applies_to else None
        if target is not None:
            target.add(column, -line.amount)
        else:
            unplaced.append((column, -line.amount))
    for line_ext_id, amount in sorted(pops_applied.items()):
        target = rows.get(line_ext_id) if line_ext_id else None
        if target is not None:
            target.add("patient_paid", amount)
        else:
            unplaced.append(("patient_paid", amount))
    for column, amount in unplaced:
        _spread(ordered, column, amount)
    if encounter.insurance_pending:
        _spread(ordered, "insurance_pending", encounter.insurance_pending)
    balance = quantize(sum((line.amount for line in lines), ZERO) - encounter.insurance_pending
                       - sum(pops_applied.values(), ZERO))
    return Visit(encounter, ordered, encounter.insurance_pending, balance)


@functools.cache
def _visits_sql() -> str:
    """The guarantor's encounters with their patient and their lines (oldest line first): one statement."""
    return (
        f"SELECT {Encounter.columns('e')}, {Patient.columns('p')}, {EncounterLine.columns('l')}"
        ' FROM "encounter" AS e JOIN "patient" AS p ON p."id" = e."patient_id"'
        ' LEFT JOIN "encounter_line" AS l ON l."encounter_id" = e."id"'
        ' WHERE e."guarantor_id" = ? ORDER BY l."date", l."id"'
    )


def visits(guarantor: Guarantor, account: ledger.Account | None = None) -> list[Visit]:
    """The guarantor's visits, newest first: one statement (and one more without the `account` read already)."""
    applied = (account or ledger.read_account(guarantor)).applied
    encounters: dict[int, Encounter] = {}
    lines: dict[int, list[EncounterLine]] = defaultdict(list)
    patient_at = len(Encounter._meta.sorted_fields)
    line_at = patient_at + len(Patient._meta.sorted_fields)
    for row in db.execute(_visits_sql(), (guarantor.id,)):
        encounter_id = row[0]
        if encounter_id not in encounters:
            encounter = Encounter.from_row(row)
            encounter.patient = Patient.from_row(row, patient_at)
            encounter._dirty.clear()
            encounters[encounter_id] = encounter
        if row[line_at] is not None:
            line = EncounterLine.from_row(row, line_at)
            line.encounter = encounters[encounter_id]
            line._dirty.clear()
            lines[encounter_id].append(line)
    found = [_visit(e, lines[e.id], applied.get(e.id, {})) for e in encounters.values()]
    found.sort(key=lambda v: (v.encounter.date, v.encounter.id), reverse=True)
    return found


def group_visits(found: list[Visit]) -> list[VisitGroup]:
    """Visits by facility + provider + patient; the group with the latest visit first."""
    groups: dict[tuple, VisitGroup] = {}
    for visit in found:  # newest first, so groups come out in order of their latest visit
        e = visit.encounter
        key = (e.facility_code, e.facility_name, e.provider, e.patient_id)
        if key not in groups:
            groups[key] = VisitGroup(e.facility_name or e.facility_code, e.provider, e.patient.full_name)
        groups[key].visits.append(visit)
    return list(groups.values())


def account_detail(guarantor: Guarantor, *, history_all: bool = False) -> AccountDetail:
    """The Account page: balances, visits since the last statement, the visit history, collections.

    The history holds the visits up to the last statement: only those with a balance unless
    `history_all`. Visits in collections are kept apart (the page shows them only when the
    group's Show Collections is on).
    """
    account = ledger.read_account(guarantor)
    figures = ledger.balances_for(guarantor, account)
    found = visits(guarantor, account)
    last = figures.last_statement
    collections = [v for v in found if v.encounter.in_collections]
    active = [v for v in found if not v.encounter.in_collections]
    since = [v for v in active if last is None or v.encounter.date > last.date]
    before = [v for v in active if last is not None and v.encounter.date <= last.date]
    shown = before if history_all else [v for v in before if v.is_open]
    return AccountDetail(
        balances=figures,
        since_last_statement=group_visits(since),
        history=group_visits(shown),
        history_all=history_all,
        history_paid_hidden=len(before) - len(shown),
        collections=[v for v in collections if v.is_open],
        plan=account.plan,
    )


# --- statements ---------------------------------------------------------------------------

def statement_facts(statement: Statement) -> balances.StatementFacts:
    """A statement as the money rules see it."""
    return balances.StatementFacts(statement.number, statement.date, statement.due_date, statement.balance,
                                   statement.amount_due)


def latest_statement(guarantor: Guarantor) -> Statement | None:
    """The most recent statement (the money rules' choice: by date, numbers compared naturally)."""
    found = list(Statement.select().where(Statement.guarantor == guarantor.id))
    last = balances.last_statement(statement_facts(s) for s in found)
    return next((s for s in found if last and s.number == last.number), None)


def get_statement(number: str, guarantor: Guarantor) -> Statement | None:
    """The guarantor's statement with this number; None for anyone else's (or none at all)."""
    return Statement.get_or_none((Statement.number == number) & (Statement.guarantor == guarantor.id))


@dataclass
class StatementVisit:
    encounter: Encounter
    lines: list[EncounterLine]

    @property
    def total(self) -> Decimal:
        return quantize(sum((line.amount for line in self.lines), ZERO))


@dataclass
class StatementDetail:
    statement: Statement
    paid: bool
    visits: list[StatementVisit]


def statement_detail(statement: Statement) -> StatementDetail:
    """A statement and its encounters with their lines as they stood on the statement's date."""
    encounters = list(
        Encounter.select(Encounter, Patient)
        .join(StatementEncounter, on=(StatementEncounter.encounter == Encounter.id))
        .join_from(Encounter, Patient)
        .where(StatementEncounter.statement == statement.id)
        .order_by(Encounter.date, Encounter.id)
    )
    lines: dict[int, list[EncounterLine]] = defaultdict(list)
    if encounters:
        query = (
            EncounterLine.select()
            .where(EncounterLine.encounter.in_([e.id for e in encounters]) & (EncounterLine.date <= statement.date))
            .order_by(EncounterLine.date, EncounterLine.id)
        )
        for line in query:
            lines[line.encounter_id].append(line)
    payments = ledger.account_facts(statement.guarantor).patient_payments
    return StatementDetail(
        statement=statement,
        paid=balances.statement_is_paid(statement_facts(statement), payments),
        visits=[StatementVisit(e, lines[e.id]) for e in encounters],
    )


def mark_viewed(statement: Statement, session: PatientSession) -> bool:
    """Record the patient's first opening of a statement; a staff mirror never counts. True if this was it."""
    if session.staff_id is not None or statement.first_viewed_at is not None:
        return False
    now = clock.now()
    rows = Statement.update(first_viewed_at=now).where(
        (Statement.id == statement.id) & Statement.first_viewed_at.is_null()
    ).execute()
    if rows:
        statement.first_viewed_at = now
    return bool(rows)


# --- receipts -----------------------------------------------------------------------------

def get_receipt(number: str, guarantor: Guarantor) -> Receipt | None:
    """The guarantor's receipt with this number; None for anyone else's (or none at all)."""
    return Receipt.get_or_none((Receipt.number == number) & (Receipt.guarantor == guarantor.id))


@dataclass
class ReceiptItem:
    """Where part of a receipt went: the patient, provider, location and service it paid for."""

    patient: str
    provider: str
    location: str
    service: str
    service_date: dt.date
    service_id: str
    amount: Decimal


@dataclass
class ReceiptDetail:
    receipt: Receipt
    items: list[ReceiptItem]
    transactions: list[Transaction]


def receipt_detail(receipt: Receipt) -> ReceiptDetail:
    """A receipt's applications to encounters (net of refunds, per line) and its gateway transactions."""
    applied: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    encounters: dict[int, Encounter] = {}
    query = (
        ReceiptApplication.select(ReceiptApplication, Encounter, Patient)
        .join(Encounter).join(Patient)
        .where(ReceiptApplication.receipt == receipt.id)
        .order_by(ReceiptApplication.id)
    )
    if receipt.source == Receipt.POPS and receipt.posted_back:
        # The PM system's lines carry this POPS payment now, and its application replaces POPS's.
        lines = (
            EncounterLine.select(EncounterLine, Encounter, Patient)
            .join(Encounter).join(Patient)
            .where((EncounterLine.receipt_number == receipt.number) & (EncounterLine.kind == "patient_payment")
                   & (Encounter.guarantor == receipt.guarantor_id))
            .order_by(EncounterLine.id)
        )
        for line in lines:
            if line.amount < 0:
                applied[(line.encounter_id, line.applies_to)] += -line.amount
            encounters[line.encounter_id] = line.encounter
        query = []
    for a in query:
        # A refund is a negative application; what the receipt paid for is the positive part.
        if a.amount > 0:
            applied[(a.encounter_id, a.line_ext_id)] += a.amount
        encounters[a.encounter_id] = a.encounter
    named_lines = {
        (line.encounter_id, line.ext_id): line
        for line in EncounterLine.select().where(EncounterLine.encounter.in_(list(encounters) or [0]))
    }
    items = []
    for (encounter_id, line_ext_id), amount in applied.items():
        e = encounters[encounter_id]
        line = named_lines.get((encounter_id, line_ext_id)) if line_ext_id else None
        items.append(ReceiptItem(
            patient=e.patient.full_name,
            provider=(line.provider if line and line.provider else e.provider),
            location=e.facility_name or e.facility_code,
            service=(line.description if line else e.description),
            service_date=(line.date if line else e.date),
            service_id=(f"{e.ext_id}-{line.ext_id}" if line else e.ext_id),
            amount=quantize(amount),
        ))
    items.sort(key=lambda i: (i.service_date, i.service_id))
    transactions = list(
        Transaction.select().where(Transaction.receipt == receipt.id).order_by(Transaction.created_at, Transaction.id)
    )
    return ReceiptDetail(receipt, items, transactions)


# --- appointments -------------------------------------------------------------------------

@dataclass
class Appointments:
    patients: list[Patient]
    patient: Patient | None  # the one chosen, or None for every patient
    upcoming: list[Appointment]
    past: list[Appointment]


def appointments_for(guarantor: Guarantor, patient_id: int | None = None) -> Appointments:
    """Upcoming (soonest first) and past (latest first) appointments, for one patient or all.

    Appointment times are the practice's local time, so "now" is read in the group's time zone.
    A patient id that is not one of the guarantor's means every patient.
    """
    patients = list(Patient.select().where(Patient.guarantor == guarantor.id).order_by(Patient.first_name, Patient.id))
    chosen = next((p for p in patients if p.id == patient_id), None)
    query = Appointment.select(Appointment, Patient).join(Patient).where(Appointment.guarantor == guarantor.id)
    if chosen is not None:
        query = query.where(Appointment.patient == chosen.id)
    now = clock.local_now(guarantor.group.timezone).replace(tzinfo=None)
    found = list(query.order_by(Appointment.at, Appointment.id))
    return Appointments(
        patients=patients,
        patient=chosen,
        upcoming=[a for a in found if a.at >= now],
        past=[a for a in reversed(found) if a.at < now],
    )
