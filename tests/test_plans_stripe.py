"""A payment plan with Stripe (the test server): the first payment on Stripe's page keeps the card
(setup_future_usage), the plan is made as it is recorded paid, and the job charges an instalment as a
PaymentIntent on the stored card under the instalment's own idempotency key."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

from pops import clock
from pops.jobs import runner
from pops.models import Group, PaymentAttempt, StoredCard
from pops.plans.tables import Instalment, PaymentPlan

from http_helpers import post_form, sign_in_as
from stripe_helpers import (  # noqa: F401 (fixtures)
    APPROVED,
    THREE_D_SECURE,
    account,
    browser,
    come_back,
    deliver,
    stripe_app,
    stripe_server,
)


def set_up(browser, account, stripe_server) -> PaymentPlan:
    Group.update(payment_plans=True, enable_payment_method_storage=True).execute()
    sign_in_as(browser, account)
    page = browser.get("/pay/plan/review", params={"months": "3", "day": "15"}).text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    response = post_form(browser, "/pay/plan/start", {**form, "agree": "1"})
    session_id = re.search(r"/(cs_[A-Za-z0-9_]+)", response.headers["location"]).group(1)
    come_back(browser, stripe_server.pay_session(session_id, APPROVED)["redirect"])
    deliver(stripe_server)
    return PaymentPlan.get()


def test_a_bank_asking_to_confirm_an_instalment(browser, account, stripe_server, stripe_app):
    from pops.gateways.stripe_tables import StripeCustomer

    plan = set_up(browser, account, stripe_server)
    customer = StripeCustomer.get(StripeCustomer.guarantor == account).customer
    secure = StoredCard.create(guarantor=account, gateway_token=stripe_server.store_card(customer, THREE_D_SECURE),
                               brand="Visa", last4="3184", exp_month=12, exp_year=2030, gateway="stripe")
    PaymentPlan.update(stored_card=secure).where(PaymentPlan.id == plan.id).execute()
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    assert runner.run_once(stripe_app.state.settings, stripe_app.state.gateway)["plans_pending"] == 1
    attempt = PaymentAttempt.get(PaymentAttempt.entrance == "plan")
    assert attempt.status == "pending"  # the bank wants the patient: not a decline, the charge waits
    create = [r for r in stripe_server.requests if r["path"] == "/v1/payment_intents"][-1]
    assert create["params"]["off_session"] == "true" and "return_url" not in create["params"]  # the patient is away
    assert runner.run_once(stripe_app.state.settings, stripe_app.state.gateway).get("plans_charged") is None
    assert PaymentAttempt.get_by_id(attempt.id).status == "pending"  # the settle job leaves it waiting too
    sign_in_as(browser, account)
    page = browser.get("/pay/plan").text
    assert 'data-testid="plan-bank"' in page
    to_bank = post_form(browser, "/pay/plan/confirm")
    assert to_bank.status_code == 303 and to_bank.headers["location"].startswith(stripe_server.three_ds_origin)
    back = stripe_server.authenticate(attempt.gateway_checkout, approve=True)
    assert "Payment received" in come_back(browser, back).text
    runner.run_once(stripe_app.state.settings, stripe_app.state.gateway)
    assert Instalment.get(Instalment.number == 1).status == "paid"
    assert 'data-testid="plan-bank"' not in browser.get("/pay/plan").text
    assert post_form(browser, "/pay/plan/confirm").status_code == 400  # nothing left to confirm


def test_a_plan_set_up_and_charged_through_stripe(browser, account, stripe_server, stripe_app):
    Group.update(payment_plans=True, enable_payment_method_storage=True).execute()
    sign_in_as(browser, account)
    page = browser.get("/pay/plan/review", params={"months": "3", "day": "15"}).text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    response = post_form(browser, "/pay/plan/start", {**form, "agree": "1"})
    assert response.status_code == 303, response.text
    session_id = re.search(r"/(cs_[A-Za-z0-9_]+)", response.headers["location"]).group(1)
    created = [r for r in stripe_server.requests if r["path"] == "/v1/checkout/sessions"][-1]
    assert created["params"]["payment_intent_data"]["setup_future_usage"] == "off_session"  # the card is kept
    assert PaymentPlan.select().count() == 0  # nothing until the first payment is paid
    come_back(browser, stripe_server.pay_session(session_id, APPROVED)["redirect"])
    deliver(stripe_server)
    plan = PaymentPlan.get()
    card = StoredCard.get()
    assert plan.stored_card_id == card.id and card.gateway == "stripe" and card.gateway_token.startswith("pm_")
    assert [i.amount for i in plan.instalments.order_by(Instalment.number)] == [D("40.00"), D("40.00")]

    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    assert runner.run_once(stripe_app.state.settings, stripe_app.state.gateway)["plans_charged"] == 1
    attempt = PaymentAttempt.get(PaymentAttempt.entrance == "plan")
    assert attempt.status == "paid" and attempt.gateway == "stripe"
    intent = stripe_server.get(attempt.gateway_checkout)
    assert intent["status"] == "succeeded" and intent["payment_method"] == card.gateway_token
    create = [r for r in stripe_server.requests if r["path"] == "/v1/payment_intents"][-1]
    assert create["idempotency_key"] == attempt.key == f"{plan.key[:40]}-i1-t1"
    assert create["params"]["off_session"] == "true"  # a merchant-initiated charge
    assert runner.run_once(stripe_app.state.settings, stripe_app.state.gateway).get("plans_charged") is None
