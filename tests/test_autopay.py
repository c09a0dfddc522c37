"""Autopay over HTTP and through the job: the limit, the card and the notice choice, the authorisation
ticked and kept; each new statement's Amount Due charged on its due date, up to the cap, less what a
plan covers; notices 10 and 3 days before."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest

from pops import clock
from pops.gateways.sandbox_tables import SandboxCardToken
from pops.jobs import runner
from pops.models import AuditLog, Group, Guarantor, OutboxMessage, PaymentAttempt, StoredCard
from pops.plans.tables import Autopay, PlanNotice

from factories import make_encounter, make_patient, make_statement
from http_helpers import post_form, sign_in_as


@pytest.fixture
def autopay_on(group):
    Group.update(autopay=True, enable_payment_method_storage=True, autopay_cap=D("200.00")).execute()
    return Group.get_by_id(group.id)


@pytest.fixture
def card(autopay_on, guarantor):
    Guarantor.update(email="maria@example.org", mobile="").where(Guarantor.id == guarantor.id).execute()
    token = SandboxCardToken.create(token="sbx_card_autopay", brand="Visa", last4="4242", exp_month=12, exp_year=2030)
    return StoredCard.create(guarantor=guarantor, gateway_token=token.token, brand="Visa", last4="4242",
                             exp_month=12, exp_year=2030)


def turn_on(client, stored, **fields):
    return post_form(client, "/pay/autopay", {"card": str(stored.id), "cap": "150.00", "notice": "each", "agree": "1",
                                              **fields})


def statement(guarantor, number, amount, day, due):
    patient = make_patient(guarantor, f"P-{number}", "Maria", "Lopez")
    make_encounter(guarantor, f"E-{number}", patient=patient, date=day, charge=amount)
    make_statement(guarantor, number, date=day, due_date=due, balance=amount, amount_due=amount)


def run_jobs(app):
    return runner.run_once(app.state.settings, app.state.gateway)


def test_autopay_is_offered_on_pay_and_turned_on_with_its_authorisation(client, card, guarantor):
    sign_in_as(client, guarantor)
    assert 'href="/pay/autopay"' in client.get("/pay").text
    page = client.get("/pay/autopay").text
    assert "up to $200.00 a statement" in page and "Visa ending in 4242" in page
    assert turn_on(client, card).status_code == 303
    autopay = Autopay.get()
    assert (autopay.cap, autopay.notice, autopay.stored_card_id, autopay.authorisation_version) == (
        D("150.00"), "each", card.id, "autopay-en-1")
    assert "up to $150.00 a statement" in autopay.authorisation and "10 days before" in autopay.authorisation
    copy = OutboxMessage.get(OutboxMessage.purpose == "plan_authorisation")
    assert copy.recipient == "maria@example.org" and "up to $150.00" in copy.body
    assert 'data-testid="autopay-on"' in client.get("/pay/autopay").text
    assert AuditLog.get(AuditLog.action == "autopay_on")
    assert post_form(client, "/pay/autopay/off").status_code == 303
    assert Autopay.get().ended_at is not None


@pytest.mark.parametrize("fields, message", [
    ({"agree": ""}, "tick the box"),
    ({"cap": "0"}, "limit from $1.00"),
    ({"cap": "abc"}, "limit from $1.00"),
    ({"notice": "never"}, "when we tell you"),
    ({"card": "999"}, "choose a saved card"),
])
def test_bad_autopay_input_is_refused_and_nothing_is_stored(client, card, guarantor, fields, message):
    sign_in_as(client, guarantor)
    refused = turn_on(client, card, **fields)
    assert refused.status_code == 400 and message in refused.text
    assert Autopay.select().count() == 0


def test_a_link_alone_cannot_turn_autopay_on(client, card, guarantor):
    sign_in_as(client, guarantor, quickpay=True, origin="sms_link")
    assert turn_on(client, card).status_code == 303  # to sign in with a code first
    assert Autopay.select().count() == 0


def test_each_new_statement_is_charged_on_its_due_date_up_to_the_cap(client, card, guarantor, app):
    sign_in_as(client, guarantor)
    turn_on(client, card)
    statement(guarantor, "S-10", "120.00", dt.date(2026, 11, 25), dt.date(2026, 12, 20))
    clock.freeze(dt.datetime(2026, 12, 10, 16, 0, tzinfo=dt.timezone.utc))  # 10 days before
    run_jobs(app)
    upcoming = OutboxMessage.get(OutboxMessage.purpose == "plan_autopay_upcoming")
    assert "$120.00" in upcoming.body and "Dec 20, 2026" in upcoming.body  # by email: the amount may be said
    run_jobs(app)
    assert OutboxMessage.select().where(OutboxMessage.purpose == "plan_autopay_upcoming").count() == 1
    clock.freeze(dt.datetime(2026, 12, 17, 16, 0, tzinfo=dt.timezone.utc))
    run_jobs(app)
    assert OutboxMessage.get(OutboxMessage.purpose == "plan_autopay_reminder")
    assert PaymentAttempt.select().where(PaymentAttempt.entrance == "autopay").count() == 0
    clock.freeze(dt.datetime(2026, 12, 20, 16, 0, tzinfo=dt.timezone.utc))
    assert run_jobs(app)["plans_autopay_charged"] == 1
    assert run_jobs(app).get("plans_autopay_charged") is None  # once
    paid = PaymentAttempt.get(PaymentAttempt.entrance == "autopay")
    assert (paid.status, paid.amount, paid.receipt.amount) == ("paid", D("120.00"), D("120.00"))
    # a later statement above the cap is not charged, and the patient is told
    statement(guarantor, "S-11", "180.00", dt.date(2026, 12, 25), dt.date(2027, 1, 20))
    clock.freeze(dt.datetime(2027, 1, 20, 16, 0, tzinfo=dt.timezone.utc))
    assert run_jobs(app)["plans_autopay_over_cap"] == 1
    assert PlanNotice.get(PlanNotice.kind == "autopay_over_cap").channel == "email"
    assert PaymentAttempt.select().where(PaymentAttempt.entrance == "autopay").count() == 1


def test_a_statement_a_plan_covers_is_not_charged_and_only_the_rest_is(client, card, guarantor, app):
    from pops.plans.tables import Instalment, PaymentPlan, PlanOffer

    sign_in_as(client, guarantor)
    turn_on(client, card)
    statement(guarantor, "S-20", "120.00", dt.date(2026, 11, 25), dt.date(2026, 12, 20))
    offer = PlanOffer.create(key="k" * 30, guarantor=guarantor, terms="{}", authorisation="", authorisation_version="x")
    plan = PaymentPlan.create(guarantor=guarantor, offer=offer, key=offer.key, balance=D("120.00"),
                              down_payment=D("0.00"), months=2, day_of_month=1, stored_card=card)
    instalment = Instalment.create(plan=plan, number=1, due_date=dt.date(2027, 1, 1), amount=D("120.00"))
    clock.freeze(dt.datetime(2026, 12, 20, 16, 0, tzinfo=dt.timezone.utc))
    assert "plans_autopay_charged" not in run_jobs(app)  # wholly covered by the plan
    Instalment.update(amount=D("100.00")).where(Instalment.id == instalment.id).execute()
    assert run_jobs(app)["plans_autopay_charged"] == 1  # the $20.00 no plan covers
    assert PaymentAttempt.get(PaymentAttempt.entrance == "autopay").amount == D("20.00")
