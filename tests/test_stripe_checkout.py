"""Paying with POPS_GATEWAY=stripe against the Stripe-compatible test server: the Checkout Session POPS
opens, the patient's return, the webhooks (early, late, twice, out of order, forged), and the two
meeting on one receipt."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from pops.gateways.stripe_tables import StripeEvent
from pops.models import PaymentAttempt, Receipt, ReceiptApplication, Transaction

from stripe_helpers import (  # noqa: F401 (fixtures)
    APPROVED,
    account,
    browser,
    checkout,
    come_back,
    deliver,
    stripe_app,
    stripe_server,
)


def test_the_checkout_session_is_the_attempt_as_the_issue_lists_it(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    attempt = PaymentAttempt.get(PaymentAttempt.key == key)
    assert attempt.gateway_checkout == session_id and attempt.gateway == "stripe" and not attempt.live
    create = [r for r in stripe_server.requests if r["path"] == "/v1/checkout/sessions"][0]
    assert create["idempotency_key"] == key
    params = create["params"]
    assert params["mode"] == "payment" and params["payment_method_types"] == ["card"]
    line = params["line_items"][0]
    assert line["price_data"]["unit_amount"] == "12000" and line["price_data"]["currency"] == "usd"
    assert line["price_data"]["product_data"]["name"] == "Payment to Riverside Family Medicine, account A1001"
    assert params["client_reference_id"] == key
    metadata = {"pops_attempt": key, "pops_practice": "RFM", "pops_account": "A1001"}
    assert params["metadata"] == metadata and params["payment_intent_data"]["metadata"] == metadata
    assert int(params["expires_at"]) == int(attempt.created_at.timestamp()) + 31 * 60
    assert params["success_url"] == f"http://testserver/pay/return/{key}?session_id={{CHECKOUT_SESSION_ID}}"
    assert params["cancel_url"] == f"http://testserver/pay/return/{key}?canceled=1"
    assert "setup_future_usage" not in params["payment_intent_data"]


def test_a_return_and_no_webhook_settles_once(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    paid = stripe_server.pay_session(session_id, APPROVED)
    page = come_back(browser, paid["redirect"])
    assert "Payment received" in page.text
    attempt = PaymentAttempt.get(PaymentAttempt.key == key)
    receipt = attempt.receipt
    assert attempt.status == "paid" and receipt.amount == Decimal("120.00") and receipt.status == "paid"
    assert (receipt.card_type, receipt.last4) == ("Visa", "4242")
    sale = Transaction.get(Transaction.receipt == receipt)
    assert sale.number.startswith("pi_") and sale.gateway == "stripe"
    assert sum(a.amount for a in ReceiptApplication.select()) == Decimal("120.00")
    # the events arrive afterwards, each twice: nothing more happens
    assert all(status == 200 for status in stripe_server.release_events(twice=True))
    assert Receipt.select().count() == 1 and PaymentAttempt.get_by_id(attempt.id).status == "paid"
    assert StripeEvent.select().where(StripeEvent.type == "checkout.session.completed").count() == 1


def test_a_webhook_before_the_patient_returns(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    paid = stripe_server.pay_session(session_id, APPROVED)
    assert all(status == 200 for status in stripe_server.release_events())
    attempt = PaymentAttempt.get(PaymentAttempt.key == key)
    assert attempt.status == "paid" and Receipt.select().count() == 1
    page = come_back(browser, paid["redirect"])
    assert "Payment received" in page.text and Receipt.select().count() == 1


def test_expired_after_completed_changes_nothing(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    stripe_server.pay_session(session_id, APPROVED)
    completed = stripe_server.events("checkout.session.completed")[0]
    stripe_server.release_events()
    # an expired event for the same session arriving later (as Stripe would never, but order is not promised)
    expired = {**completed, "id": "evt_expired_late", "type": "checkout.session.expired",
               "data": {"object": {**completed["data"]["object"], "status": "expired"}}}
    status = stripe_server.webhooks.send(expired)
    assert status == 200
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "paid" and Receipt.select().count() == 1


def test_events_out_of_order_and_twice_end_the_same(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    stripe_server.pay_session(session_id, APPROVED)
    held = len(stripe_server.held_events)
    statuses = stripe_server.release_events(order=list(reversed(range(held))), twice=True)
    assert all(status == 200 for status in statuses)
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "paid"
    assert Receipt.select().count() == 1 and Transaction.select().count() == 1


def test_a_forged_or_stale_signature_is_refused_and_changes_nothing(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    stripe_server.pay_session(session_id, APPROVED)
    event = stripe_server.events("checkout.session.completed")[0]
    stripe_server.webhooks.hold()  # nothing else is delivered meanwhile
    assert stripe_server.send_event(event["id"], secret="whsec_not_pops") == 400
    assert stripe_server.send_event(event["id"], timestamp=int(time.time()) - 6 * 60) == 400
    tampered = json.dumps({**event, "data": {"object": {**event["data"]["object"], "amount_total": 1}}}).encode()
    assert stripe_server.send_event(event["id"], payload=tampered) == 400
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "pending"
    assert Receipt.select().count() == 0 and StripeEvent.select().count() == 0
    assert stripe_server.send_event(event["id"]) == 200  # the genuine one, in time
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "paid"


def test_an_event_about_nothing_pops_made_is_ignored(browser, account, stripe_server):
    client = stripe_server.client()
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://example.org/ok", "cancel_url": "https://example.org/no",
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 900,
                                                      "product_data": {"name": "Not POPS"}}}],
    })
    stripe_server.pay_session(session.id, APPROVED)
    assert all(status == 200 for status in stripe_server.release_events())
    assert Receipt.select().count() == 0 and PaymentAttempt.select().count() == 0


def test_a_swapped_session_id_in_the_return_url_is_never_read(browser, account, guarantor, stripe_server):
    # Another attempt (another key) is paid; this patient's own session is not.
    session_id, key = checkout(browser, account)
    other_client = stripe_server.client()
    paid_elsewhere = other_client.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://example.org/ok", "cancel_url": "https://example.org/no",
        "client_reference_id": key, "metadata": {"pops_attempt": key},
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 12000,
                                                      "product_data": {"name": "x"}}}],
    })
    stripe_server.pay_session(paid_elsewhere.id, APPROVED)
    page = come_back(browser, f"http://testserver/pay/return/{key}?session_id={paid_elsewhere.id}")
    assert "Payment received" not in page.text
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "pending" and Receipt.select().count() == 0


def test_an_async_payment_settles_when_stripe_says_it_succeeded(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    paid = stripe_server.pay_session(session_id, APPROVED, async_payment=True)
    assert "Confirming your payment" in come_back(browser, paid["redirect"]).text
    deliver(stripe_server)  # checkout.session.completed, payment_status unpaid
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "pending" and Receipt.select().count() == 0
    stripe_server.settle_async(session_id, succeeded=True)
    assert all(status == 200 for status in deliver(stripe_server, twice=True))
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "paid" and Receipt.select().count() == 1


@pytest.mark.parametrize("reverse", [False, True])
def test_an_async_payment_that_fails_is_one_declined_receipt_whatever_the_order(browser, account, stripe_server, reverse):
    session_id, key = checkout(browser, account)
    stripe_server.pay_session(session_id, APPROVED, async_payment=True)
    deliver(stripe_server)
    stripe_server.settle_async(session_id, succeeded=False)
    held = len(stripe_server.held_events)
    order = list(range(held))
    assert all(status == 200 for status in deliver(stripe_server, order=order[::-1] if reverse else order))
    attempt = PaymentAttempt.get(PaymentAttempt.key == key)
    assert attempt.status == "declined" and attempt.receipt.status == "unsuccessful"
    assert Receipt.select().count() == 1 and Receipt.get().amount == Decimal("0.00")


def test_a_webhook_stripe_cannot_answer_about_is_refused_then_taken_when_delivered_again(browser, account,
                                                                                         stripe_server):
    session_id, key = checkout(browser, account)
    stripe_server.pay_session(session_id, APPROVED)
    completed = stripe_server.events("checkout.session.completed")[0]
    stripe_server.rate_limit_next()  # POPS asks Stripe about the session: 429
    assert stripe_server.send_event(completed["id"]) == 503
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "pending" and StripeEvent.select().count() == 0
    assert stripe_server.send_event(completed["id"]) == 200  # Stripe delivers it again
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "paid"


@pytest.mark.parametrize("body, signature", [
    (b"", ""),
    (b"{}", "t=1,v1=00"),
    (b"\xff\xfe not json", "garbage"),
    (b'{"id": "evt_1"}', None),  # signed genuinely, but no event inside
    (b"[1, 2, 3]", None),
    (b"not json at all", None),
])
def test_malformed_webhooks_are_a_400_and_change_nothing(stripe_app, stripe_server, body, signature):
    import time as clock_time

    import stripe as stripe_library
    from starlette.testclient import TestClient

    if signature is None:
        signature = stripe_library.WebhookSignature._compute_signature(
            f"{int(clock_time.time())}.{body.decode()}", stripe_server.webhook_secret)
        signature = f"t={int(clock_time.time())},v1={signature}"
    with TestClient(stripe_app) as stripe_side:
        answer = stripe_side.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": signature,
                                                                             "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert StripeEvent.select().count() == 0
