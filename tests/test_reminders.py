"""Statement reminders on a schedule (issue 16): off by default; on statement day (or the import day), then
the group's N and M days later; never once paid, covered by a plan, or while money is held; a fresh link
each time; texts only 8:00-21:00 in the group's zone; staff see them; Session Usage shows them opened."""
from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from pops import clock
from pops.jobs import runner
from pops.models import Group, Guarantor, Link, OutboxMessage, PatientSession
from pops.plans.notices import record_text_consent
from pops.texts import reminders
from pops.texts.tables import Reminder

from factories import make_statement, owe, pay
from http_helpers import SECRET, open_browser, staff_login
from parallel import burst

BASE = "http://testserver"
NOON = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.timezone.utc)  # 12:00 in Chicago (Riverside's zone)


def run() -> int:
    return reminders.send_due(SECRET, BASE)


def texts() -> list[OutboxMessage]:
    return list(OutboxMessage.select().where(OutboxMessage.purpose == "reminder").order_by(OutboxMessage.id))


@pytest.fixture
def reminding(guarantor):
    """Reminders on (10 and 20 days), Maria consenting to texts and owing $80.00 on S-1."""
    Group.update(reminders=True).execute()
    owe(guarantor)
    record_text_consent(guarantor, True, "import: paper form")
    clock.freeze(NOON)
    return Guarantor.get_by_id(guarantor.id)


def test_reminders_are_off_by_default(guarantor):
    owe(guarantor)
    record_text_consent(guarantor, True, "import: paper form")
    clock.freeze(NOON)
    assert run() == 0 and texts() == []


def test_a_statement_is_reminded_on_the_import_day_then_n_and_m_days_later(reminding):
    assert run() == 1 and run() == 0
    first = texts()[0]
    assert first.channel == "sms" and first.recipient == "+15555550123"
    assert re.fullmatch(r"Riverside Family Medicine: you have a new statement\. View and pay securely: "
                        r"http://testserver/q/\S+ Reply STOP to opt out\.", first.body)
    clock.advance(days=9)
    assert run() == 0
    clock.advance(days=1)
    assert run() == 1 and run() == 0
    clock.advance(days=10)
    assert run() == 1
    clock.advance(days=30)
    assert run() == 0
    assert [r.step for r in Reminder.select().order_by(Reminder.id)] == [0, 1, 2]
    links = [re.search(r"/q/(\S+)", m.body).group(1) for m in texts()]
    assert len(set(links)) == 3  # a fresh link each time
    assert [link.purpose for link in Link.select()] == ["reminder"] * 3


def test_a_statement_dated_later_waits_for_its_day(reminding):
    make_statement(reminding, "S-2", balance="80.00", date=dt.date(2026, 11, 25))
    assert run() == 0
    clock.advance(days=2)
    assert run() == 1 and Reminder.get().statement.number == "S-2"


def test_a_paid_statement_stops_its_reminders(reminding):
    assert run() == 1
    pay(reminding, "R-1", "80.00", NOON + dt.timedelta(days=1))
    clock.freeze(NOON + dt.timedelta(days=25))
    assert run() == 0 and len(texts()) == 1


@pytest.mark.parametrize("held", ["escrow", "unapplied", "plan"])
def test_no_reminder_while_money_is_held_or_a_plan_covers_it(reminding, held):
    if held == "plan":
        from pops.plans.tables import PaymentPlan, PlanOffer

        offer = PlanOffer.create(key="k1", guarantor=reminding, terms="{}", authorisation="", authorisation_version="1")
        PaymentPlan.create(guarantor=reminding, offer=offer, key="k1", balance=80, down_payment=0, months=3,
                           day_of_month=15)
    else:
        Guarantor.update(**{held: 5}).execute()
    assert run() == 0 and texts() == []


def test_texts_wait_for_8_00_in_the_groups_zone_with_a_moved_clock(reminding):
    clock.freeze(dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.timezone.utc))  # 21:00 in Chicago
    assert run() == 0
    clock.freeze(dt.datetime(2026, 11, 24, 13, 59, tzinfo=dt.timezone.utc))  # 07:59
    assert run() == 0
    clock.advance(minutes=1)  # 08:00
    assert run() == 1


def test_without_consent_the_reminder_is_an_email_with_the_amount_any_hour(reminding):
    record_text_consent(reminding, False, "Profile (portal)")
    clock.freeze(dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.timezone.utc))  # 22:00 in Chicago
    assert run() == 1
    email = texts()[0]
    assert email.channel == "email" and email.recipient == "maria@example.org"
    assert "$80.00" in email.body and "/q/" in email.body
    assert email.subject == "A reminder about your statement from Riverside Family Medicine"


def test_no_consent_and_no_email_sends_nothing(reminding):
    record_text_consent(reminding, False, "Profile (portal)")
    Guarantor.update(email="").execute()
    assert run() == 0 and Reminder.select().count() == 0


def test_the_runner_sends_them(reminding, settings, app):
    assert runner.run_once(settings, app.state.gateway)["reminders"] == 1


def test_staff_see_who_was_reminded_and_session_usage_shows_it_opened(reminding, app, staff, client):
    Group.update(text_sender="Riverside Billing").execute()
    assert run() == 1
    assert texts()[0].body.startswith("Riverside Billing: you have a new statement.")
    path = re.search(r"http://testserver(/q/\S+)", texts()[0].body).group(1)
    with open_browser(app) as phone:
        assert phone.get(path).status_code == 303
    assert PatientSession.get().origin == "reminder"
    staff_login(client, staff)
    board = client.get("/staff/guarantors/A1001").text
    table = board[board.index('data-testid="reminders"'):]
    assert "S-1" in table and "Statement day" in table and "Text to +15555550123" in table
    assert "<td>Yes</td>" in table  # its link was opened
    report = client.get("/staff/reports/sessions", params={"from": "11/23/2026", "to": "11/23/2026"}).text
    assert "Reminder" in report


def test_no_texting_consent_replaces_the_text_button(guarantor, client, staff):
    owe(guarantor)
    staff_login(client, staff)
    board = client.get("/staff/guarantors/A1001").text
    assert "No texting consent" in board and 'value="sms"' not in board
    record_text_consent(guarantor, True, "import: paper form")
    board = client.get("/staff/guarantors/A1001").text
    assert "No texting consent" not in board and 'value="sms"' in board


@pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"), reason="a burst on PostgreSQL")
def test_two_workers_never_send_the_same_reminder_twice(reminding, db):
    counts = burst(db, 8, lambda _: run())
    assert sum(counts) == 1 and Reminder.select().count() == 1 and len(texts()) == 1
    assert Link.select().where(Link.purpose == "reminder").count() == 1


def test_a_failed_reminder_text_is_retried_only_within_8_00_to_21_00(reminding):
    from pops import notify
    from pops.settings import Settings

    clock.freeze(dt.datetime(2026, 11, 24, 2, 59, 30, tzinfo=dt.timezone.utc))  # 20:59:30 in Chicago
    assert run() == 1
    unreachable = Settings(secret_key="s" * 40, sms_url="http://127.0.0.1:9/sms")  # nothing listens there
    notify.deliver(unreachable)
    message = texts()[0]
    assert message.status == "outbox" and message.error
    # the retry a minute later would be 21:00:30: it waits for 8:00 the next morning, Chicago time
    assert message.next_attempt_at == dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.timezone.utc)


def group_form(group: Group, **changes) -> dict:
    from pops.console import BOOL_FIELDS, GROUP_FIELDS

    data = {f: ("on" if getattr(group, f) else None) if f in BOOL_FIELDS else str(getattr(group, f))
            for f in GROUP_FIELDS}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_pops_management_sets_the_text_sender_and_the_reminder_schedule(client, group, admin):
    from http_helpers import post_form

    staff_login(client, admin)
    page = client.get(f"/staff/admin/groups/{group.code}").text
    assert "Text sender name" in page and "Statement reminders" in page
    bad = post_form(client, f"/staff/admin/groups/{group.code}",
                    group_form(group, text_sender="x" * 31, reminders="on", reminder_first_days="20",
                               reminder_second_days="10"))
    assert bad.status_code == 422
    assert "Use at most 30 characters." in bad.text and "The second reminder comes after the first" in bad.text
    assert Group.get_by_id(group.id).reminders is False  # nothing saved
    good = post_form(client, f"/staff/admin/groups/{group.code}",
                     group_form(group, text_sender="Riverside Billing", reminders="on", reminder_first_days="7",
                                reminder_second_days="14"))
    assert good.status_code == 303
    saved = Group.get_by_id(group.id)
    assert (saved.sender, saved.reminders, saved.reminder_first_days, saved.reminder_second_days) == (
        "Riverside Billing", True, 7, 14)


def test_pops_sms_provider_is_generic_or_twilio():
    from pops.settings import Settings, SettingsError

    assert Settings.from_env({}).sms_provider == "generic"
    assert Settings.from_env({"POPS_SMS_PROVIDER": "Twilio"}).sms_provider == "twilio"
    with pytest.raises(SettingsError, match="POPS_SMS_PROVIDER must be generic or twilio"):
        Settings.from_env({"POPS_SMS_PROVIDER": "carrier-pigeon"})


def test_close_reminders_are_not_held_back_by_the_days_between_them(reminding):
    Group.update(reminder_first_days=10, reminder_second_days=12).execute()
    assert run() == 1
    clock.advance(days=10)
    assert run() == 1
    clock.advance(days=2)
    assert run() == 1 and [r.step for r in Reminder.select().order_by(Reminder.id)] == [0, 1, 2]
