"""The money on an account: balances, Amount Due, who may pay online and how much.

Pure rules over plain facts (no database, no web); every amount is a Decimal in cents.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from pops.i18n import N_
from pops.money import CENT, ZERO, format_money, quantize

MINIMUM_PAYMENT = Decimal("1.00")


MSG_COLLECTIONS_ONLY = N_(
    "Your balance is with our collection agency. Please call {group} to arrange payment."
)
MSG_ZERO_BALANCE = N_("You have no balance due. Thank you!")
MSG_NOT_POSSIBLE = N_(
    "Payment Not Possible: Please contact {group} to make a payment at this time."
)
MSG_UNDER_MINIMUM = N_("Balances under $1.00 cannot be paid online. Please call {group}.")
MSG_AMOUNT_RANGE = N_("Please enter an amount from $1.00 to {max}.")
MSG_AMOUNT_DUE_ONLY = N_("Please pay the Amount Due of {amount}.")

LABEL_AMOUNT_DUE = N_("Amount Due")
LABEL_CURRENT_BALANCE = N_("Current Balance")
LABEL_OTHER = N_("Other Amount")


@dataclass(frozen=True)
class EncounterFacts:
    id: str
    date: datetime.date
    lines_total: Decimal
    insurance_pending: Decimal = ZERO
    pops_applied: Decimal = ZERO
    in_collections: bool = False


@dataclass(frozen=True)
class StatementFacts:
    number: str
    date: datetime.date
    due_date: datetime.date
    balance: Decimal
    amount_due: Decimal


@dataclass(frozen=True)
class PaymentFacts:
    """One patient payment: an imported patient_payment line, or a POPS receipt not yet posted back."""

    date: datetime.date
    amount: Decimal


@dataclass(frozen=True)
class AccountFacts:
    encounters: tuple[EncounterFacts, ...] = ()
    statements: tuple[StatementFacts, ...] = ()
    patient_payments: tuple[PaymentFacts, ...] = ()
    escrow: Decimal = ZERO
    unapplied: Decimal = ZERO


@dataclass(frozen=True)
class Balances:
    statement_balance: Decimal
    amount_due: Decimal
    current_balance: Decimal
    unapplied: Decimal
    escrow: Decimal
    collections: Decimal
    last_statement: StatementFacts | None


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    reason: str | None
    message: str | None


@dataclass(frozen=True)
class PayOption:
    key: str
    label: str
    amount: Decimal | None


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    # Starting from a Decimal makes a stray float fail loudly (Decimal + float is a TypeError).
    return quantize(sum(amounts, ZERO))


def encounter_balance(e: EncounterFacts) -> Decimal:
    """The patient's balance on one encounter: its lines, less insurance pending, less POPS payments applied."""
    return quantize(e.lines_total - e.insurance_pending - e.pops_applied)


def _open_balances(encounters: Iterable[EncounterFacts], in_collections: bool) -> Iterable[Decimal]:
    # Only debts count: an overpaid encounter's credit is the practice's to handle, not an offset.
    for e in encounters:
        if e.in_collections == in_collections:
            balance = encounter_balance(e)
            if balance > 0:
                yield balance


def _natural_key(number: str) -> tuple[object, ...]:
    # "S10" must sort after "S9". re.split with a capture group alternates text and digits,
    # so equal positions always hold the same type and the tuples compare safely.
    parts = re.split(r"(\d+)", number)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def last_statement(statements: Iterable[StatementFacts]) -> StatementFacts | None:
    """The most recent statement by date, ties broken by number (naturally: S10 after S9); None if there are none."""
    return max(statements, key=lambda s: (s.date, _natural_key(s.number), s.number), default=None)


def compute(facts: AccountFacts, include_new_charges: bool = False) -> Balances:
    """Statement Balance, Amount Due, Current Balance, Collections, Unapplied and Escrow of one account."""
    current = _sum(_open_balances(facts.encounters, in_collections=False))
    collections = _sum(_open_balances(facts.encounters, in_collections=True))
    last = last_statement(facts.statements)

    if last is None:
        due = current if include_new_charges else ZERO
    else:
        paid_since = _sum(p.amount for p in facts.patient_payments if p.date > last.date)
        due = last.amount_due - paid_since
        if include_new_charges:
            new = [e for e in facts.encounters if e.date > last.date]
            due += _sum(_open_balances(new, in_collections=False))
    due = max(ZERO, min(quantize(due), current))

    return Balances(
        statement_balance=quantize(last.balance) if last else ZERO,
        amount_due=due,
        current_balance=current,
        unapplied=quantize(facts.unapplied),
        escrow=quantize(facts.escrow),
        collections=collections,
        last_statement=last,
    )


def statement_is_paid(statement: StatementFacts, payments: Iterable[PaymentFacts]) -> bool:
    """True when patient payments dated strictly after the statement cover its amount due."""
    return _sum(p.amount for p in payments if p.date > statement.date) >= statement.amount_due


def eligibility(balances: Balances, group_name: str, show_current_balance: bool = True) -> Eligibility:
    """Whether the patient may pay online; if not, the reason and the sentence to show them.

    With the group's Show Current Balance off the patient sees and may pay only the Amount Due,
    so an Amount Due of zero means there is nothing to pay, whatever the Current Balance.
    """
    if balances.current_balance <= 0:
        if balances.collections > 0:
            return _refused("collections_only", MSG_COLLECTIONS_ONLY, group_name)
        return _refused("zero_balance", MSG_ZERO_BALANCE, group_name)
    if balances.escrow > 0:
        return _refused("escrow", MSG_NOT_POSSIBLE, group_name)
    if balances.unapplied > 0:
        return _refused("unapplied", MSG_NOT_POSSIBLE, group_name)
    if not show_current_balance and balances.amount_due <= 0:
        return _refused("zero_balance", MSG_ZERO_BALANCE, group_name)
    if balances.current_balance < MINIMUM_PAYMENT:
        return _refused("under_minimum", MSG_UNDER_MINIMUM, group_name)
    return Eligibility(allowed=True, reason=None, message=None)


def _refused(reason: str, template: str, group_name: str) -> Eligibility:
    # The message keeps its parameter: it is translated, then formatted, where it is shown.
    return Eligibility(allowed=False, reason=reason, message=template.format(group=group_name))


def pay_options(balances: Balances, show_current_balance: bool = True) -> list[PayOption]:
    """The amounts offered on the pay form; [] when the account may not pay (ask eligibility() why)."""
    if not eligibility(balances, "", show_current_balance).allowed:
        return []
    options = []
    if balances.amount_due > 0:
        options.append(PayOption("amount_due", LABEL_AMOUNT_DUE, balances.amount_due))
    if show_current_balance:
        options.append(PayOption("current_balance", LABEL_CURRENT_BALANCE, balances.current_balance))
        options.append(PayOption("other", LABEL_OTHER, None))
    return options


def check_amount(amount: Decimal, balances: Balances, show_current_balance: bool = True) -> str | None:
    """None when the patient may pay this amount, else the sentence saying what is allowed.

    Assumes eligibility() allowed the payment. With Show Current Balance on: whole cents from
    $1.00 to the Current Balance, or the Amount Due offered beside it; off: exactly the Amount Due.
    """
    if show_current_balance:
        error = MSG_AMOUNT_RANGE.format(max=format_money(balances.current_balance))
        low, high = MINIMUM_PAYMENT, balances.current_balance
    else:
        error = MSG_AMOUNT_DUE_ONLY.format(amount=format_money(balances.amount_due))
        # The Amount Due may be under $1.00 while the Current Balance is not; it is still payable.
        low = high = balances.amount_due
    # A float is never money, and NaN or Infinity would break the comparisons below.
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return error
    # The Amount Due is payable as offered, even under $1.00 (the Current Balance is then $1.00 or more).
    if not ((low <= amount <= high or amount == balances.amount_due) and amount > 0):
        return error
    # Bounded by now, so quantize cannot overflow the context's precision.
    if amount != amount.quantize(CENT):
        return error
    return None
