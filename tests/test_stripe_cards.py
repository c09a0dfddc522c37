"""With Stripe: a card kept only when the patient ticks "store this card", paying with it (a PaymentIntent
confirmed with a return_url; 3-D Secure when the bank asks), removing it (detached), and cards another
gateway keeps (never offered)."""
from __future__ import annotations

from urllib.parse import urlsplit

from pops.gateways.stripe_tables import StripeCustomer
from pops.models import Group, PaymentAttempt, Receipt, StoredCard

from http_helpers import post_form, sign_in_as
from stripe_helpers import (  # noqa: F401 (fixtures)
    APPROVED,
    THREE_D_SECURE,
    account,
    browser,
    checkout,
    come_back,
    deliver,
    pay_form,
    start,
    stripe_app,
    stripe_server,
)


def _store(browser, account, stripe_server, card: str = APPROVED) -> StoredCard:
    """The patient pays on Stripe's page with "store this card" ticked; the card POPS keeps."""
    Group.update(enable_payment_method_storage=True).execute()
    session_id, key = checkout(browser, account, store_card="1")
    come_back(browser, stripe_server.pay_session(session_id, card)["redirect"])
    deliver(stripe_server)
    return StoredCard.get()


def _owe_again(account):
    from factories import make_encounter

    import datetime as dt
    make_encounter(account, "E3", date=dt.date(2026, 11, 1), charge="40.00")


def test_a_card_is_kept_only_when_the_patient_ticks_store(browser, account, stripe_server):
    Group.update(enable_payment_method_storage=True).execute()
    session_id, _ = checkout(browser, account)
    come_back(browser, stripe_server.pay_session(session_id, APPROVED)["redirect"])
    assert StoredCard.select().count() == 0


def test_store_then_pay_with_the_stored_card(browser, account, stripe_server):
    card = _store(browser, account, stripe_server)
    customer = StripeCustomer.get(StripeCustomer.guarantor == account).customer
    assert card.gateway == "stripe" and card.gateway_token.startswith("pm_") and card.last4 == "4242"
    assert stripe_server.get(card.gateway_token)["customer"] == customer
    _owe_again(account)
    response = start(browser, card=str(card.id), amount="current_balance")
    assert response.status_code == 303 and response.headers["location"].startswith("/pay/result/")
    assert "Payment received" in browser.get(response.headers["location"]).text
    attempt = PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get()
    intent = stripe_server.get(attempt.gateway_checkout)
    assert intent["status"] == "succeeded" and intent["customer"] == customer
    assert intent["payment_method"] == card.gateway_token
    create = [r for r in stripe_server.requests if r["path"] == "/v1/payment_intents"][0]
    assert create["idempotency_key"] == attempt.key
    assert create["params"]["return_url"] == f"http://testserver/pay/return/{attempt.key}"
    assert Receipt.select().where(Receipt.status == "paid").count() == 2


def test_three_d_secure_on_a_stored_card(browser, account, stripe_server):
    card = _store(browser, account, stripe_server)
    customer = StripeCustomer.get(StripeCustomer.guarantor == account).customer
    secure = StoredCard.create(guarantor=account, gateway_token=stripe_server.store_card(customer, THREE_D_SECURE),
                               brand="Visa", last4="3184", exp_month=12, exp_year=2030, gateway="stripe")
    _owe_again(account)
    response = start(browser, card=str(secure.id), amount="current_balance")
    assert response.status_code == 303
    bank_page = response.headers["location"]
    assert bank_page.startswith(stripe_server.three_ds_origin)  # sent to next_action.redirect_to_url
    attempt = PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get()
    assert attempt.status == "pending" and attempt.receipt is None
    back = stripe_server.authenticate(attempt.gateway_checkout, approve=True)
    assert urlsplit(back).path == f"/pay/return/{attempt.key}"
    assert "Payment received" in come_back(browser, back).text
    assert PaymentAttempt.get_by_id(attempt.id).status == "paid"
    deliver(stripe_server, twice=True)
    assert Receipt.select().where(Receipt.status == "paid").count() == 2 and card.id != secure.id


def test_three_d_secure_refused_is_a_decline(browser, account, stripe_server):
    card = _store(browser, account, stripe_server)
    customer = StripeCustomer.get(StripeCustomer.guarantor == account).customer
    secure = StoredCard.create(guarantor=account, gateway_token=stripe_server.store_card(customer, THREE_D_SECURE),
                               brand="Visa", last4="3184", exp_month=12, exp_year=2030, gateway="stripe")
    _owe_again(account)
    start(browser, card=str(secure.id), amount="current_balance")
    attempt = PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get()
    back = stripe_server.authenticate(attempt.gateway_checkout, approve=False)
    assert "Payment Failed" in come_back(browser, back).text
    assert PaymentAttempt.get_by_id(attempt.id).status == "declined" and card.removed_at is None


def test_removing_a_card_detaches_it(browser, account, stripe_server):
    card = _store(browser, account, stripe_server)
    assert post_form(browser, f"/pay/cards/{card.id}/remove").status_code == 303
    assert StoredCard.get_by_id(card.id).removed_at is not None
    assert stripe_server.get(card.gateway_token)["customer"] is None


def test_cards_another_gateway_keeps_are_not_offered(browser, account, stripe_server):
    Group.update(enable_payment_method_storage=True).execute()
    sandbox = StoredCard.create(guarantor=account, gateway_token="sbx_card_approve", brand="Visa", last4="1111",
                                exp_month=12, exp_year=2030, gateway="sandbox")
    sign_in_as(browser, account)
    assert "1111" not in browser.get("/pay").text
    response = post_form(browser, "/pay/start", {**pay_form(browser), "amount": "amount_due", "card": str(sandbox.id)})
    assert response.status_code == 400 and PaymentAttempt.select().count() == 0


def test_a_stored_card_charge_never_answered_is_replayed_with_its_key_once(browser, account, stripe_server):
    from pops import clock, payments

    import datetime as dt
    card = _store(browser, account, stripe_server)
    _owe_again(account)
    stripe_server.drop_next("payment_intent", created=True)
    response = start(browser, card=str(card.id), amount="current_balance")
    attempt = PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get()
    assert attempt.status == "pending" and attempt.gateway_checkout == ""
    # the result page asks again: the create is replayed with the same key and finds the charge
    assert "Payment received" in browser.get(response.headers["location"]).text
    assert PaymentAttempt.get_by_id(attempt.id).status == "paid"
    clock.advance(dt.timedelta(minutes=3))
    assert payments.settle_pending(browser.app.state.gateway) == {}
    assert len(stripe_server.objects("payment_intent")) == 2  # the first payment's and this one: no second charge
    assert len(stripe_server.charges()) == 2


def test_a_stored_card_charge_lost_for_a_day_is_left_to_staff_not_charged_again(browser, account, stripe_server):
    from pops import clock, payments

    import datetime as dt
    card = _store(browser, account, stripe_server)
    _owe_again(account)
    stripe_server.drop_next("payment_intent", created=False)
    start(browser, card=str(card.id), amount="current_balance")
    clock.advance(dt.timedelta(hours=25))
    payments.settle_pending(browser.app.state.gateway)
    attempt = PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get()
    assert attempt.needs_review and attempt.status == "pending"
    assert len(stripe_server.charges()) == 1
