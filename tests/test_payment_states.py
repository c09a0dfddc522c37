"""The payment state machine, driven directly (no HTTP) against the sandbox gateway and its faults.

attempt -> pending -> paid | declined | error | canceled, then refunds. The patient's part at the
gateway (typing a card on the hosted page) is the sandbox's own `SandboxCheckout.pay`; the faults
are `SandboxGateway.fail_next`: "timeout" (no answer, nothing done), "error" (an error answer),
"late" (done at the gateway, the answer lost). Each test asserts what the database holds.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from pops import clock, ledger, payments
from pops.gateways.sandbox import ERROR, LATE, TIMEOUT, SandboxGateway
from pops.gateways.sandbox_page import card_behaviour, card_brand
from pops.gateways.sandbox_tables import APPROVE, SandboxCardToken, SandboxCharge, SandboxCheckout, SandboxRefund
from pops.models import (
    Group,
    Guarantor,
    PatientSession,
    PaymentAttempt,
    Receipt,
    ReceiptApplication,
    ReferenceBatch,
    StoredCard,
    Transaction,
)

from factories import make_encounter, make_patient, make_staff, make_statement, patient_session

D = Decimal
APPROVED = "4242424242424242"
DECLINED = "4000000000000002"
PROCESSOR_ERROR = "4000000000000119"
LATER = dt.timedelta(minutes=3)  # past payments.SETTLE_AFTER: the settle job asks about the attempt


@pytest.fixture
def gateway(db):
    return SandboxGateway("test-secret-key", "http://testserver")


@pytest.fixture
def account(guarantor):
    """Two open visits (Sept $50, Oct $70), a statement of Oct 15 with $120 due."""
    leo = make_patient(guarantor, "P1", "Leo", "Lopez")
    for ext, day, amount in (("E1", dt.date(2026, 9, 1), "50.00"), ("E2", dt.date(2026, 10, 1), "70.00")):
        make_encounter(guarantor, ext, patient=leo, date=day, charge=amount)
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="120.00")
    return guarantor


@pytest.fixture
def quickpay(account) -> PatientSession:
    return patient_session(account, origin="sms_link", quickpay=True)[1]


@pytest.fixture
def signed_in(account) -> PatientSession:
    """A patient who signed in with a code (who may pay with a saved card)."""
    return patient_session(account)[1]


def saved_card(guarantor: Guarantor, behaviour: str = APPROVE) -> StoredCard:
    """A card kept at the gateway (its token) and on file in POPS (the token, brand, last four)."""
    Group.update(enable_payment_method_storage=True).execute()
    token = SandboxCardToken.create(token=f"sbx_card_{behaviour}", brand="Visa", last4="4242", exp_month=12,
                                    exp_year=2030, behaviour=behaviour)
    return StoredCard.create(guarantor=guarantor, gateway_token=token.token, brand="Visa", last4="4242",
                             exp_month=12, exp_year=2030)


def begin(gateway, session: PatientSession, *, key: str | None = None, seq: int | None = None,
          choice: str = PaymentAttempt.AMOUNT_DUE, other: str = "", card: StoredCard | None = None):
    """Send the pay form, as shown now (its sequence) unless told otherwise; the session is read afresh, as a
    request reads it."""
    session = PatientSession.get_by_id(session.id)
    key = key or payments.new_key()
    if seq is None:
        seq = Guarantor.get_by_id(session.guarantor_id).payment_seq
    return payments.start_or_resume(gateway, session, key=key, seq=seq, account=session.guarantor.account,
                                    choice=choice, other=other, stored_card_id=card.id if card else None,
                                    return_url=f"http://testserver/pay/return/{key}")


def pay_on_page(gateway, attempt: PaymentAttempt, number: str = APPROVED) -> str:
    """The patient types `number` on the hosted page; returns the result token the page sends back."""
    checkout = SandboxCheckout.get(SandboxCheckout.token == attempt.gateway_checkout)
    assert checkout.pay(card_behaviour(number), card_brand(number), number[-4:], expiry=(12, 2030))
    return gateway.result_token(checkout)


def attempt_of(started) -> PaymentAttempt:
    return PaymentAttempt.get_by_id(started.attempt.id)


def money(rows) -> list[Decimal]:
    return [r.amount for r in rows]


# --- the outcome the patient is shown ---------------------------------------------------------

@pytest.mark.parametrize("status, message, checkout, card, outcome", [
    (PaymentAttempt.PAID, "", "co_1", None, PaymentAttempt.PAID),
    (PaymentAttempt.DECLINED, "Your card was declined.", "co_1", None, PaymentAttempt.DECLINED),
    (PaymentAttempt.ERROR, "The card processor had a problem.", "co_1", None, PaymentAttempt.NOT_COMPLETED),
    (PaymentAttempt.CANCELED, payments.MSG_NOT_COMPLETED, "co_1", None, PaymentAttempt.NOT_COMPLETED),
    (PaymentAttempt.ATTEMPT, "", "", None, PaymentAttempt.CONFIRMING),
    # the checkout could not be opened: nothing is at the gateway, the patient was not charged
    (PaymentAttempt.ATTEMPT, payments.MSG_UNAVAILABLE, "", None, PaymentAttempt.NOT_COMPLETED),
    # a checkout (or a card charge) may have gone through: still being confirmed
    (PaymentAttempt.PENDING, payments.MSG_UNAVAILABLE, "co_1", None, PaymentAttempt.CONFIRMING),
    (PaymentAttempt.PENDING, payments.MSG_UNAVAILABLE, "", 7, PaymentAttempt.CONFIRMING),
    (PaymentAttempt.PENDING, "", "co_1", None, PaymentAttempt.CONFIRMING),
    (PaymentAttempt.PENDING, "", "", 7, PaymentAttempt.CONFIRMING),
])
def test_the_outcome_a_patient_is_shown(status, message, checkout, card, outcome):
    attempt = PaymentAttempt(status=status, message=message, gateway_checkout=checkout, stored_card=card)
    assert attempt.outcome == outcome
    assert PaymentAttempt.OUTCOME_TITLES[attempt.outcome]


# --- attempt -> pending -> paid ------------------------------------------------------------

def test_an_approved_card_on_the_hosted_page_settles_paid(gateway, quickpay):
    started = begin(gateway, quickpay)
    attempt = attempt_of(started)
    assert started.redirect.startswith("http://testserver/sandbox-gateway/checkout/")
    assert (attempt.status, attempt.outcome, attempt.entrance) == (PaymentAttempt.PENDING, PaymentAttempt.CONFIRMING,
                                                                   PaymentAttempt.QUICKPAY)
    assert Receipt.select().count() == 0 and ReferenceBatch.select().count() == 0

    attempt = payments.complete(gateway, attempt, pay_on_page(gateway, attempt))

    receipt = Receipt.get()
    assert (attempt.status, attempt.outcome, attempt.receipt_id) == (
        PaymentAttempt.PAID, PaymentAttempt.PAID, receipt.id)
    assert (receipt.amount, receipt.status, receipt.source, receipt.card_type, receipt.last4) == (
        D("120.00"), Receipt.PAID, Receipt.POPS, "Visa", "4242")
    sale = Transaction.get()
    assert (sale.kind, sale.status, sale.amount, sale.number) == (
        Transaction.SALE, Transaction.APPROVED, D("120.00"), SandboxCharge.get().transaction)
    applied = ReceiptApplication.select().order_by(ReceiptApplication.id)
    assert [(a.encounter.ext_id, a.amount, a.source) for a in applied] == [
        ("E1", D("50.00"), ReceiptApplication.POPS), ("E2", D("70.00"), ReceiptApplication.POPS)]
    batch = ReferenceBatch.get()
    assert (receipt.batch_id, batch.batch_date, batch.status) == (batch.id, dt.date(2026, 11, 23), ReferenceBatch.OPEN)
    assert ledger.balances_for(quickpay.guarantor).current_balance == D("0.00")
    assert PatientSession.get_by_id(quickpay.id).payment_outcome == PaymentAttempt.PAID


def test_completing_twice_records_one_receipt(gateway, quickpay):
    attempt = attempt_of(begin(gateway, quickpay))
    token = pay_on_page(gateway, attempt)
    first = payments.complete(gateway, attempt, token)
    again = payments.complete(gateway, attempt, token)  # the back button, a reload: the same token
    stale = payments.complete(gateway, PaymentAttempt.get_by_id(attempt.id), token)
    assert first.status == again.status == stale.status == PaymentAttempt.PAID
    result = gateway.lookup(attempt.key)
    assert payments.settle(attempt, result).receipt_id == first.receipt_id  # a late settle changes nothing
    clock.advance(LATER)
    assert payments.settle_pending(gateway) == {}
    assert money(Receipt.select()) == [D("120.00")]
    assert Transaction.select().count() == 1 and ReceiptApplication.select().count() == 2
    assert SandboxCharge.select().count() == 1


def test_a_stale_form_is_refused_and_records_nothing(gateway, quickpay):
    shown = Guarantor.get_by_id(quickpay.guarantor_id).payment_seq
    begin(gateway, quickpay, seq=shown)
    with pytest.raises(payments.PaymentRefused, match="out of date"):
        begin(gateway, quickpay, seq=shown)  # a second tab, loaded before the first payment began
    assert PaymentAttempt.select().count() == 1


# --- declined, error, canceled ---------------------------------------------------------------

def test_a_declined_card_leaves_an_unsuccessful_zero_receipt(gateway, quickpay):
    attempt = attempt_of(begin(gateway, quickpay))
    attempt = payments.complete(gateway, attempt, pay_on_page(gateway, attempt, DECLINED))
    receipt = Receipt.get()
    assert (attempt.status, attempt.outcome, attempt.message) == (
        PaymentAttempt.DECLINED, PaymentAttempt.DECLINED, "Your card was declined.")
    assert (receipt.amount, receipt.status, receipt.decline_reason, receipt.refundable_amount) == (
        D("0.00"), Receipt.UNSUCCESSFUL, "Your card was declined.", D("0.00"))
    assert receipt.batch == ReferenceBatch.get()
    sale = Transaction.get()
    assert (sale.kind, sale.status, sale.amount) == (Transaction.SALE, Transaction.DECLINED, D("0.00"))
    assert ReceiptApplication.select().count() == 0
    assert ledger.balances_for(quickpay.guarantor).current_balance == D("120.00")
    assert PatientSession.get_by_id(quickpay.id).payment_outcome == PaymentAttempt.DECLINED


@pytest.mark.parametrize("how", ["processor error card", "error answer"])
def test_a_gateway_error_charges_nothing(gateway, signed_in, how):
    card = saved_card(signed_in.guarantor, behaviour="error" if how == "processor error card" else APPROVE)
    if how == "error answer":
        gateway.fail_next = ERROR
    attempt = attempt_of(begin(gateway, signed_in, card=card))
    assert (attempt.status, attempt.outcome, attempt.message) == (
        PaymentAttempt.ERROR, PaymentAttempt.NOT_COMPLETED,
        "The card processor had a problem, so the payment did not go through.")
    assert Receipt.select().count() == 0 and ReferenceBatch.select().count() == 0
    assert SandboxCharge.get().amount == D("0.00")
    assert PatientSession.get_by_id(signed_in.id).payment_outcome == PaymentAttempt.ERROR


def test_leaving_the_hosted_page_cancels_the_attempt(gateway, quickpay):
    attempt = attempt_of(begin(gateway, quickpay))
    checkout = SandboxCheckout.get(SandboxCheckout.token == attempt.gateway_checkout)
    checkout.close()  # "Cancel" on the hosted page
    attempt = payments.complete(gateway, attempt, gateway.result_token(checkout))
    assert (attempt.status, attempt.outcome, attempt.message) == (
        PaymentAttempt.CANCELED, PaymentAttempt.NOT_COMPLETED, payments.MSG_NOT_COMPLETED)
    assert Receipt.select().count() == 0 and SandboxCharge.select().count() == 0


def test_an_abandoned_checkout_is_canceled_by_the_settle_job_once_it_expires(gateway, quickpay):
    attempt = attempt_of(begin(gateway, quickpay))
    clock.advance(LATER)
    assert payments.settle_pending(gateway) == {"open": 1}  # the patient may still pay on it
    clock.advance(dt.timedelta(minutes=30))
    assert payments.settle_pending(gateway) == {"canceled": 1}
    assert PaymentAttempt.get_by_id(attempt.id).status == PaymentAttempt.CANCELED
    assert SandboxCheckout.get().status == SandboxCheckout.CANCELED and Receipt.select().count() == 0


# --- timeouts and lost answers ------------------------------------------------------------------

def test_a_timeout_before_the_gateway_acted_charges_nothing_and_the_same_form_recovers(gateway, quickpay):
    key = payments.new_key()
    shown = Guarantor.get_by_id(quickpay.guarantor_id).payment_seq
    gateway.fail_next = TIMEOUT
    started = begin(gateway, quickpay, key=key, seq=shown)
    attempt = attempt_of(started)
    assert started.redirect is None
    assert (attempt.status, attempt.outcome, attempt.message, attempt.gateway_checkout) == (
        PaymentAttempt.ATTEMPT, PaymentAttempt.NOT_COMPLETED, payments.MSG_UNAVAILABLE, "")
    assert SandboxCheckout.select().count() == 0 and SandboxCharge.select().count() == 0
    assert Receipt.select().count() == 0

    again = begin(gateway, quickpay, key=key, seq=shown)  # the patient sends the same form again
    assert again.attempt.id == attempt.id and again.redirect
    attempt = attempt_of(again)
    assert (attempt.status, attempt.message) == (PaymentAttempt.PENDING, "")
    attempt = payments.complete(gateway, attempt, pay_on_page(gateway, attempt))
    assert attempt.status == PaymentAttempt.PAID and money(Receipt.select()) == [D("120.00")]
    assert PaymentAttempt.select().count() == 1


def test_a_stored_card_charge_that_timed_out_before_the_gateway_is_closed_as_not_charged(gateway, signed_in):
    card = saved_card(signed_in.guarantor)
    gateway.fail_next = TIMEOUT
    attempt = attempt_of(begin(gateway, signed_in, card=card))
    assert (attempt.status, attempt.outcome) == (PaymentAttempt.PENDING, PaymentAttempt.CONFIRMING)
    clock.advance(LATER)
    assert payments.settle_pending(gateway) == {"canceled": 1}
    assert PaymentAttempt.get_by_id(attempt.id).status == PaymentAttempt.CANCELED
    assert SandboxCharge.select().count() == 0 and Receipt.select().count() == 0


def test_a_stored_card_charge_whose_answer_was_lost_is_recorded_once_by_the_settle_job(gateway, signed_in):
    card = saved_card(signed_in.guarantor)
    gateway.fail_next = LATE
    started = begin(gateway, signed_in, card=card)
    attempt = attempt_of(started)
    assert started.redirect is None
    assert (attempt.status, attempt.outcome) == (PaymentAttempt.PENDING, PaymentAttempt.CONFIRMING)
    assert SandboxCharge.get().amount == D("120.00")  # charged at the gateway
    assert Receipt.select().count() == 0  # ... and not known to POPS yet

    assert payments.settle_pending(gateway) == {}  # too young: left to the patient's own return
    clock.advance(LATER)
    gateway.unreachable = True
    assert payments.settle_pending(gateway) == {"unreachable": 1}
    gateway.unreachable = False
    assert payments.settle_pending(gateway) == {"paid": 1}
    assert payments.settle_pending(gateway) == {}
    assert payments.refresh(gateway, PaymentAttempt.get_by_id(attempt.id)).status == PaymentAttempt.PAID

    receipt = Receipt.get()
    assert (receipt.amount, receipt.status, receipt.received_date) == (D("120.00"), Receipt.PAID, dt.date(2026, 11, 23))
    assert Transaction.select().count() == 1 and SandboxCharge.select().count() == 1
    assert PaymentAttempt.get_by_id(attempt.id).receipt_id == receipt.id
    assert money(ReceiptApplication.select().order_by(ReceiptApplication.id)) == [D("50.00"), D("70.00")]


def test_a_confirmation_whose_answer_was_lost_is_recorded_once_when_the_patient_waits(gateway, quickpay):
    attempt = attempt_of(begin(gateway, quickpay))
    token = pay_on_page(gateway, attempt)
    gateway.fail_next = LATE  # the gateway marks the token used, then the answer is lost
    attempt = payments.complete(gateway, attempt, token)
    assert (attempt.status, attempt.outcome) == (PaymentAttempt.PENDING, PaymentAttempt.CONFIRMING)
    assert payments.complete(gateway, attempt, token).status == PaymentAttempt.PENDING  # the token is spent
    assert Receipt.select().count() == 0
    attempt = payments.refresh(gateway, attempt)  # the result page asks again while the patient waits
    assert attempt.status == PaymentAttempt.PAID
    assert payments.refresh(gateway, attempt).receipt_id == attempt.receipt_id
    clock.advance(LATER)
    assert payments.settle_pending(gateway) == {}
    assert money(Receipt.select()) == [D("120.00")] and Transaction.select().count() == 1


# --- refunds ------------------------------------------------------------------------------------

@pytest.fixture
def paid(gateway, quickpay) -> Receipt:
    attempt = attempt_of(begin(gateway, quickpay))
    payments.complete(gateway, attempt, pay_on_page(gateway, attempt))
    return Receipt.get()


def refunds() -> list[Transaction]:
    return list(Transaction.select().where(Transaction.kind == Transaction.REFUND).order_by(Transaction.id))


# Refunds on one $120.00 receipt, in order: amount, why it is refused (or None), then the receipt.
REFUND_STEPS = [
    ("30.00", None, Receipt.PARTIALLY_REFUNDED, "90.00"),
    ("95.00", "At most $90.00 can be refunded on this receipt.", Receipt.PARTIALLY_REFUNDED, "90.00"),
    ("90.00", None, Receipt.REFUNDED, "0.00"),
    ("0.01", "Only a paid POPS receipt can be refunded here.", Receipt.REFUNDED, "0.00"),
]


def test_refunds_within_and_beyond_the_refundable_amount(gateway, paid):
    staff = make_staff()
    made: list[Decimal] = []
    for amount, refused, status, refundable in REFUND_STEPS:
        if refused:
            with pytest.raises(payments.RefundRefused, match=re.escape(refused)):
                payments.refund(gateway, Receipt.get(), D(amount), staff)
        else:
            refund = payments.refund(gateway, Receipt.get(), D(amount), staff)
            made.append(D(amount))
            assert (refund.amount, refund.status, refund.staff_id) == (D(amount), Transaction.APPROVED, staff.id)
            assert refund.refund_receipt_number == f"{paid.number}-R{len(made)}"
            assert refund.batch == ReferenceBatch.get(ReferenceBatch.status == ReferenceBatch.OPEN)
        receipt = Receipt.get()
        assert (receipt.status, receipt.refundable_amount, receipt.refunded_amount) == (
            status, D(refundable), sum(made, D("0.00"))), amount
        assert money(refunds()) == made
        assert SandboxCharge.get().refunded == receipt.refunded_amount
        assert SandboxRefund.select().count() == len(made)
    # each refund came back off the visits, newest first: $30.00 then $40.00 off October, $50.00 off September
    applied = ReceiptApplication.select().order_by(ReceiptApplication.id)
    assert [(a.encounter.ext_id, a.amount) for a in applied] == [
        ("E1", D("50.00")), ("E2", D("70.00")), ("E2", D("-30.00")), ("E2", D("-40.00")), ("E1", D("-50.00"))]
    assert ledger.balances_for(paid.guarantor).current_balance == D("120.00")


def test_a_refund_whose_answer_was_lost_is_made_once_when_retried_with_its_key(gateway, paid):
    staff = make_staff()
    key = payments.new_key()
    gateway.fail_next = LATE
    with pytest.raises(payments.RefundRefused, match="did not answer"):
        payments.refund(gateway, paid, D("20.00"), staff, key=key)
    receipt = Receipt.get()
    assert SandboxRefund.select().count() == 1  # the gateway refunded ...
    assert refunds() == []  # ... and POPS does not know it yet
    assert (receipt.status, receipt.refunded_amount) == (Receipt.PAID, D("0.00"))

    refund = payments.refund(gateway, receipt, D("20.00"), staff, key=key)  # the same form, sent again
    again = payments.refund(gateway, Receipt.get(), D("20.00"), staff, key=key)
    assert again.id == refund.id and refunds() == [refund]
    assert refund.number == SandboxRefund.get().transaction and SandboxRefund.select().count() == 1
    receipt = Receipt.get()
    assert (receipt.status, receipt.refunded_amount, receipt.refundable_amount) == (
        Receipt.PARTIALLY_REFUNDED, D("20.00"), D("100.00"))
    assert SandboxCharge.get().refunded == D("20.00")


@pytest.mark.parametrize("fault, says", [
    (TIMEOUT, "did not answer"),
    (ERROR, "The card processor had a problem with the refund. Nothing was refunded."),
])
def test_a_refund_that_failed_at_the_gateway_refunds_nothing_and_can_be_tried_again(gateway, paid, fault, says):
    staff = make_staff()
    key = payments.new_key()
    gateway.fail_next = fault
    with pytest.raises(payments.RefundRefused, match=says):
        payments.refund(gateway, paid, D("20.00"), staff, key=key)
    receipt = Receipt.get()
    assert refunds() == [] and SandboxRefund.select().count() == 0
    assert (receipt.status, receipt.refunded_amount, receipt.refundable_amount) == (
        Receipt.PAID, D("0.00"), D("120.00"))
    payments.refund(gateway, receipt, D("20.00"), staff, key=key)
    assert money(refunds()) == [D("20.00")] and SandboxRefund.select().count() == 1
