"""From the ledger's rows to the money rules: an account's facts, balances and whether it may pay."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from peewee import fn

from . import balances
from .models import Encounter, EncounterLine, Guarantor, Receipt, ReceiptApplication, Statement
from .money import from_cents

# Receipts whose money reached the practice; a refund shows in refunded_amount (and, for
# applications, as negative applications), so refunded receipts stay in the sums.
COUNTED_STATUSES = (Receipt.PAID, Receipt.PARTIALLY_REFUNDED, Receipt.REFUNDED)


def _cents(column) -> object:
    # SUM over the raw cents column, read back uncoerced: exact on SQLite and PostgreSQL alike.
    return fn.COALESCE(fn.SUM(column), 0).coerce(False)


def _money(cents: object) -> Decimal:
    return from_cents(int(cents))


def _pops_receipts():
    """POPS's own receipts whose money counts in POPS (not yet carried by the PM system's lines)."""
    return (
        (Receipt.source == Receipt.POPS)
        & (Receipt.imported == False)  # noqa: E712 (SQL)
        & (Receipt.posted_back == False)  # noqa: E712 (SQL)
        & Receipt.status.in_(COUNTED_STATUSES)
    )


def account_facts(guarantor: Guarantor) -> balances.AccountFacts:
    """Everything the money rules need about one account, in six aggregate queries."""
    return accounts_facts([guarantor])[guarantor.id]


_CHUNK = 500  # guarantor ids per IN (...) list, well under every database's parameter limit


def accounts_facts(guarantors: Iterable[Guarantor]) -> dict[int, balances.AccountFacts]:
    """account_facts() for many accounts at once (by guarantor id): six queries per few hundred accounts."""
    guarantors = list(guarantors)
    facts: dict[int, balances.AccountFacts] = {}
    for start in range(0, len(guarantors), _CHUNK):
        facts.update(_facts_of(guarantors[start : start + _CHUNK]))
    return facts


def _facts_of(guarantors: list[Guarantor]) -> dict[int, balances.AccountFacts]:
    ids = [g.id for g in guarantors]
    lines_total = dict(
        EncounterLine.select(EncounterLine.encounter, _cents(EncounterLine.amount))
        .join(Encounter)
        .where(Encounter.guarantor.in_(ids))
        .group_by(EncounterLine.encounter)
        .tuples()
    )
    pops_applied = dict(
        ReceiptApplication.select(ReceiptApplication.encounter, _cents(ReceiptApplication.amount))
        .join(Receipt)
        .join_from(ReceiptApplication, Encounter)
        .where(Encounter.guarantor.in_(ids) & (ReceiptApplication.source == ReceiptApplication.POPS) & _pops_receipts())
        .group_by(ReceiptApplication.encounter)
        .tuples()
    )
    encounters: dict[int, list[balances.EncounterFacts]] = defaultdict(list)
    for e in Encounter.select().where(Encounter.guarantor.in_(ids)).order_by(Encounter.date, Encounter.id):
        encounters[e.guarantor_id].append(
            balances.EncounterFacts(
                id=e.ext_id,
                date=e.date,
                lines_total=_money(lines_total.get(e.id, 0)),
                insurance_pending=e.insurance_pending,
                pops_applied=_money(pops_applied.get(e.id, 0)),
                in_collections=e.in_collections,
            )
        )
    statements: dict[int, list[balances.StatementFacts]] = defaultdict(list)
    for s in Statement.select().where(Statement.guarantor.in_(ids)).order_by(Statement.date, Statement.id):
        statements[s.guarantor_id].append(
            balances.StatementFacts(
                number=s.number, date=s.date, due_date=s.due_date, balance=s.balance, amount_due=s.amount_due
            )
        )
    # Patient payment lines are negative in the ledger; a payment received is positive here.
    payments: dict[int, list[balances.PaymentFacts]] = defaultdict(list)
    line_payments = (
        EncounterLine.select(Encounter.guarantor, EncounterLine.date, _cents(EncounterLine.amount))
        .join(Encounter)
        .where(Encounter.guarantor.in_(ids) & (EncounterLine.kind == "patient_payment"))
        .group_by(Encounter.guarantor, EncounterLine.date)
        .order_by(EncounterLine.date)
        .tuples()
    )
    for gid, day, cents in line_payments:
        payments[gid].append(balances.PaymentFacts(date=day, amount=-_money(cents)))
    pops_payments = (
        Receipt.select(Receipt.guarantor, Receipt.received_date, _cents(Receipt.amount - Receipt.refunded_amount))
        .where(Receipt.guarantor.in_(ids) & _pops_receipts())
        .group_by(Receipt.guarantor, Receipt.received_date)
        .order_by(Receipt.received_date)
        .tuples()
    )
    for gid, day, cents in pops_payments:
        payments[gid].append(balances.PaymentFacts(date=day, amount=_money(cents)))
    return {
        g.id: balances.AccountFacts(
            encounters=tuple(encounters[g.id]),
            statements=tuple(statements[g.id]),
            patient_payments=tuple(payments[g.id]),
            escrow=g.escrow,
            unapplied=g.unapplied,
        )
        for g in guarantors
    }


def balances_for(guarantor: Guarantor) -> balances.Balances:
    """The account's balances under its group's Include New Charges in Amount Due."""
    return balances.compute(
        account_facts(guarantor),
        include_new_charges=guarantor.group.include_new_charges_in_amount_due,
    )


def eligibility_for(guarantor: Guarantor, figures: balances.Balances | None = None) -> balances.Eligibility:
    """Whether the guarantor may pay online now, and if not the reason and the sentence to show.

    Pass the account's `figures` when they are already computed, to save the queries.
    """
    group = guarantor.group
    return balances.eligibility(figures or balances_for(guarantor), group.name, group.show_current_balance)
