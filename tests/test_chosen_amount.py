"""The amount a patient chose, checked against the account as it is now (payments.chosen_amount):
one row per choice, with Show Current Balance on and off, and the sentence each refusal shows."""
from __future__ import annotations

from decimal import Decimal

import pytest

from pops import payments
from pops.models import Group

from factories import make_encounter, make_statement

D = Decimal
GROUP = "Riverside Family Medicine"
RANGE = "Please enter an amount from $1.00 to {max}."
CHOOSE = "Please choose an amount to pay."
UNDER = f"Balances under $1.00 cannot be paid online. Please call {GROUP}."


def account(guarantor, current: str, due: str, show_current_balance: bool = True):
    Group.update(show_current_balance=show_current_balance).execute()
    make_encounter(guarantor, "E1", charge=current)
    make_statement(guarantor, "S-1", balance=current, amount_due=due)
    return type(guarantor).get_by_id(guarantor.id)


@pytest.mark.parametrize("current, due, choice, other, amount", [
    ("120.00", "80.00", "amount_due", "", "80.00"),
    ("120.00", "80.00", "current_balance", "", "120.00"),
    ("120.00", "80.00", "other", "$ 20", "20.00"),
    ("1234.50", "80.00", "other", "$1,234.5", "1234.50"),
    ("120.00", "80.00", "other", "1.00", "1.00"),
    ("120.00", "80.00", "other", "120", "120.00"),
    ("120.00", "80.00", "amount_due", "999", "80.00"),  # what is typed counts only for Other Amount
    ("120.00", "0.50", "amount_due", "", "0.50"),  # an Amount Due under $1.00 beside a Current Balance over it
])
def test_the_amount_chosen_with_show_current_balance_on(guarantor, current, due, choice, other, amount):
    chosen = payments.chosen_amount(account(guarantor, current, due), choice, other)
    assert chosen == D(amount) and str(chosen) == amount


@pytest.mark.parametrize("current, due, choice, other, message", [
    ("120.00", "80.00", "other", "0.99", RANGE.format(max="$120.00")),
    ("120.00", "80.00", "other", "120.01", RANGE.format(max="$120.00")),
    ("120.00", "80.00", "other", "1234,567", RANGE.format(max="$120.00")),
    ("120.00", "80.00", "other", "", RANGE.format(max="$120.00")),
    ("120.00", "80.00", "other", "ten dollars", RANGE.format(max="$120.00")),
    ("120.00", "80.00", "everything", "", CHOOSE),
    ("120.00", "80.00", "", "", CHOOSE),
    ("0.99", "0.99", "current_balance", "", UNDER),
])
def test_what_is_refused_with_show_current_balance_on(guarantor, current, due, choice, other, message):
    with pytest.raises(payments.PaymentRefused) as refused:
        payments.chosen_amount(account(guarantor, current, due), choice, other)
    assert str(refused.value) == message


@pytest.mark.parametrize("current, due, choice, other, outcome", [
    ("5.00", "0.50", "amount_due", "", "0.50"),  # payable: the Current Balance is $1.00 or more
    ("1.00", "0.50", "amount_due", "", "0.50"),
    ("0.99", "0.50", "amount_due", "", UNDER),  # refused with the under-$1.00 sentence
    ("5.00", "0.50", "current_balance", "", CHOOSE),  # not offered with the option off
    ("5.00", "0.50", "other", "0.50", CHOOSE),
    ("5.00", "0.00", "amount_due", "", "You have no balance due. Thank you!"),
])
def test_with_show_current_balance_off_only_the_amount_due_is_payable(guarantor, current, due, choice, other, outcome):
    payer = account(guarantor, current, due, show_current_balance=False)
    if outcome[0].isdigit():
        assert payments.chosen_amount(payer, choice, other) == D(outcome)
    else:
        with pytest.raises(payments.PaymentRefused) as refused:
            payments.chosen_amount(payer, choice, other)
        assert str(refused.value) == outcome
