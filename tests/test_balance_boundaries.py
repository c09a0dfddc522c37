"""The money rules at their edges (pops/balances.py): a cent of collections, unapplied funds or Amount Due
counts; credits never offset; what each rule does when its caller leaves an option at its default."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from pops.balances import (
    MSG_COLLECTIONS_ONLY,
    MSG_NOT_POSSIBLE,
    MSG_UNDER_MINIMUM,
    AccountFacts,
    Balances,
    EncounterFacts,
    PaymentFacts,
    StatementFacts,
    check_amount,
    compute,
    eligibility,
    pay_options,
)

D = Decimal
GROUP = "Sunrise Pediatrics"
STMT_DAY = datetime.date(2025, 3, 1)


def bal(current="0.00", due="0.00", collections="0.00", escrow="0.00", unapplied="0.00") -> Balances:
    return Balances(statement_balance=D("0.00"), amount_due=D(due), current_balance=D(current), unapplied=D(unapplied),
                    escrow=D(escrow), collections=D(collections), last_statement=None)


@pytest.mark.parametrize("balances, reason, message", [
    (bal(collections="0.01"), "collections_only", MSG_COLLECTIONS_ONLY),
    (bal(collections="1.00"), "collections_only", MSG_COLLECTIONS_ONLY),
    (bal(collections="0.00"), "zero_balance", None),
    (bal(current="50.00", unapplied="0.01"), "unapplied", MSG_NOT_POSSIBLE),
    (bal(current="50.00", unapplied="1.00"), "unapplied", MSG_NOT_POSSIBLE),
    (bal(current="50.00", escrow="0.01"), "escrow", MSG_NOT_POSSIBLE),
    (bal(current="0.99"), "under_minimum", MSG_UNDER_MINIMUM),
    (bal(current="1.00"), None, None),
])
def test_a_cent_of_collections_unapplied_or_escrow_counts(balances, reason, message):
    verdict = eligibility(balances, GROUP)
    assert verdict.reason == reason
    if message:
        assert verdict.message == message.format(group=GROUP)
    assert verdict.allowed is (reason is None)


def test_the_zero_balance_sentence_names_no_practice():
    assert eligibility(bal(), GROUP).message == "You have no balance due. Thank you!"


@pytest.mark.parametrize("current, due, allowed, reason", [
    ("5.00", "0.50", True, None),  # an Amount Due under $1.00 is payable while the Current Balance is $1.00 or more
    ("1.00", "0.01", True, None),
    ("0.99", "0.50", False, "under_minimum"),  # ... and refused with the under-$1.00 sentence when it is not
    ("5.00", "0.00", False, "zero_balance"),
])
def test_with_show_current_balance_off_an_amount_due_under_a_dollar(current, due, allowed, reason):
    balances = bal(current=current, due=due)
    verdict = eligibility(balances, GROUP, show_current_balance=False)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)
    options = pay_options(balances, show_current_balance=False)
    assert [(o.key, o.amount) for o in options] == ([("amount_due", D(due))] if allowed else [])
    if allowed:
        assert check_amount(D(due), balances, show_current_balance=False) is None
        assert check_amount(D(current), balances, show_current_balance=False) == f"Please pay the Amount Due of ${D(due)}."


def test_an_amount_due_of_a_cent_is_offered_beside_the_current_balance():
    options = pay_options(bal(current="20.00", due="0.01"))
    assert [(o.key, o.amount) for o in options] == [
        ("amount_due", D("0.01")), ("current_balance", D("20.00")), ("other", None)]


def test_by_default_the_current_balance_is_shown_and_payable():
    balances = bal(current="20.00", due="0.00")
    assert [o.key for o in pay_options(balances)] == ["current_balance", "other"]
    assert check_amount(D("5.00"), balances) is None  # any amount from $1.00 to the Current Balance
    assert check_amount(D("0.99"), balances) == "Please enter an amount from $1.00 to $20.00."


def test_by_default_the_amount_due_leaves_out_visits_after_the_last_statement():
    facts = AccountFacts(
        encounters=(EncounterFacts("E1", datetime.date(2025, 2, 1), D("40.00")),
                    EncounterFacts("E2", datetime.date(2025, 3, 5), D("25.00"))),
        statements=(StatementFacts("S1", STMT_DAY, STMT_DAY, D("40.00"), D("40.00")),),
    )
    assert compute(facts).amount_due == D("40.00")
    assert compute(facts, include_new_charges=True).amount_due == D("65.00")


@pytest.mark.parametrize("lines, current", [
    (("40.00", "-0.50"), "40.00"),  # a credit under $1 on one visit is not an offset against another
    (("40.00", "-40.00"), "40.00"),
    (("0.50",), "0.50"),
    (("0.00", "0.01"), "0.01"),
])
def test_credits_never_offset_other_visits(lines, current):
    facts = AccountFacts(encounters=tuple(
        EncounterFacts(f"E{i}", datetime.date(2025, 2, 1), D(total)) for i, total in enumerate(lines)))
    assert compute(facts).current_balance == D(current)


def test_a_float_is_never_money():
    facts = AccountFacts(
        statements=(StatementFacts("S1", STMT_DAY, STMT_DAY, D("40.00"), D("40.00")),),
        patient_payments=(PaymentFacts(datetime.date(2025, 3, 2), 10.5),),
    )
    with pytest.raises(TypeError):
        compute(facts)


@pytest.mark.parametrize("amount, expected", [
    ("0.50", None),  # the Amount Due offered beside the Current Balance is payable as offered
    ("0.75", "Please enter an amount from $1.00 to $20.00."),  # any other amount still starts at $1.00
    ("0.49", "Please enter an amount from $1.00 to $20.00."),
    ("1.00", None),
])
def test_an_amount_due_under_a_dollar_is_payable_with_show_current_balance_on(amount, expected):
    balances = bal(current="20.00", due="0.50")
    assert eligibility(balances, GROUP).allowed
    assert check_amount(D(amount), balances, show_current_balance=True) == expected


def test_nothing_due_is_never_a_payable_amount_due():
    assert check_amount(D("0.00"), bal(current="20.00", due="0.00")) == "Please enter an amount from $1.00 to $20.00."
