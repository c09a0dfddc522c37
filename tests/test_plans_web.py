"""Pay over time, over HTTP through the sandbox's hosted page: the schedule and Truth in Lending box
first, the agreement, the first payment; a plan only once it is paid; the job charging instalments."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D
from urllib.parse import urlsplit

import pytest

from pops import clock, ledger
from pops.gateways.sandbox_tables import SandboxCardToken, SandboxCharge
from pops.jobs import runner
from pops.models import AuditLog, Encounter, Group, Guarantor, OutboxMessage, PaymentAttempt, Receipt, StoredCard
from pops.plans import charging
from pops.plans.tables import Instalment, PaymentPlan, PlanNotice, PlanOffer, TextConsent

from factories import add_line, owe
from http_helpers import counting_statements, open_browser, post_form, sign_in_as

APPROVED = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"


@pytest.fixture
def plans_on(group):
    Group.update(payment_plans=True, enable_payment_method_storage=True).where(Group.id == group.id).execute()
    return Group.get_by_id(group.id)


@pytest.fixture
def owing(plans_on, guarantor):
    owe(guarantor, "300.00", "300.00")
    Guarantor.update(mobile="+15555550123", email="").where(Guarantor.id == guarantor.id).execute()
    return Guarantor.get_by_id(guarantor.id)


def review(client, **query):
    return client.get("/pay/plan/review", params={"months": "3", "day": "15", **query})


def hidden(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def agree(client, texts="yes", **query):
    page = review(client, **query)
    assert page.status_code == 200, page.text
    form = {**hidden(page.text), "agree": "1", "texts": texts}
    return post_form(client, "/pay/plan/start", form)


def hosted(client, response, number=APPROVED):
    assert response.status_code == 303, response.text
    path = urlsplit(response.headers["location"]).path
    assert path.startswith("/sandbox-gateway/checkout/")
    page = client.get(path)
    assert "stored for the payment plan" in page.text  # no tick asked: the patient agreed on POPS's page
    back = client.post(path, data={"number": number, "expiry": "12/30", "cvc": "123"})
    url = urlsplit(back.headers["location"])
    assert url.path.startswith("/pay/plan/return/")
    done = client.get(f"{url.path}?{url.query}")
    assert done.status_code == 303
    return client.get(done.headers["location"])


def test_pay_offers_pay_over_time_only_when_the_group_does(client, guarantor, group):
    owe(guarantor, "300.00", "300.00")
    sign_in_as(client, guarantor)
    assert "Pay over time" not in client.get("/pay").text
    Group.update(payment_plans=True, enable_payment_method_storage=True).execute()
    assert 'href="/pay/plan"' in client.get("/pay").text


def test_a_plan_set_up_end_to_end(client, owing):
    sign_in_as(client, owing)
    page = review(client)
    text = page.text
    for shown in ("$100.00", "Dec 15, 2026", "Jan 15, 2027", "Truth in Lending", "Annual Percentage Rate", "0 %",
                  "Finance Charge", "Amount Financed", "Total of Payments", "Total Sale Price", "Riverside"):
        assert shown in text, shown
    assert re.search(r'data-testid="schedule-total">\$300.00<', text)
    assert PlanOffer.select().count() == 0 and PaymentAttempt.select().count() == 0  # nothing happened yet

    done = hosted(client, agree(client))
    assert "Your payment plan is set up" in done.text
    plan = PaymentPlan.get()
    assert (plan.status, plan.balance, plan.months, plan.day_of_month) == ("active", D("300.00"), 3, 15)
    assert [(i.due_date, i.amount) for i in plan.instalments.order_by(Instalment.number)] == [
        (dt.date(2026, 12, 15), D("100.00")), (dt.date(2027, 1, 15), D("100.00"))]
    assert plan.stored_card.last4 == "4242" and StoredCard.select().count() == 1
    assert Receipt.get().amount == D("100.00")
    assert ledger.balances_for(owing).current_balance == D("200.00")
    consent = TextConsent.get()
    assert (consent.granted, consent.mobile, consent.how) == (True, "+15555550123", "plan set-up (portal)")
    sms = OutboxMessage.get(OutboxMessage.purpose == "plan_started")
    assert sms.channel == "sms" and "$" not in sms.body  # never an amount in a text
    assert AuditLog.get(AuditLog.action == "plan_started")
    page = client.get("/pay/plan")
    assert 'data-testid="plan-status">Active<' in page.text and "$200.00" in page.text
    assert "I authorise Riverside" in client.get("/pay/plan/authorisation").text


def test_the_authorisation_is_emailed_when_there_is_an_address_and_notices_fall_back_to_email(client, owing):
    Guarantor.update(mobile="", email="maria@example.org").where(Guarantor.id == owing.id).execute()
    sign_in_as(client, owing)
    hosted(client, agree(client, texts=""))
    copy = OutboxMessage.get(OutboxMessage.purpose == "plan_authorisation")
    assert copy.channel == "email" and copy.recipient == "maria@example.org"
    assert "I authorise Riverside" in copy.body and PlanOffer.get().authorisation_version == "plan-en-1"
    assert OutboxMessage.get(OutboxMessage.purpose == "plan_started").channel == "email"
    assert TextConsent.select().count() == 0  # no mobile: no texting question


def test_without_mobile_or_email_notices_show_on_the_plan_page(client, owing, app):
    Guarantor.update(mobile="", email="").where(Guarantor.id == owing.id).execute()
    sign_in_as(client, owing)
    hosted(client, agree(client, texts=""))
    assert PlanNotice.get(PlanNotice.kind == "started").channel == "page"
    assert 'data-testid="plan-notice"' in client.get("/pay/plan").text
    assert OutboxMessage.select().where(OutboxMessage.purpose.startswith("plan_")).count() == 0


@pytest.mark.parametrize("ending", ["declined", "abandoned"])
def test_a_first_payment_not_paid_leaves_no_plan_and_no_card(client, owing, ending):
    sign_in_as(client, owing)
    response = agree(client)
    if ending == "declined":
        done = hosted(client, response, DECLINED)
    else:
        path = urlsplit(response.headers["location"]).path
        back = client.post(f"{path}/cancel")
        url = urlsplit(back.headers["location"])
        done = client.get(client.get(f"{url.path}?{url.query}").headers["location"])
    assert "No payment plan was set up" in done.text
    assert PaymentPlan.select().count() == 0 and StoredCard.select().count() == 0
    assert SandboxCharge.select().where(SandboxCharge.status == "approved").count() == 0


def test_quickpay_alone_is_not_enough(client, owing):
    sign_in_as(client, owing, quickpay=True, origin="sms_link")
    assert 'data-testid="pay-over-time"' in client.get("/quickpay").text
    response = client.get("/pay/plan")
    assert response.status_code == 303 and response.headers["location"] == "/login?view_account=1"
    assert post_form(client, "/pay/plan/start", {"months": "3", "day": "15"}).status_code == 303
    assert PlanOffer.select().count() == 0


def test_from_quickpay_a_code_leads_to_pay_over_time(client, owing):
    sign_in_as(client, owing, quickpay=True, origin="sms_link")
    link = re.search(r'href="(/login\?view_account=1&amp;next=/pay/plan)"', client.get("/quickpay").text).group(1)
    assert client.get(link.replace("&amp;", "&")).headers["location"] == "/login/send"
    post_form(client, "/login/send", {"destination": "0:sms"})
    message = OutboxMessage.select().where(OutboxMessage.purpose == "sign_in").order_by(OutboxMessage.id.desc()).get()
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    assert post_form(client, "/login/code", {"code": code}).headers["location"] == "/pay/plan"
    assert 'data-testid="plan-form"' in client.get("/pay/plan").text


def test_view_account_leads_only_to_the_pages_it_knows(client, owing):
    sign_in_as(client, owing, quickpay=True, origin="sms_link")
    client.get("/login?view_account=1&next=https://evil.example/")
    post_form(client, "/login/send", {"destination": "0:sms"})
    message = OutboxMessage.select().where(OutboxMessage.purpose == "sign_in").order_by(OutboxMessage.id.desc()).get()
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    assert post_form(client, "/login/code", {"code": code}).headers["location"] == "/home"


@pytest.mark.parametrize("query, message", [
    ({"months": "13"}, "from 2 to 12 months"),
    ({"months": "", "monthly": "10.00"}, "monthly amount must be at least $25.00"),
    ({"months": "", "monthly": "abc"}, "monthly amount must be at least $25.00"),
    ({"day": "32"}, "day of the month from 1 to 31"),
    ({"months": "x"}, "from 2 to 12 months"),
])
def test_bad_choices_are_refused_in_plain_words(client, owing, query, message):
    sign_in_as(client, owing)
    page = review(client, **query)
    assert page.status_code == 400 and message in page.text
    assert PlanOffer.select().count() == 0


def test_a_balance_under_the_smallest_plan_balance_is_refused(client, plans_on, guarantor):
    owe(guarantor, "80.00", "80.00")
    sign_in_as(client, guarantor)
    page = review(client)
    assert page.status_code == 400 and "needs a balance of at least $100.00" in page.text


def test_without_the_tick_or_with_a_stale_form_nothing_is_stored_or_charged(client, owing):
    sign_in_as(client, owing)
    form = hidden(review(client).text)
    refused = post_form(client, "/pay/plan/start", {**form, "texts": "yes"})
    assert refused.status_code == 400 and "tick the box" in refused.text
    forged = post_form(client, "/pay/plan/start", {**form, "agree": "1", "balance": "1.00"})
    assert forged.status_code == 400 and "balance changed" in forged.text
    assert post_form(client, "/pay/plan/start", {**form, "agree": "1", "key": "short"}).status_code == 400
    assert PlanOffer.select().count() == PaymentAttempt.select().count() == TextConsent.select().count() == 0


def test_a_second_plan_on_the_same_balance_is_refused(client, owing):
    sign_in_as(client, owing)
    hosted(client, agree(client))
    page = review(client)
    assert page.status_code == 400 and "already have a payment plan" in page.text


def test_staff_in_a_mirror_cannot_agree_for_the_patient(client, owing, staff):
    sign_in_as(client, owing, origin="staff_mirror", staff=staff)
    assert 'data-testid="plan-confirm"' not in review(client).text  # a mirror offers to send it instead
    response = post_form(client, "/pay/plan/start", {"key": "k" * 24, "seq": "0", "account": "A1001",
                                                     "balance": "300.00", "months": "3", "day": "15", "agree": "1"})
    assert response.status_code == 400 and "staff cannot agree for them" in response.text
    assert PlanOffer.select().count() == 0


def test_the_patient_cancels_their_plan(client, owing):
    sign_in_as(client, owing)
    hosted(client, agree(client))
    assert post_form(client, "/pay/plan/cancel").status_code == 303
    assert PaymentPlan.get().status == "cancelled"
    assert AuditLog.get(AuditLog.action == "plan_cancelled").actor == "patient"


# --- the job ---------------------------------------------------------------------------------

@pytest.fixture
def plan(client, owing, app):
    sign_in_as(client, owing)
    hosted(client, agree(client))
    return PaymentPlan.get()


def run_jobs(app):
    return runner.run_once(app.state.settings, app.state.gateway)


def test_the_job_charges_each_instalment_on_its_day_once(plan, app):
    clock.freeze(dt.datetime(2026, 12, 15, 5, 0, tzinfo=dt.timezone.utc))  # still Dec 14 in Chicago
    assert run_jobs(app).get("plans_charged") is None
    clock.freeze(dt.datetime(2026, 12, 15, 7, 0, tzinfo=dt.timezone.utc))  # 01:00 on Dec 15 in Chicago
    assert run_jobs(app)["plans_charged"] == 1
    assert run_jobs(app).get("plans_charged") is None  # a second run charges nothing more
    first = Instalment.get(Instalment.number == 1)
    assert first.status == "paid" and first.attempt.receipt.amount == D("100.00")
    assert first.attempt.entrance == "plan" and first.attempt.receipt.batch.batch_date == dt.date(2026, 12, 15)
    assert SandboxCharge.select().where(SandboxCharge.status == "approved").count() == 2
    clock.freeze(dt.datetime(2027, 1, 15, 15, 0, tzinfo=dt.timezone.utc))
    run_jobs(app)
    assert PaymentPlan.get().status == "completed"
    assert ledger.balances_for(plan.guarantor).current_balance == D("0.00")


def test_a_rehearsal_clock_runs_the_job(plan, app):
    clock.set_now(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))  # what POPS_NOW does
    assert run_jobs(app)["plans_charged"] == 1


def test_payments_outside_the_plan_shrink_the_last_instalment(plan, app):
    # $150.00 paid at the office (the PM system's line): $50.00 of the plan's $200.00 is left
    add_line(Encounter.get(), "L-OFFICE", "patient_payment", "-150.00", dt.date(2026, 12, 1))
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    run_jobs(app)
    amounts = [(i.status, i.amount) for i in Instalment.select().order_by(Instalment.number)]
    assert amounts == [("paid", D("50.00")), ("skipped", D("0.00"))]
    assert PaymentPlan.get().status == "completed"


def test_an_instalment_charged_but_not_yet_marked_paid_does_not_shrink_the_others(plan, app):
    # The run that charges instalment 1 records its payment, then marks it paid: a run in between (a racing
    # job run, or the next one after a kill) sees the balance already $100.00 lower.
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    first = Instalment.get(Instalment.number == 1)
    outcome, attempt = charging.charge_stored_card(
        app.state.gateway, plan.guarantor, plan.stored_card, first.key(plan), first.amount, charging.PLAN,
        lambda attempt: bool(Instalment.update(attempt=attempt).where(Instalment.id == first.id).execute()))
    assert outcome == "settled" and ledger.balances_for(plan.guarantor).current_balance == D("100.00")
    assert [i.number for i in charging.reconcile(PaymentPlan.get())] == [1, 2]
    assert [(i.status, i.amount) for i in Instalment.select().order_by(Instalment.number)] == [
        ("scheduled", D("100.00")), ("scheduled", D("100.00"))]
    run_jobs(app)
    assert [(i.status, i.amount) for i in Instalment.select().order_by(Instalment.number)] == [
        ("paid", D("100.00")), ("scheduled", D("100.00"))]
    assert PaymentAttempt.select().where(PaymentAttempt.entrance == "plan").count() == 1
    assert PaymentPlan.get().status == "active"


def test_escrow_puts_the_plan_on_hold_and_nothing_is_charged(plan, app):
    Guarantor.update(escrow=D("20.00")).where(Guarantor.id == plan.guarantor_id).execute()
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    assert run_jobs(app)["plans_held"] == 1
    assert PaymentPlan.get().status == "on_hold"
    assert Instalment.get(Instalment.number == 1).status == "scheduled"
    assert PlanNotice.get(PlanNotice.kind == "on_hold").channel == "sms"
    Guarantor.update(escrow=D("0.00")).where(Guarantor.id == plan.guarantor_id).execute()
    assert run_jobs(app)["plans_charged"] == 1 and PaymentPlan.get().status == "active"


def test_a_declined_instalment_is_retried_once_3_days_later_then_past_due(plan, app):
    SandboxCardToken.update(behaviour="declined").execute()
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    assert run_jobs(app)["plans_declined"] == 1
    assert Instalment.get(Instalment.number == 1).retry_on == dt.date(2026, 12, 18)
    clock.freeze(dt.datetime(2026, 12, 17, 16, 0, tzinfo=dt.timezone.utc))
    assert "plans_declined" not in run_jobs(app)
    clock.freeze(dt.datetime(2026, 12, 18, 16, 0, tzinfo=dt.timezone.utc))
    assert run_jobs(app)["plans_declined"] == 1
    assert PaymentPlan.get().status == "past_due"
    clock.freeze(dt.datetime(2026, 12, 25, 16, 0, tzinfo=dt.timezone.utc))
    run_jobs(app)
    assert PaymentAttempt.select().where(PaymentAttempt.entrance == "plan").count() == 2  # nothing more charged


def test_notices_go_by_text_only_from_8_to_21(plan, app):
    clock.freeze(dt.datetime(2026, 12, 13, 4, 0, tzinfo=dt.timezone.utc))  # 22:00 on Dec 12 in Chicago
    run_jobs(app)
    reminder = OutboxMessage.get(OutboxMessage.purpose == "plan_reminder")
    assert reminder.next_attempt_at == dt.datetime(2026, 12, 13, 14, 0, tzinfo=dt.timezone.utc)  # 08:00 CST
    assert "$" not in reminder.body


# --- staff -----------------------------------------------------------------------------------

def test_staff_see_the_plan_and_cancel_it_with_a_reason_audited(client, plan, staff):
    from http_helpers import staff_login

    staff_login(client, staff)
    assert 'href="/staff/guarantors/A1001/plan"' in client.get("/staff/guarantors/A1001").text
    page = client.get("/staff/guarantors/A1001/plan")
    assert 'data-testid="plan-status">Active<' in page.text and "plan_started" in page.text
    refused = post_form(client, "/staff/guarantors/A1001/plan/cancel", {"reason": "  "})
    assert refused.status_code == 422 and "Give a reason" in refused.text
    assert PaymentPlan.get().status == "active"
    done = post_form(client, "/staff/guarantors/A1001/plan/cancel", {"reason": "Patient asked by phone"})
    assert done.status_code == 303
    cancelled = PaymentPlan.get()
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_by_id) == (
        "cancelled", "Patient asked by phone", staff.id)
    row = AuditLog.get(AuditLog.action == "plan_cancelled")
    assert row.staff_id == staff.id and "Patient asked by phone" in row.detail
    assert post_form(client, "/staff/guarantors/A1001/plan/cancel", {"reason": "again"}).status_code == 422


def test_the_group_form_sets_the_plan_options(client, group, admin):
    from http_helpers import staff_login

    staff_login(client, admin)
    page = client.get("/staff/admin/groups/RFM").text
    data = dict(re.findall(r'<input id="g-[^"]+" name="([^"]+)" value="([^"]*)"', page))
    data.update({"timezone": group.timezone, "landing_page": "home", "name": group.name, "footer_text": ""})
    data.update({name: "on" for name in re.findall(r'<input type="checkbox" name="([^"]+)" checked', page)})
    refused = post_form(client, "/staff/admin/groups/RFM", {**data, "payment_plans": "on"})
    assert refused.status_code == 422 and "turn on Enable payment method storage" in refused.text
    bad = post_form(client, "/staff/admin/groups/RFM", {**data, "plan_down_payment_percent": "95"})
    assert bad.status_code == 422 and "from 0 to 90" in bad.text
    saved = post_form(client, "/staff/admin/groups/RFM", {
        **data, "payment_plans": "on", "enable_payment_method_storage": "on", "plan_min_balance": "$150",
        "plan_min_instalment": "30.00", "plan_max_months": "6", "plan_down_payment_percent": "10"})
    assert saved.status_code == 303, saved.text
    after = Group.get_by_id(group.id)
    assert (after.payment_plans, after.plan_min_balance, after.plan_min_instalment, after.plan_max_months,
            after.plan_down_payment_percent) == (True, D("150.00"), D("30.00"), 6, 10)
    assert AuditLog.select().where(AuditLog.action == "group_setting").count() == 6


def test_the_patient_pays_the_next_instalment_now_and_then_the_rest(client, plan, app):
    page = client.get("/pay/plan").text
    assert "Pay the next payment ($100.00) now" in page and 'href="/pay"' in page
    done = post_form(client, "/pay/plan/pay-next")
    assert done.status_code == 200 and "Your payment went through" in done.text
    assert Instalment.get(Instalment.number == 1).status == "paid"
    assert ledger.balances_for(plan.guarantor).current_balance == D("100.00")
    # the rest on Pay, as any payment: the plan's last instalment shrinks to nothing and the plan completes
    add_line(Encounter.get(), "L-REST", "patient_payment", "-100.00", dt.date(2026, 11, 23))
    run_jobs(app)
    assert PaymentPlan.get().status == "completed"
    assert PlanNotice.get(PlanNotice.kind == "completed")


def test_the_payment_plans_report_and_its_csv(client, plan, staff, app):
    from http_helpers import staff_login

    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    run_jobs(app)
    staff_login(client, staff)
    page = client.get("/staff/reports/plans").text
    assert re.search(r'data-testid="plans-count-active">1<', page)
    assert re.search(r'data-testid="plans-collected">\$200.00<', page)
    assert re.search(r'data-testid="plans-scheduled">\$100.00<', page)
    assert "A1001" in page
    assert "No payment plans." in client.get("/staff/reports/plans?status=cancelled").text
    csv = client.get("/staff/reports/plans.csv?group=RFM")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith("A1001,Maria Lopez,RFM,active,")
    assert ",300.00,200.00,100.00,2027-01-15" in csv.text


def test_a_plan_charged_through_a_year_with_a_moved_clock(client, plans_on, guarantor, app):
    owe(guarantor, "300.00", "300.00")
    sign_in_as(client, guarantor)
    hosted(client, agree(client, texts="no", months="12", day="31"))
    plan = PaymentPlan.get()
    dates = [i.due_date for i in plan.instalments.order_by(Instalment.number)]
    assert dates[0] == dt.date(2026, 12, 31) and dt.date(2027, 2, 28) in dates and dates[-1] == dt.date(2027, 10, 31)
    day = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.timezone.utc)
    while day < dt.datetime(2027, 12, 1, tzinfo=dt.timezone.utc):  # every day for a year, the job's round
        clock.freeze(day)
        run_jobs(app)
        day += dt.timedelta(days=1)
    paid = PaymentAttempt.select().where(PaymentAttempt.entrance == "plan")
    assert paid.count() == 11 and all(a.status == "paid" and a.amount == D("25.00") for a in paid)
    assert [a.receipt.received_date for a in paid.order_by(PaymentAttempt.id)] == dates
    assert PaymentPlan.get().status == "completed"
    assert ledger.balances_for(guarantor).current_balance == D("0.00")
    assert PlanNotice.select().where(PlanNotice.kind == "reminder").count() == 11


def test_a_declined_card_fixed_with_another_card(client, plan, app):
    SandboxCardToken.update(behaviour="declined").execute()
    for day in (15, 18):  # declined, then declined again on the retry: past due
        clock.freeze(dt.datetime(2026, 12, day, 16, 0, tzinfo=dt.timezone.utc))
        run_jobs(app)
    assert PaymentPlan.get().status == "past_due"
    old_card = PaymentPlan.get().stored_card_id
    sign_in_as(client, plan.guarantor)  # days later: a new visit
    page = client.get("/pay/plan").text
    assert "Pay it with another card" in page
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                           page[page.index('action="/pay/plan/new-card"'):]))
    response = post_form(client, "/pay/plan/new-card", form)
    assert response.status_code == 303
    done = hosted(client, response, "5555 5555 5555 4444")
    assert "this card now pays your plan" in done.text
    fixed = PaymentPlan.get()
    assert fixed.status == "active" and fixed.stored_card_id != old_card and fixed.stored_card.last4 == "4444"
    assert Instalment.get(Instalment.number == 1).status == "paid"
    clock.freeze(dt.datetime(2027, 1, 15, 16, 0, tzinfo=dt.timezone.utc))
    assert run_jobs(app)["plans_charged"] == 1  # the next instalment, on the new card
    assert PaymentPlan.get().status == "completed"


# --- Home and Account ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/home", "/account", "/pay"])
def test_home_and_account_show_the_plan_and_the_pages_still_cost_4_statements(client, plan, path):
    client.get(path)
    with counting_statements() as executed:
        page = client.get(path).text
    assert len(executed) <= 4, "\n".join(executed)
    if path != "/pay":
        assert re.search(r'data-testid="plan-summary-next">\$100.00 on Dec 15, 2026<', page)
        assert re.search(r'data-testid="plan-summary-paid">\$100.00<', page)
        assert re.search(r'data-testid="plan-summary-remaining">\$200.00<', page)


def test_without_a_phone_or_an_address_notices_show_on_home(client, owing, app):
    Guarantor.update(mobile="", email="").where(Guarantor.id == owing.id).execute()
    sign_in_as(client, owing)
    hosted(client, agree(client, texts=""))
    home = client.get("/home").text
    assert 'data-testid="plan-notices"' in home and "Your payment plan is set up." in home
    clock.advance(dt.timedelta(days=31))
    sign_in_as(client, owing)
    assert 'data-testid="plan-notices"' not in client.get("/home").text  # a month later: gone


def test_a_stale_form_from_another_tab_stores_nothing(client, owing):
    sign_in_as(client, owing)
    form = hidden(review(client).text)
    Guarantor.update(payment_seq=Guarantor.payment_seq + 1).where(Guarantor.id == owing.id).execute()  # paid elsewhere
    refused = post_form(client, "/pay/plan/start", {**form, "agree": "1", "texts": "yes"})
    assert refused.status_code == 400 and "out of date" in refused.text
    assert PlanOffer.select().count() == TextConsent.select().count() == PaymentAttempt.select().count() == 0


def test_a_rehearsal_with_pops_now_charges_the_instalment_from_the_command_line(plan, db_url):
    import os
    import subprocess
    import sys

    from http_helpers import SECRET

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("POPS_")}, "POPS_DATABASE_URL": db_url,
           "POPS_SECRET_KEY": SECRET, "POPS_ENV": "test", "POPS_NOW": "2026-12-15T16:00:00Z"}
    done = subprocess.run([sys.executable, "-m", "pops", "plans", "charge"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "charged: 1" in done.stdout
    assert Instalment.get(Instalment.number == 1).status == "paid"
    again = subprocess.run([sys.executable, "-m", "pops", "plans", "charge"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert "charged" not in again.stdout  # once


def test_change_the_plan_comes_back_to_the_form_as_chosen(client, owing):
    sign_in_as(client, owing)
    link = re.search(r'href="(/pay/plan\?[^"]+)">Change the plan', review(client, months="4", day="28").text).group(1)
    form = client.get(link.replace("&amp;", "&")).text
    assert '<option value="4" selected>' in form and '<option value="28" selected>' in form


def test_staff_prepare_a_plan_and_the_patient_agrees_on_their_own_phone(client, owing, staff, app):
    from pops.models import Link
    from pops.plans import notices

    notices.record_text_consent(owing, True, "import: paper form")  # texts go only with consent
    sign_in_as(client, owing, origin="staff_mirror", staff=staff)
    page = review(client, months="3", day="15").text
    assert 'data-testid="plan-send"' in page and 'data-testid="plan-confirm"' not in page
    sent = post_form(client, "/pay/plan/send", {"months": "3", "monthly": "", "day": "15", "channel": "sms"})
    assert sent.status_code == 200 and "works once, for 30 minutes" in sent.text
    text = OutboxMessage.get(OutboxMessage.purpose == "plan_prepared")
    assert text.recipient == "+15555550123" and "/q/" in text.body and "$" not in text.body
    link = Link.get()
    assert link.max_uses == 1 and link.expires_at == clock.now() + dt.timedelta(minutes=30)
    assert AuditLog.get(AuditLog.action == "plan_prepared").staff_id == staff.id
    assert PlanOffer.select().where(PlanOffer.key.startswith("prep-")).count() == 1 and PaymentPlan.select().count() == 0

    with open_browser(app) as phone:  # the patient's own phone: the link, then a code, then the plan page
        code = re.search(r"/q/(\S+?)\s", text.body + " ").group(1).rstrip(")")
        assert phone.get(f"/q/{code}").headers["location"] == "/quickpay"
        assert 'data-testid="pay-over-time"' in phone.get("/quickpay").text
        assert phone.get("/login?view_account=1&next=/pay/plan").headers["location"] == "/login/send"
        post_form(phone, "/login/send", {"destination": "0:sms"})
        sign_in = OutboxMessage.select().where(OutboxMessage.purpose == "sign_in").order_by(OutboxMessage.id.desc()).get()
        entered = post_form(phone, "/login/code", {"code": re.search(r"\b(\d{6})\b", sign_in.body).group(1)})
        assert entered.headers["location"] == "/pay/plan"
        form = phone.get("/pay/plan").text
        assert "We prepared this plan with you" in form and '<option value="15" selected>' in form
        assert "Your payment plan is set up" in hosted(phone, agree(phone)).text
    assert PaymentPlan.get().months == 3
    clock.advance(dt.timedelta(minutes=31))
    sign_in_as(client, owing)
    assert "We prepared this plan" not in client.get("/pay/plan").text


def test_a_plan_is_sent_only_by_staff_and_only_where_it_can_go(client, owing, staff):
    sign_in_as(client, owing)
    assert "Only staff" in post_form(client, "/pay/plan/send", {"months": "3", "day": "15", "channel": "sms"}).text
    Guarantor.update(email="").where(Guarantor.id == owing.id).execute()
    sign_in_as(client, owing, origin="staff_mirror", staff=staff)
    refused = post_form(client, "/pay/plan/send", {"months": "3", "day": "15", "channel": "email"})
    assert refused.status_code == 400 and "no email address" in refused.text
    refused = post_form(client, "/pay/plan/send", {"months": "13", "day": "15", "channel": "sms"})
    assert refused.status_code == 400 and "from 2 to 12 months" in refused.text
    refused = post_form(client, "/pay/plan/send", {"months": "3", "day": "15", "channel": "sms"})
    assert refused.status_code == 400 and "no texting consent" in refused.text  # a mobile, but no consent to texts
    assert OutboxMessage.select().where(OutboxMessage.purpose == "plan_prepared").count() == 0
