"""Refunds (pops/payments/refunds.py) when a guarantor has more than one receipt: each refund touches its own
receipt only (its card transaction, refunded amount, status, applications, claim), never more than was paid,
taken back off the newest visit first, and undone exactly when the gateway reports it failed."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pops import ledger, payments
from pops.gateways.sandbox import SandboxGateway
from pops.gateways.sandbox_tables import SandboxCharge
from pops.models import AuditLog, Receipt, ReceiptApplication, Transaction
from pops.payments.refunds import claim, reverse_failed

from factories import at, make_encounter, pay, settled_card_payment

D = Decimal


@pytest.fixture
def gateway():
    return SandboxGateway("refund-rules-secret", "http://testserver")


def fresh(receipt: Receipt) -> Receipt:
    return Receipt.get_by_id(receipt.id)


def applied(receipt: Receipt) -> list[tuple[str, Decimal]]:
    """The receipt's applications in the order written: (visit, amount)."""
    return [(a.encounter.ext_id, a.amount)
            for a in ReceiptApplication.select().where(ReceiptApplication.receipt == receipt).order_by(ReceiptApplication.id)]


@pytest.fixture
def two_receipts(guarantor, second):
    """Maria owes $50 (Sept) and $70 (Oct) and paid them as two receipts, $50 and $70; Sam paid $40 on his own visit."""
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    make_encounter(guarantor, "E2", date=dt.date(2026, 10, 1), charge="70.00")
    make_encounter(second, "E1", date=dt.date(2026, 9, 1), charge="40.00")
    first = settled_card_payment(guarantor, "50.00", "key-first")
    other = settled_card_payment(guarantor, "70.00", "key-second")
    sams = settled_card_payment(second, "40.00", "key-sam")
    return first, other, sams


def test_each_payment_is_applied_to_its_own_visits(two_receipts):
    first, other, sams = two_receipts
    assert applied(first) == [("E1", D("50.00"))]
    assert applied(other) == [("E2", D("70.00"))]
    assert applied(sams) == [("E1", D("40.00"))]
    assert ReceiptApplication.get(ReceiptApplication.receipt == sams).encounter.guarantor_id == sams.guarantor_id


def test_a_refund_goes_to_its_own_receipts_card_transaction(gateway, two_receipts, staff):
    first, other, sams = two_receipts
    payments.refund(gateway, other, D("30.00"), staff)
    charges = {c.idempotency_key: c.refunded for c in SandboxCharge.select()}
    assert charges == {"key-first": D("0.00"), "key-second": D("30.00"), "key-sam": D("0.00")}


def test_a_refund_changes_only_its_own_receipts_refunded_amount_status_and_applications(gateway, two_receipts, staff):
    first, other, sams = two_receipts
    payments.refund(gateway, first, D("50.00"), staff)
    payments.refund(gateway, other, D("20.00"), staff)
    rows = {r.number: (r.refunded_amount, r.status) for r in Receipt.select()}
    assert rows == {
        first.number: (D("50.00"), Receipt.REFUNDED),
        other.number: (D("20.00"), Receipt.PARTIALLY_REFUNDED),  # the first receipt's $50 is not its own
        sams.number: (D("0.00"), Receipt.PAID),
    }
    assert applied(first) == [("E1", D("50.00")), ("E1", D("-50.00"))]
    assert applied(other) == [("E2", D("70.00")), ("E2", D("-20.00"))]
    assert applied(sams) == [("E1", D("40.00"))]
    numbers = [t.refund_receipt_number for t in Transaction.select().where(Transaction.kind == Transaction.REFUND)
               .order_by(Transaction.id)]
    assert numbers == [f"{first.number}-R1", f"{other.number}-R1"]  # counted per receipt


def test_a_refund_the_gateway_refuses_releases_only_its_own_claim(gateway, two_receipts, staff):
    first, other, sams = two_receipts
    payments.refund(gateway, first, D("10.00"), staff)
    gateway.fail_next = "error"
    with pytest.raises(payments.RefundRefused, match=r"^The card processor had a problem with the refund\. Nothing was refunded\.$"):
        payments.refund(gateway, other, D("5.00"), staff)
    assert [fresh(r).refunded_amount for r in (first, other, sams)] == [D("10.00"), D("0.00"), D("0.00")]
    gateway.unreachable = True
    with pytest.raises(payments.RefundRefused, match="did not answer, so the refund is not confirmed"):
        payments.refund(gateway, other, D("5.00"), staff)
    assert [fresh(r).refunded_amount for r in (first, other, sams)] == [D("10.00"), D("0.00"), D("0.00")]


def test_a_claim_never_adds_up_to_more_than_was_paid(two_receipts):
    """Two refunds at once each claim their amount first: the second claim fails once the first took the rest."""
    first, other, sams = two_receipts
    assert claim(first, D("30.00"))
    assert not claim(first, D("20.01"))
    assert claim(first, D("20.00"))  # exactly what was paid
    assert not claim(first, D("0.01"))
    assert [fresh(r).refunded_amount for r in (first, other, sams)] == [D("50.00"), D("0.00"), D("0.00")]


def test_a_refund_whose_claim_fails_is_refused_and_changes_nothing(gateway, two_receipts, staff):
    first, *_ = two_receipts
    Receipt.update(refunded_amount=D("45.00")).where(Receipt.id == first.id).execute()  # another clerk's, in flight
    with pytest.raises(payments.RefundRefused, match=r"^The receipt changed meanwhile; reload it and try again\.$"):
        payments.refund(gateway, first, D("10.00"), staff)  # first still says $50 left
    assert fresh(first).refunded_amount == D("45.00")
    assert SandboxCharge.get(SandboxCharge.idempotency_key == "key-first").refunded == D("0.00")


def test_a_refund_comes_off_the_newest_visit_first(gateway, guarantor, staff):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    make_encounter(guarantor, "E2", date=dt.date(2026, 10, 1), charge="70.00")
    receipt = settled_card_payment(guarantor, "120.00", "key-both")
    assert applied(receipt) == [("E1", D("50.00")), ("E2", D("70.00"))]
    payments.refund(gateway, receipt, D("60.00"), staff)
    assert applied(receipt)[2:] == [("E2", D("-60.00"))]
    payments.refund(gateway, receipt, D("30.00"), staff)  # E2's last $10, then $20 of E1
    assert applied(receipt)[3:] == [("E2", D("-10.00")), ("E1", D("-20.00"))]
    assert ledger.balances_for(guarantor).current_balance == D("90.00")
    assert fresh(receipt).status == Receipt.PARTIALLY_REFUNDED


@pytest.mark.parametrize("amount, message", [
    (D("0.00"), "Enter a refund amount of at least $0.01."),
    (D("-1.00"), "Enter a refund amount of at least $0.01."),
    (D("1.005"), "Enter a refund amount of at least $0.01."),
    (D("NaN"), "Enter a refund amount of at least $0.01."),
    (D("Infinity"), "Enter a refund amount of at least $0.01."),
    (1, "Enter a refund amount of at least $0.01."),
    (D("50.01"), "At most $50.00 can be refunded on this receipt."),
])
def test_a_refund_amount_must_be_whole_cents_from_one_cent_to_what_is_left(gateway, two_receipts, staff, amount, message):
    first, *_ = two_receipts
    with pytest.raises(payments.RefundRefused) as refused:
        payments.refund(gateway, first, amount, staff)
    assert str(refused.value) == message
    assert fresh(first).refunded_amount == D("0.00") and Transaction.select().where(Transaction.kind == "refund").count() == 0


def test_a_refund_of_one_cent_and_of_everything_left(gateway, two_receipts, staff):
    first, *_ = two_receipts
    payments.refund(gateway, first, D("0.01"), staff)
    payments.refund(gateway, first, D("49.99"), staff)
    assert (fresh(first).refunded_amount, fresh(first).status) == (D("50.00"), Receipt.REFUNDED)
    with pytest.raises(payments.RefundRefused, match=r"^Only a paid POPS receipt can be refunded here\.$"):
        payments.refund(gateway, fresh(first), D("0.01"), staff)


def test_a_receipt_without_a_card_transaction_cannot_be_refunded(gateway, guarantor, staff):
    receipt = pay(guarantor, "R-1", "20.00", at(2026, 11, 23, 15, 0))
    Transaction.delete().where(Transaction.receipt == receipt).execute()
    with pytest.raises(payments.RefundRefused, match=r"^This receipt has no card transaction to refund\.$"):
        payments.refund(gateway, receipt, D("5.00"), staff)
    assert fresh(receipt).refunded_amount == D("0.00")


def test_a_failed_refund_is_undone_on_its_own_receipt_and_given_back_oldest_first(gateway, guarantor, second, staff):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    make_encounter(guarantor, "E2", date=dt.date(2026, 10, 1), charge="70.00")
    receipt = settled_card_payment(guarantor, "120.00", "key-both")
    make_encounter(second, "E9", charge="40.00")
    sams = settled_card_payment(second, "40.00", "key-sam")
    payments.refund(gateway, sams, D("40.00"), staff)
    kept = payments.refund(gateway, receipt, D("20.00"), staff)
    failing = payments.refund(gateway, receipt, D("80.00"), staff)  # E2's $50 left, then $30 of E1
    assert applied(receipt)[2:] == [("E2", D("-20.00")), ("E2", D("-50.00")), ("E1", D("-30.00"))]
    assert (fresh(receipt).refunded_amount, fresh(receipt).status) == (D("100.00"), Receipt.PARTIALLY_REFUNDED)

    assert reverse_failed(failing)
    assert not reverse_failed(Transaction.get_by_id(failing.id))  # once
    assert Transaction.get_by_id(failing.id).status == "failed"
    assert Transaction.get_by_id(kept.id).status == Transaction.APPROVED
    assert (fresh(receipt).refunded_amount, fresh(receipt).status) == (D("20.00"), Receipt.PARTIALLY_REFUNDED)
    assert applied(receipt)[5:] == [("E1", D("30.00")), ("E2", D("50.00"))]  # given back oldest first
    assert ledger.balances_for(guarantor).current_balance == D("20.00")
    assert (fresh(sams).refunded_amount, fresh(sams).status) == (D("40.00"), Receipt.REFUNDED)
    log = AuditLog.get(AuditLog.action == "refund_failed")
    assert log.detail == (f"{receipt.number}: the refund {failing.number} of $80.00 failed at the gateway; "
                          "it is undone in POPS")
    assert log.guarantor_id == guarantor.id


@pytest.mark.parametrize("refunds, failing, status, refunded", [
    (["120.00"], 0, Receipt.PAID, "0.00"),  # the only refund failed: paid again
    (["20.00", "100.00"], 0, Receipt.PARTIALLY_REFUNDED, "100.00"),
    (["20.00", "100.00"], 1, Receipt.PARTIALLY_REFUNDED, "20.00"),
    (["119.99", "0.01"], 1, Receipt.PARTIALLY_REFUNDED, "119.99"),
])
def test_a_failed_refund_puts_the_status_back_to_what_the_other_refunds_make_it(gateway, guarantor, staff, refunds,
                                                                                  failing, status, refunded):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="120.00")
    receipt = settled_card_payment(guarantor, "120.00", "key-one")
    made = [payments.refund(gateway, fresh(receipt), D(amount), staff) for amount in refunds]
    assert fresh(receipt).status == Receipt.REFUNDED
    reverse_failed(made[failing])
    assert (fresh(receipt).status, fresh(receipt).refunded_amount) == (status, D(refunded))
    assert ledger.balances_for(guarantor).current_balance == D(refunded)
