"""With Stripe: declines on Stripe's page ($0.00 Unsuccessful receipts from webhooks; Payment Failed when
the patient gives up), lost and failed creates (replayed with the same key, or closed as not charged),
and Stripe's $0.50 minimum."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pops import clock, payments
from pops.models import Group, PaymentAttempt, Receipt, Transaction

from factories import make_statement
from http_helpers import sign_in_as
from stripe_helpers import (  # noqa: F401 (fixtures)
    APPROVED,
    DECLINED,
    INSUFFICIENT,
    account,
    browser,
    checkout,
    come_back,
    deliver,
    pay_key,
    start,
    stripe_app,
    stripe_server,
)

LATER = dt.timedelta(minutes=3)  # past the settle job's two minutes


def _cancel_url(key: str) -> str:
    return f"http://testserver/pay/return/{key}?canceled=1"


def test_each_decline_is_a_zero_receipt_from_its_webhook_then_another_card_pays(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    assert stripe_server.pay_session(session_id, DECLINED)["paid"] is False
    assert stripe_server.pay_session(session_id, INSUFFICIENT)["paid"] is False
    assert all(status == 200 for status in deliver(stripe_server, twice=True))
    declines = list(Receipt.select().where(Receipt.status == "unsuccessful").order_by(Receipt.id))
    assert [(r.amount, r.decline_reason) for r in declines] == [
        (Decimal("0.00"), "Your card was declined."), (Decimal("0.00"), "Your card has insufficient funds.")]
    assert all(r.last4 in ("0002", "9995") for r in declines)
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "pending"  # still payable on Stripe's page
    # the patient's Receipts list shows them as declined
    assert browser.get("/receipts").text.count("Unsuccessful") >= 2

    paid = stripe_server.pay_session(session_id, APPROVED)
    assert "Payment received" in come_back(browser, paid["redirect"]).text
    deliver(stripe_server)
    assert Receipt.select().where(Receipt.status == "paid").count() == 1
    assert Receipt.select().count() == 3


def test_cancelling_after_a_decline_shows_payment_failed(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    stripe_server.pay_session(session_id, DECLINED)
    deliver(stripe_server)
    page = come_back(browser, _cancel_url(key))
    assert "Payment Failed" in page.text and "Your card was declined." in page.text
    attempt = PaymentAttempt.get(PaymentAttempt.key == key)
    assert attempt.status == "declined" and attempt.receipt.status == "unsuccessful"
    assert stripe_server.get(session_id)["status"] == "expired"  # it can no longer be paid
    assert Receipt.select().count() == 1


def test_cancelling_without_paying_is_not_charged(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    page = come_back(browser, _cancel_url(key))
    assert "You were not charged" in page.text
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "canceled"
    assert stripe_server.get(session_id)["status"] == "expired" and Receipt.select().count() == 0
    deliver(stripe_server)  # checkout.session.expired: nothing more
    assert PaymentAttempt.get(PaymentAttempt.key == key).status == "canceled"


def test_a_stripe_500_on_create_is_not_charged_and_the_retry_charges_once(browser, account, stripe_server):
    stripe_server.fail_next("checkout.session", status=500)
    sign_in_as(browser, account)
    response = start(browser)
    assert response.status_code == 303 and response.headers["location"].startswith("/pay/result/")
    page = browser.get(response.headers["location"])
    assert "You were not charged" in page.text
    first = PaymentAttempt.get()
    assert first.status == "error" and first.gateway_checkout == ""
    # the patient tries again: a new attempt, a new key, one charge
    response = start(browser)
    assert response.headers["location"].startswith(stripe_server.checkout_origin)
    second = PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get()
    assert second.key != first.key
    paid = stripe_server.pay_session(second.gateway_checkout, APPROVED)
    assert "Payment received" in come_back(browser, paid["redirect"]).text
    clock.advance(LATER)
    payments.settle_pending(browser.app.state.gateway)
    deliver(stripe_server)
    assert len(stripe_server.charges()) == 1 and Receipt.select().count() == 1
    assert PaymentAttempt.get_by_id(first.id).status == "error"


def test_a_create_never_answered_is_replayed_with_its_key_by_the_settle_job(browser, account, stripe_server):
    stripe_server.drop_next("checkout.session", created=True)
    sign_in_as(browser, account)
    response = start(browser)
    assert response.headers["location"].startswith("/pay/result/")
    attempt = PaymentAttempt.get()
    assert attempt.status == "attempt" and attempt.gateway_checkout == ""
    assert "You were not charged" in browser.get(response.headers["location"]).text
    clock.advance(LATER)
    payments.settle_pending(browser.app.state.gateway)
    attempt = PaymentAttempt.get()
    created = stripe_server.objects("checkout.session")
    assert len(created) == 1 and attempt.gateway_checkout == created[0]["id"]  # the same session, replayed
    # the patient, told nothing was charged, pays again: the lost session is expired first
    response = start(browser)
    assert response.headers["location"].startswith(stripe_server.checkout_origin)
    assert stripe_server.get(created[0]["id"])["status"] == "expired"
    assert PaymentAttempt.get_by_id(attempt.id).status == "canceled"


def test_a_lost_create_is_left_to_staff_after_a_day(browser, account, stripe_server):
    stripe_server.drop_next("checkout.session", created=False)
    sign_in_as(browser, account)
    start(browser)
    clock.advance(dt.timedelta(hours=25))
    payments.settle_pending(browser.app.state.gateway)
    attempt = PaymentAttempt.get()
    assert attempt.needs_review and attempt.status == "attempt"
    assert not stripe_server.objects("checkout.session")
    assert payments.settle_pending(browser.app.state.gateway) == {}  # the job no longer asks


def test_a_replay_refused_for_its_expires_at_closes_the_attempt_as_not_charged(browser, account, stripe_server):
    stripe_server.drop_next("checkout.session", created=False)
    sign_in_as(browser, account)
    start(browser)
    clock.advance(dt.timedelta(hours=1))  # created + 31 minutes is past: Stripe refuses that expires_at
    payments.settle_pending(browser.app.state.gateway)
    attempt = PaymentAttempt.get()
    assert attempt.status == "error" and attempt.outcome == "not_completed"
    assert not stripe_server.objects("checkout.session") and Receipt.select().count() == 0


def test_under_fifty_cents_is_never_sent_to_stripe(browser, guarantor, stripe_server):
    Group.update(show_current_balance=False).execute()
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), balance="0.30", amount_due="0.30")
    from factories import make_encounter

    make_encounter(guarantor, "E1", date=dt.date(2026, 10, 1), charge="5.00")
    sign_in_as(browser, guarantor)
    page = browser.get("/pay")
    assert "Balances under $1.00 cannot be paid online" in page.text and 'name="amount"' not in page.text
    response = start_without_form(browser, guarantor)
    assert response.status_code == 400 and "Balances under $1.00 cannot be paid online" in response.text
    assert PaymentAttempt.select().count() == 0 and not stripe_server.requests


def start_without_form(client, guarantor):
    from http_helpers import post_form

    from pops import payments as p

    return post_form(client, "/pay/start", {"key": p.new_key(), "seq": str(guarantor.payment_seq),
                                            "account": guarantor.account, "amount": "amount_due"})


def test_the_pay_form_asks_whether_to_store_the_card(browser, account, stripe_server):
    Group.update(enable_payment_method_storage=True).execute()
    sign_in_as(browser, account)
    assert 'name="store_card"' in browser.get("/pay").text
    start(browser, store_card="1")
    attempt = PaymentAttempt.get()
    assert attempt.store_card
    params = [r for r in stripe_server.requests if r["path"] == "/v1/checkout/sessions"][0]["params"]
    assert params["payment_intent_data"]["setup_future_usage"] == "off_session"
    assert params["customer"].startswith("cus_")
    assert Transaction.select().count() == 0


def test_an_attempt_stripe_cannot_see_is_left_alone_or_to_staff_never_a_crash(browser, account, stripe_server):
    session_id, key = checkout(browser, account)
    PaymentAttempt.update(gateway_checkout="cs_test_unknown_to_stripe").execute()
    clock.advance(LATER)
    assert payments.settle_pending(browser.app.state.gateway) == {"unreachable": 1}  # asked again next time
    assert "Confirming your payment" in browser.get(f"/pay/result/{key}").text
    PaymentAttempt.update(live=True).execute()  # made with the live key; this is the test-mode one
    payments.settle_pending(browser.app.state.gateway)
    attempt = PaymentAttempt.get()
    assert attempt.needs_review and attempt.status == "pending"


def test_pops_jobs_lists_the_attempt_left_to_staff(browser, account, stripe_server):
    from pops.jobs import listing

    stripe_server.drop_next("checkout.session", created=False)
    sign_in_as(browser, account)
    start(browser)
    clock.advance(dt.timedelta(hours=25))
    payments.settle_pending(browser.app.state.gateway)
    assert "needs staff review" in listing.text(limit=10)
