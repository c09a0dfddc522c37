"""Refunds (pops/payments/refunds.py) when a guarantor has more than one receipt: each refund touches its own
receipt only (its card transaction, refunded amount, status, applications, claim), never more than was paid,
taken back off the newest visit first, and undone exactly when the gateway reports it failed."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pops import ledger, payments
from pops.audit import POPS
from pops.gateways.sandbox import SandboxGateway
from pops.gateways.sandbox_tables import SandboxCharge
from pops.models import AuditLog, Receipt, ReceiptApplication, Transaction
from pops.payments import refunds
from pops.payments.refunds import claim, reverse_failed

from factories import at, make_encounter, pay, settled_card_payment

D = Decimal


@pytest.fixture
def gateway():
    return SandboxGateway("refund-rules-secret", "http://testserver")


def fresh(receipt: Receipt) -> Receipt:
    return Receipt.get_by_id(receipt.id)


def failed_at_the_gateway(refund: Transaction) -> None:
    """The gateway reports a recorded refund failed: the card charge has that money again, and POPS undoes it."""
    sale = Transaction.get((Transaction.receipt == refund.receipt_id) & (Transaction.kind == Transaction.SALE))
    SandboxCharge.update(refunded=SandboxCharge.refunded - refund.amount).where(
        SandboxCharge.transaction == sale.number).execute()
    assert reverse_failed(refund)


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
    with pytest.raises(payments.RefundRefused) as refused:
        payments.refund(gateway, other, D("5.00"), staff)
    assert str(refused.value) == ("The payment service did not answer, so the refund is not confirmed. "
                                  "Try again with this form: it cannot refund twice.")
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
    assert (log.guarantor_id, log.actor, log.staff_id) == (guarantor.id, POPS, None)


@pytest.mark.parametrize("refunds, failing, status, refunded", [
    (["120.00"], 0, Receipt.PAID, "0.00"),  # the only refund failed: paid again
    (["20.00", "100.00"], 0, Receipt.PARTIALLY_REFUNDED, "100.00"),
    (["20.00", "100.00"], 1, Receipt.PARTIALLY_REFUNDED, "20.00"),
    (["119.99", "0.01"], 1, Receipt.PARTIALLY_REFUNDED, "119.99"),
    (["0.50", "119.50"], 1, Receipt.PARTIALLY_REFUNDED, "0.50"),  # fifty cents still refunded is not paid
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


def test_a_refund_form_sent_again_after_it_refunded_everything_gets_the_same_refund(gateway, two_receipts, staff):
    first, *_ = two_receipts
    made = payments.refund(gateway, first, D("50.00"), staff, key="refund-form-1")
    again = payments.refund(gateway, fresh(first), D("50.00"), staff, key="refund-form-1")
    assert again.id == made.id
    assert fresh(first).refunded_amount == D("50.00")


def test_the_same_refund_form_recorded_meanwhile_by_another_request_is_counted_once(gateway, two_receipts, staff,
                                                                                    monkeypatch):
    first, *_ = two_receipts
    record = refunds.record

    def recorded_first_by_the_other_request(receipt, number, amount, **kwargs):
        # The other request (same form, same key) claimed its own $20 and recorded the refund first.
        claim(receipt, amount)
        record(receipt, number, amount, **kwargs)
        return record(receipt, number, amount, **kwargs)  # this one's insert meets the key: IntegrityError

    monkeypatch.setattr(refunds, "record", recorded_first_by_the_other_request)
    made = payments.refund(gateway, first, D("20.00"), staff, key="refund-form-2")
    assert made.idempotency_key == "refund-form-2" and made.amount == D("20.00")
    assert fresh(first).refunded_amount == D("20.00")  # this request's claim was released
    assert Transaction.select().where(Transaction.kind == Transaction.REFUND).count() == 1


def test_a_refund_goes_to_the_gateway_that_took_the_payment(gateway, two_receipts, staff):
    first, *_ = two_receipts

    class Today:
        """The gateway configured now, keeping the one that took earlier payments."""
        name = "another"
        others = {"sandbox": gateway}

        def refund(self, key, transaction, amount):
            raise AssertionError("refunded through the wrong gateway")

    payments.refund(Today(), first, D("5.00"), staff)
    assert SandboxCharge.get(SandboxCharge.idempotency_key == "key-first").refunded == D("5.00")


def test_a_failed_refund_gives_back_only_what_its_own_receipt_took(gateway, guarantor, staff):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    make_encounter(guarantor, "E2", date=dt.date(2026, 10, 1), charge="70.00")
    sept = settled_card_payment(guarantor, "50.00", "key-sept")  # all of it on E1
    octo = settled_card_payment(guarantor, "70.00", "key-oct")  # all of it on E2
    payments.refund(gateway, sept, D("50.00"), staff)
    failing = payments.refund(gateway, octo, D("30.00"), staff)
    reverse_failed(failing)
    assert applied(octo) == [("E2", D("70.00")), ("E2", D("-30.00")), ("E2", D("30.00"))]
    assert applied(sept) == [("E1", D("50.00")), ("E1", D("-50.00"))]


def test_a_failed_refund_gives_back_visits_of_a_dollar_or_less_and_nothing_to_visits_it_did_not_touch(
        gateway, guarantor, staff):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="0.50")
    make_encounter(guarantor, "E2", date=dt.date(2026, 10, 1), charge="70.00")
    receipt = settled_card_payment(guarantor, "70.50", "key-both")
    failed_at_the_gateway(payments.refund(gateway, receipt, D("30.00"), staff))  # all of it off E2
    assert applied(receipt)[2:] == [("E2", D("-30.00")), ("E2", D("30.00"))]
    failed_at_the_gateway(payments.refund(gateway, fresh(receipt), D("70.50"), staff))
    assert applied(receipt)[4:] == [("E2", D("-70.00")), ("E1", D("-0.50")), ("E1", D("0.50")), ("E2", D("70.00"))]
    assert ledger.balances_for(guarantor).current_balance == D("0.00")


def test_a_refund_failing_twice_on_the_same_visit_is_given_back_twice(gateway, guarantor, staff):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    receipt = settled_card_payment(guarantor, "50.00", "key-one")
    failed_at_the_gateway(payments.refund(gateway, receipt, D("20.00"), staff))
    failed_at_the_gateway(payments.refund(gateway, fresh(receipt), D("50.00"), staff))
    assert applied(receipt) == [("E1", D("50.00")), ("E1", D("-20.00")), ("E1", D("20.00")),
                                ("E1", D("-50.00")), ("E1", D("50.00"))]
    assert (fresh(receipt).refunded_amount, fresh(receipt).status) == (D("0.00"), Receipt.PAID)


def test_a_visit_already_given_back_in_full_gives_nothing_more(gateway, guarantor, staff):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    make_encounter(guarantor, "E2", date=dt.date(2026, 10, 1), charge="70.00")
    receipt = settled_card_payment(guarantor, "120.00", "key-both")
    payments.refund(gateway, receipt, D("70.00"), staff)  # E2's all
    payments.refund(gateway, fresh(receipt), D("20.00"), staff)  # E2 has nothing left: E1
    assert applied(receipt)[2:] == [("E2", D("-70.00")), ("E1", D("-20.00"))]


def test_a_refund_is_live_when_the_payment_was(gateway, two_receipts, staff):
    first, *_ = two_receipts
    Transaction.update(live=True).where(Transaction.receipt == first).execute()
    made = payments.refund(gateway, first, D("5.00"), staff)
    assert (made.live, made.gateway, made.status, made.staff_id) == (True, "sandbox", Transaction.APPROVED, staff.id)
