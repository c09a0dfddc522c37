"""The portal's long lists a page at a time, and the one rule for a "New" statement.

Receipts: Pending on top, then newest first. Statements: latest due date first, paid and unpaid
(or unpaid only). A list shows its first `shown` rows, PAGE more each time the patient asks;
`new_only` gives just the rows past the previous page (what htmx appends).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from peewee import Case, fn

from . import accounts, balances, ledger
from .models import Guarantor, Receipt, Statement, Transaction
from .money import ZERO

PAGE = 20  # rows a list shows at first, and how many more each "Show more" adds
MOST = 1000  # no address makes a list page longer than this
_DIGITS = re.compile("[0-9]+")

Row = TypeVar("Row")


def parse_shown(text: str | None) -> int:
    """How many rows `?shown=` asks for: a whole number, held between PAGE and MOST; anything else
    (empty, signed, a fraction, other digits) is PAGE."""
    text = (text or "").strip()
    if not _DIGITS.fullmatch(text):
        return PAGE  # empty, signed, other digits ("٤٠"), not a number
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MOST)):  # never int() on thousands of digits
        return MOST
    return max(PAGE, min(int(digits), MOST))


@dataclass(frozen=True)
class Listing(Generic[Row]):
    rows: list[Row]  # the first `shown` rows, or with new_only the ones past the previous page
    shown: int
    more: bool  # rows beyond the first `shown`, and the list may grow (under MOST)
    start: int = 0  # the position of rows[0] in the whole list

    @property
    def next_shown(self) -> int:
        return self.shown + PAGE


def _start(shown: int, new_only: bool) -> int:
    return max(shown - PAGE, 0) if new_only else 0


# --- statements ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StatementRow:
    statement: Statement
    paid: bool
    new: bool  # tagged "New" (is_new)


def is_new(statement: Statement, facts: balances.AccountFacts) -> bool:
    """The rule behind the Statements list's "New" tag and Home's notice: the account's latest
    statement (the money rules' choice), unpaid, and never opened by the patient (a staff mirror's
    opening is not recorded: accounts.mark_viewed)."""
    latest = balances.last_statement(facts.statements)
    return (latest is not None and statement.number == latest.number and statement.first_viewed_at is None
            and not balances.statement_is_paid(latest, facts.patient_payments))


def statements_for(guarantor: Guarantor, *, hide_paid: bool = False) -> list[StatementRow]:
    """The guarantor's statements, latest due date first, each paid or not (by the money rules) and New or
    not; the account read in one statement (ledger.read_account)."""
    account = ledger.read_account(guarantor)
    rows = []
    for s in sorted(account.statements, key=lambda s: (s.due_date, s.date, s.id), reverse=True):
        paid = balances.statement_is_paid(accounts.statement_facts(s), account.facts.patient_payments)
        if not (hide_paid and paid):
            rows.append(StatementRow(s, paid, is_new(s, account.facts)))
    return rows


def statements_page(guarantor: Guarantor, shown: int = PAGE, *, hide_paid: bool = False,
                    new_only: bool = False) -> Listing[StatementRow]:
    """The first `shown` statements (statements_for), or with `new_only` those past the previous page."""
    rows = statements_for(guarantor, hide_paid=hide_paid)
    start = _start(shown, new_only)
    return Listing(rows[start:shown], shown, len(rows) > shown and shown < MOST, start)


# --- receipts -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceiptRow:
    receipt: Receipt
    transactions: int

    @property
    def shown_amount(self) -> Decimal:
        # A declined card still makes a receipt, and it took nothing.
        return ZERO if self.receipt.status == Receipt.UNSUCCESSFUL else self.receipt.amount


def receipts_for(guarantor: Guarantor, *, limit: int | None = None, offset: int = 0) -> list[ReceiptRow]:
    """The account's patient payments (POPS's, the office's, by mail): Pending first, then newest first;
    `limit` of them from `offset`, or all."""
    query = (
        Receipt.select().where(Receipt.guarantor == guarantor.id)
        .order_by(Case(None, [(Receipt.status == Receipt.PENDING, 0)], 1),
                  Receipt.received_date.desc(), Receipt.received_at.desc(), Receipt.id.desc())
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    receipts = list(query)
    counts = dict(
        Transaction.select(Transaction.receipt, fn.COUNT(Transaction.id))
        .where(Transaction.receipt.in_([r.id for r in receipts]))
        .group_by(Transaction.receipt)
        .tuples()
    ) if receipts else {}
    return [ReceiptRow(r, counts.get(r.id, 0)) for r in receipts]


def receipts_page(guarantor: Guarantor, shown: int = PAGE, *, new_only: bool = False) -> Listing[ReceiptRow]:
    """The first `shown` receipts (receipts_for), or with `new_only` those past the previous page."""
    start = _start(shown, new_only)
    rows = receipts_for(guarantor, limit=shown - start + 1, offset=start)  # one more: is there more?
    return Listing(rows[: shown - start], shown, len(rows) > shown - start and shown < MOST, start)
