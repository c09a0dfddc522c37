"""From the ledger's rows to the money rules: an account's facts, balances and whether it may pay."""
from __future__ import annotations

from decimal import Decimal

from peewee import fn

from . import balances
from .models import Encounter, EncounterLine, Guarantor, Receipt, ReceiptApplication, Statement
from .money import from_cents

# Receipts whose money reached the practice; a refund shows in refunded_amount (and, for
# applications, as negative applications), so refunded receipts stay in the sums.
COUNTED_STATUSES = ("paid", "partially_refunded", "refunded")


def _cents(column) -> object:
    # SUM over the raw cents column, read back uncoerced: exact on SQLite and PostgreSQL alike.
    return fn.COALESCE(fn.SUM(column), 0).coerce(False)


def _money(cents: object) -> Decimal:
    return from_cents(int(cents))


def _pops_receipts():
    """POPS's own receipts whose money counts in POPS (not yet carried by the PM system's lines)."""
    return (
        (Receipt.source == "pops")
        & (Receipt.imported == False)  # noqa: E712 (SQL)
        & (Receipt.posted_back == False)  # noqa: E712 (SQL)
        & Receipt.status.in_(COUNTED_STATUSES)
    )


def account_facts(guarantor: Guarantor) -> balances.AccountFacts:
    """Everything the money rules need about one account, in five aggregate queries."""
    gid = guarantor.id
    lines_total = dict(
        EncounterLine.select(EncounterLine.encounter, _cents(EncounterLine.amount))
        .join(Encounter)
        .where(Encounter.guarantor == gid)
        .group_by(EncounterLine.encounter)
        .tuples()
    )
    pops_applied = dict(
        ReceiptApplication.select(ReceiptApplication.encounter, _cents(ReceiptApplication.amount))
        .join(Receipt)
        .join_from(ReceiptApplication, Encounter)
        .where((Encounter.guarantor == gid) & (ReceiptApplication.source == "pops") & _pops_receipts())
        .group_by(ReceiptApplication.encounter)
        .tuples()
    )
    encounters = tuple(
        balances.EncounterFacts(
            id=e.ext_id,
            date=e.date,
            lines_total=_money(lines_total.get(e.id, 0)),
            insurance_pending=e.insurance_pending,
            pops_applied=_money(pops_applied.get(e.id, 0)),
            in_collections=e.in_collections,
        )
        for e in Encounter.select().where(Encounter.guarantor == gid).order_by(Encounter.date, Encounter.id)
    )
    statements = tuple(
        balances.StatementFacts(
            number=s.number, date=s.date, due_date=s.due_date, balance=s.balance, amount_due=s.amount_due
        )
        for s in Statement.select().where(Statement.guarantor == gid).order_by(Statement.date, Statement.id)
    )
    # Patient payment lines are negative in the ledger; a payment received is positive here.
    line_payments = (
        EncounterLine.select(EncounterLine.date, _cents(EncounterLine.amount))
        .join(Encounter)
        .where((Encounter.guarantor == gid) & (EncounterLine.kind == "patient_payment"))
        .group_by(EncounterLine.date)
        .order_by(EncounterLine.date)
        .tuples()
    )
    pops_payments = (
        Receipt.select(Receipt.received_date, _cents(Receipt.amount - Receipt.refunded_amount))
        .where((Receipt.guarantor == gid) & _pops_receipts())
        .group_by(Receipt.received_date)
        .order_by(Receipt.received_date)
        .tuples()
    )
    payments = tuple(balances.PaymentFacts(date=day, amount=-_money(cents)) for day, cents in line_payments)
    payments += tuple(balances.PaymentFacts(date=day, amount=_money(cents)) for day, cents in pops_payments)
    return balances.AccountFacts(
        encounters=encounters,
        statements=statements,
        patient_payments=payments,
        escrow=guarantor.escrow,
        unapplied=guarantor.unapplied,
    )


def balances_for(guarantor: Guarantor) -> balances.Balances:
    """The account's balances under its group's Include New Charges in Amount Due."""
    return balances.compute(
        account_facts(guarantor),
        include_new_charges=guarantor.group.include_new_charges_in_amount_due,
    )


def eligibility_for(guarantor: Guarantor) -> balances.Eligibility:
    """Whether the guarantor may pay online now, and if not the reason and the sentence to show."""
    return balances.eligibility(balances_for(guarantor), guarantor.group.name)
