"""New charges join a payment plan only when the patient agrees, over HTTP: the offer on the plan page and
on Home and Account, the new schedule with its Truth in Lending box and authorisation, the change (nothing
charged, the next date kept, the earlier authorisation kept), and bad input refused with nothing changed."""
from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal as D
from urllib.parse import urlsplit

import pytest

from pops import clock, ledger
from pops.gateways.sandbox_tables import SandboxCharge
from pops.jobs import runner
from pops.models import AuditLog, Encounter, Group, Guarantor, OutboxMessage, PaymentAttempt
from pops.plans.tables import Instalment, PaymentPlan, PlanOffer

from factories import add_line, make_encounter, owe
from http_helpers import counting_statements, post_form, sign_in_as, staff_login
from parallel import burst


@pytest.fixture
def plan(client, group, guarantor):
    """A $300.00 plan over 3 months on the 15th: $100.00 paid at set-up, Dec 15 and Jan 15 left."""
    Group.update(payment_plans=True, enable_payment_method_storage=True).where(Group.id == group.id).execute()
    owe(guarantor, "300.00", "300.00")
    Guarantor.update(mobile="", email="maria@example.org").where(Guarantor.id == guarantor.id).execute()
    sign_in_as(client, guarantor)
    page = client.get("/pay/plan/review", params={"months": "3", "day": "15"})
    started = post_form(client, "/pay/plan/start", {**hidden(page.text), "agree": "1"})
    path = urlsplit(started.headers["location"]).path
    back = client.post(path, data={"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"})
    url = urlsplit(back.headers["location"])
    client.get(f"{url.path}?{url.query}")
    return PaymentPlan.get()


def hidden(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def new_charge(amount: str) -> None:
    first = Encounter.get()
    make_encounter(first.guarantor, "E2", patient=first.patient, date=dt.date(2026, 11, 2), charge=amount)


def schedule() -> list[tuple[dt.date, str, D]]:
    return [(i.due_date, i.status, i.amount) for i in Instalment.select().order_by(Instalment.number)]


RUNS = 6
BEFORE = [(dt.date(2026, 12, 15), "scheduled", D("100.00")), (dt.date(2027, 1, 15), "scheduled", D("100.00"))]


def test_without_new_charges_nothing_is_offered(client, plan):
    assert 'data-testid="plan-add"' not in client.get("/pay/plan").text
    assert 'data-testid="plan-summary-add"' not in client.get("/home").text
    refused = client.get("/pay/plan/add")
    assert refused.status_code == 400 and "nothing to add" in refused.text
    new_charge("0.99")  # under $1.00: not offered
    assert 'data-testid="plan-add"' not in client.get("/pay/plan").text
    assert client.get("/pay/plan/add").status_code == 400


def test_new_charges_join_the_plan_when_the_patient_agrees(client, plan):
    new_charge("150.00")
    page = client.get("/pay/plan").text
    assert 'data-testid="plan-add"' in page and "Add $150.00 to my plan" in page
    assert "Your balance is $150.00 more than your payment plan covers" in page
    assert schedule() == BEFORE  # shown, not joined

    review = client.get("/pay/plan/add")
    text = review.text
    assert review.status_code == 200
    assert re.search(r'data-testid="schedule-total">\$350.00<', text)
    assert "Dec 15, 2026</td><td>$175.00" in text and "Jan 15, 2027</td><td>$175.00" in text
    assert re.search(r'data-testid="til-financed">\$350.00<', text)
    assert re.search(r'data-testid="til-sale-price">\$450.00<', text)  # the $100.00 paid at set-up included
    assert re.search(r'data-testid="til-finance">\$0.00<', text) and "Creditor: Riverside" in text
    assert "which now includes $150.00 of new charges" in text and "Visa card ending in 4242" in text
    assert schedule() == BEFORE and PlanOffer.select().count() == 1  # nothing changes before the agreement

    attempts, charges = PaymentAttempt.select().count(), SandboxCharge.select().count()
    done = post_form(client, "/pay/plan/add", {**hidden(text), "agree": "1"})
    assert done.status_code == 200 and "The new charges are now part of your payment plan" in done.text
    assert schedule() == [(dt.date(2026, 12, 15), "scheduled", D("175.00")),
                          (dt.date(2027, 1, 15), "scheduled", D("175.00"))]  # the next date kept
    assert (PaymentAttempt.select().count(), SandboxCharge.select().count()) == (attempts, charges)  # nothing charged
    changed = PaymentPlan.get()
    assert (changed.status, changed.balance, changed.months) == ("active", D("450.00"), 3)
    first, second = PlanOffer.select().order_by(PlanOffer.id)
    assert changed.offer_id == second.id and second.authorisation_version == "plan-join-en-1"
    assert "I authorise Riverside" in first.authorisation and "new charges" not in first.authorisation  # kept
    row = AuditLog.get(AuditLog.action == "plan_changed")
    assert row.actor == "patient" and "$150.00 of new charges" in row.detail
    copy = OutboxMessage.select().where(OutboxMessage.purpose == "plan_authorisation").order_by(OutboxMessage.id.desc()).first()
    assert copy.recipient == "maria@example.org" and "which now includes $150.00 of new charges" in copy.body
    printable = client.get("/pay/plan/authorisation").text
    assert "which now includes $150.00" in printable and 'data-testid="earlier-authorisations"' in printable
    assert 'data-testid="plan-add"' not in client.get("/pay/plan").text  # nothing more to add
    assert ledger.balances_for(changed.guarantor).current_balance == D("350.00")


def test_the_job_then_charges_the_new_amounts(client, plan, app):
    new_charge("150.00")
    post_form(client, "/pay/plan/add", {**hidden(client.get("/pay/plan/add").text), "agree": "1"})
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    assert runner.run_once(app.state.settings, app.state.gateway)["plans_charged"] == 1
    assert Instalment.get(Instalment.number == 1).attempt.receipt.amount == D("175.00")


@pytest.mark.parametrize("path", ["/home", "/account"])
def test_home_and_account_say_so_in_one_line_and_still_cost_4_statements(client, plan, path):
    new_charge("150.00")
    client.get(path)
    with counting_statements() as executed:
        page = client.get(path).text
    assert len(executed) <= 4, "\n".join(executed)
    line = re.search(r'data-testid="plan-summary-add">(.*?)</p>', page).group(1)
    assert "New charges of $150.00 are not in your plan." in line and 'href="/pay/plan/add"' in line


def test_staff_see_the_change_in_the_plan_history(client, plan, staff):
    new_charge("150.00")
    post_form(client, "/pay/plan/add", {**hidden(client.get("/pay/plan/add").text), "agree": "1"})
    staff_login(client, staff)
    page = client.get("/staff/guarantors/A1001/plan").text
    assert "plan_changed" in page and "$150.00 of new charges" in page


def form_then(client, change) -> tuple[dict, object]:
    new_charge("150.00")
    form = {**hidden(client.get("/pay/plan/add").text), "agree": "1"}
    change(form)
    return form, post_form(client, "/pay/plan/add", form)


def office_payment(amount: str):
    return lambda form: add_line(Encounter.get(Encounter.ext_id == "E1"), "L-OFFICE", "patient_payment", amount,
                                 dt.date(2026, 11, 30))


@pytest.mark.parametrize("change, message", [
    (lambda form: form.pop("agree"), "Please tick the box to agree to the new schedule."),
    (lambda form: form.update(added="1.00"), "changed since the new schedule was shown"),  # a forged amount
    (lambda form: form.update(version="0"), "changed since the new schedule was shown"),  # a stale form
    (office_payment("-50.00"), "changed since the new schedule was shown"),  # the balance moved
    (office_payment("-150.00"), "no longer above what your plan covers"),
])
def test_bad_input_is_refused_in_plain_words_and_nothing_changes(client, plan, change, message):
    _, refused = form_then(client, change)
    assert refused.status_code == 400 and message in refused.text
    assert schedule() == BEFORE and PlanOffer.select().count() == 1
    assert PaymentPlan.get().balance == D("300.00") and not AuditLog.select().where(
        AuditLog.action == "plan_changed").exists()


def test_the_same_form_twice_joins_once(client, plan):
    form, first = form_then(client, lambda form: None)
    assert first.status_code == 200
    again = post_form(client, "/pay/plan/add", form)
    assert again.status_code == 400 and "no longer above what your plan covers" in again.text
    assert PlanOffer.select().count() == 2 and AuditLog.select().where(AuditLog.action == "plan_changed").count() == 1


def test_a_plan_no_longer_live_is_refused(client, plan):
    new_charge("150.00")
    form = {**hidden(client.get("/pay/plan/add").text), "agree": "1"}
    post_form(client, "/pay/plan/cancel")
    refused = post_form(client, "/pay/plan/add", form)
    assert refused.status_code == 400 and "no active payment plan to add new charges to" in refused.text
    assert PlanOffer.select().count() == 1 and [s for _, s, _ in schedule()] == ["skipped", "skipped"]


def test_staff_in_a_mirror_cannot_agree_for_the_patient(client, plan, staff):
    new_charge("150.00")
    form = {**hidden(client.get("/pay/plan/add").text), "agree": "1"}
    sign_in_as(client, plan.guarantor, origin="staff_mirror", staff=staff)
    page = client.get("/pay/plan/add").text
    assert 'data-testid="plan-add-confirm"' not in page and "staff cannot agree for them" in page
    refused = post_form(client, "/pay/plan/add", form)
    assert refused.status_code == 400 and "staff cannot agree for them" in refused.text
    assert schedule() == BEFORE and PlanOffer.select().count() == 1


def test_in_spanish_the_offer_and_the_new_schedule_are_in_spanish(client, plan):
    new_charge("150.00")
    Guarantor.update(chosen_language="es").execute()
    client.cookies.set("pops_lang", "es")
    assert "Agregar $150.00 a mi plan" in client.get("/pay/plan").text
    assert "Hay cargos nuevos de $150.00 que no están en su plan." in client.get("/home").text
    review = client.get("/pay/plan/add").text
    assert "Su nuevo calendario de pagos" in review and "Confirmar: agregar $150.00 a mi plan" in review
    refused = post_form(client, "/pay/plan/add", hidden(review))
    assert refused.status_code == 400 and "Marque la casilla para aceptar el nuevo calendario." in refused.text


def test_the_new_schedule_answers_htmx_with_its_block_alone(client, plan):
    new_charge("150.00")
    fragment = client.get("/pay/plan/add", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Add new charges to your plan" in fragment.text and 'data-testid="plan-add-confirm"' in fragment.text


@pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"), reason="a burst on PostgreSQL")
def test_racing_agreements_join_the_new_charges_once(client, plan, app, db):
    from pops.models import PatientSession
    from pops.plans import joining
    from pops.plans.rules import PlanRefused

    new_charge("150.00")
    form = hidden(client.get("/pay/plan/add").text)
    session = PatientSession.select().order_by(PatientSession.id.desc()).get()

    def agree(_) -> str:
        try:
            joining.join(PatientSession.get_by_id(session.id), version=form["version"], covered=form["covered"],
                         added=form["added"], agreed=True, base_url="https://pay.example.org")
        except PlanRefused:
            return "refused"
        return "joined"

    outcomes = burst(db, RUNS, agree)
    assert sorted(outcomes, key=str) == ["joined"] + ["refused"] * (RUNS - 1), outcomes
    assert schedule() == [(dt.date(2026, 12, 15), "scheduled", D("175.00")),
                          (dt.date(2027, 1, 15), "scheduled", D("175.00"))]
    assert PaymentPlan.get().balance == D("450.00") and PlanOffer.select().count() == 2
    assert AuditLog.select().where(AuditLog.action == "plan_changed").count() == 1
