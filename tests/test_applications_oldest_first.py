"""A card payment is spread over the account's own open visits, oldest first (payments.apply_oldest_first):
collections and paid-off visits are skipped and the money carries on; what no visit needs is flagged for staff."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pops.audit import POPS
from pops.models import AuditLog, Receipt, ReceiptApplication

from factories import add_line, make_encounter, settled_card_payment

D = Decimal
SEPT, OCT, NOV = dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)


def applied(receipt: Receipt) -> list[tuple[str, Decimal]]:
    return [(a.encounter.ext_id, a.amount)
            for a in ReceiptApplication.select().where(ReceiptApplication.receipt == receipt).order_by(ReceiptApplication.id)]


def flags() -> list[str]:
    """What staff read in the audit log: recorded by POPS, on the account, naming the receipt and the rest."""
    found = list(AuditLog.select().where(AuditLog.action == "receipt_not_fully_applied"))
    assert all((a.actor, a.staff_id) == (POPS, None) and a.guarantor.account == "A1001" for a in found)
    return [a.detail for a in found]


def test_the_money_lands_on_this_accounts_visits_when_another_account_has_the_same_visit_ids(guarantor, second):
    make_encounter(guarantor, "E1", date=SEPT, charge="50.00")
    make_encounter(guarantor, "E2", date=OCT, charge="70.00")
    make_encounter(second, "E1", date=SEPT, charge="40.00")  # Sam's own E1, made after Maria's
    make_encounter(second, "E2", date=OCT, charge="10.00")
    receipt = settled_card_payment(guarantor, "60.00", "key-maria")
    apps = list(ReceiptApplication.select().where(ReceiptApplication.receipt == receipt))
    assert [(a.encounter.ext_id, a.amount) for a in apps] == [("E1", D("50.00")), ("E2", D("10.00"))]
    assert {a.encounter.guarantor_id for a in apps} == {guarantor.id}


# Each row: the visits (id, date, lines; "C" marks one in collections), the payment, what each visit gets, the flag.
@pytest.mark.parametrize("visits, payment, expected, flag", [
    pytest.param([("E1", SEPT, "50.00"), ("E2", OCT, "70.00")], "60.00", [("E1", "50.00"), ("E2", "10.00")], None,
                 id="oldest first, the rest to the next"),
    pytest.param([("E2", OCT, "70.00"), ("E1", SEPT, "50.00")], "50.00", [("E1", "50.00")], None,
                 id="by date, not by the order they were imported"),
    pytest.param([("E9", SEPT, "20.00"), ("E1", SEPT, "20.00")], "30.00", [("E9", "20.00"), ("E1", "10.00")], None,
                 id="same day: the one imported first"),
    pytest.param([("E1", SEPT, "50.00", "C"), ("E2", OCT, "70.00"), ("E3", NOV, "30.00")], "80.00",
                 [("E2", "70.00"), ("E3", "10.00")], None, id="a visit in collections is skipped and the money carries on"),
    pytest.param([("E1", SEPT, "50.00", "-50.00"), ("E2", OCT, "70.00")], "20.00", [("E2", "20.00")], None,
                 id="a paid-off visit is skipped and the money carries on"),
    pytest.param([("E1", SEPT, "10.00", "-15.00"), ("E2", OCT, "70.00")], "20.00", [("E2", "20.00")], None,
                 id="a visit in credit is skipped and takes nothing back"),
    pytest.param([("E1", SEPT, "0.50"), ("E2", OCT, "1.00"), ("E3", NOV, "30.00")], "31.50",
                 [("E1", "0.50"), ("E2", "1.00"), ("E3", "30.00")], None, id="visits of a dollar or less are paid too"),
    pytest.param([("E1", SEPT, "0.01"), ("E2", OCT, "70.00")], "0.01", [("E1", "0.01")], None,
                 id="a cent pays a cent and stops"),
    pytest.param([("E1", SEPT, "50.00"), ("E2", OCT, "70.00")], "120.00", [("E1", "50.00"), ("E2", "70.00")], None,
                 id="exactly the balance: nothing left over, nothing flagged"),
    pytest.param([("E1", SEPT, "50.00"), ("E2", OCT, "70.00")], "120.01", [("E1", "50.00"), ("E2", "70.00")], "$0.01",
                 id="a cent more than the visits need is flagged"),
    pytest.param([("E1", SEPT, "50.00", "C")], "25.00", [], "$25.00", id="nothing but collections: all of it flagged"),
    pytest.param([("E1", SEPT, "0.50")], "1.00", [("E1", "0.50")], "$0.50", id="a remainder under a dollar is flagged"),
])
def test_a_payment_is_applied_oldest_first(guarantor, visits, payment, expected, flag):
    for ext_id, day, charge, *more in visits:
        encounter = make_encounter(guarantor, ext_id, date=day, charge=charge, in_collections="C" in more)
        for i, amount in enumerate(m for m in more if m != "C"):
            add_line(encounter, f"{i + 2}", "adjustment", amount)
    receipt = settled_card_payment(guarantor, payment, "key-1")
    assert applied(receipt) == [(ext_id, D(amount)) for ext_id, amount in expected]
    assert (Receipt.get_by_id(receipt.id).amount, Receipt.get_by_id(receipt.id).status) == (D(payment), Receipt.PAID)
    assert flags() == ([f"{receipt.number}: {flag} left unapplied"] if flag else [])
