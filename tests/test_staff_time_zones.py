"""One clock on the staff console (issue 13): every time staff read is in the group's time zone, the zone
named; pages spanning groups (outbox, audit log, requests, staff lockouts) use the staff member's own
zone, which each member sets for themselves (recorded), by default the zone of the group with the
lowest code. The test clock stands at 2026-11-23 15:00 UTC: 09:00 in Chicago (RFM), 07:00 in Los
Angeles (WEST)."""
from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest

from pops import clock, notify
from pops.models import AuditLog, ContactChange, Group, PatientRequest, Staff

from factories import at, hand_built_day, make_encounter, make_staff, pay
from http_helpers import post_form, staff_login

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?"


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def zones_shown(html: str) -> set[str]:
    """The zone named after every time stamp on the page (2026-11-23 09:00 CST -> CST)."""
    return set(re.findall(rf"{STAMP} ([A-Z]{{3,4}})\b", text(html)))


def actions(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


@pytest.fixture
def as_staff(client, staff, guarantor, west):
    staff_login(client, staff)  # the clock moves 30 s: 15:00:30 UTC
    return client


def test_the_outbox_shows_the_staff_members_zone_by_default_the_lowest_codes(as_staff, guarantor, ann):
    notify.queue_sms(guarantor.mobile, "For Maria", purpose="test", guarantor=guarantor)
    notify.queue_sms("+15555550999", "For Ann", purpose="test", guarantor=ann)
    page = as_staff.get("/staff/outbox").text
    assert "UTC" not in text(page)
    # RFM sorts before WEST: both rows in Chicago time, whoever they were for
    assert text(page).count("2026-11-23 09:00 CST") == 2 and zones_shown(page) == {"CST"}
    # a group with a lower code changes the default
    Group.create(code="HON", name="Honolulu Clinic", timezone="Pacific/Honolulu")
    page = as_staff.get("/staff/outbox").text
    assert text(page).count("2026-11-23 05:00 HST") == 2 and zones_shown(page) == {"HST"}


def test_a_staff_member_chooses_their_zone_and_it_is_recorded(as_staff, staff, guarantor):
    notify.queue_sms(guarantor.mobile, "For Maria", purpose="test", guarantor=guarantor)
    page = as_staff.get("/staff/account")
    assert page.status_code == 200
    assert re.search(r'data-testid="staff-zone">America/Chicago<', page.text)
    assert '<option value="" selected>' in page.text
    assert 'href="/staff/account"' in as_staff.get("/staff/find").text  # the header leads here

    response = post_form(as_staff, "/staff/account/timezone", {"timezone": "America/Los_Angeles"})
    assert (response.status_code, response.headers["location"]) == (303, "/staff/account?saved=1")
    assert Staff.get_by_id(staff.id).timezone == "America/Los_Angeles"
    [row] = actions("staff_timezone")
    assert (row.staff_id, row.detail) == (staff.id, "default → America/Los_Angeles")
    page = as_staff.get("/staff/account?saved=1").text
    assert "Saved." in page and '<option value="America/Los_Angeles" selected>' in page
    assert "2026-11-23 07:00 PST" in text(as_staff.get("/staff/outbox").text)

    # back to the default; saving the same choice again records nothing
    post_form(as_staff, "/staff/account/timezone", {"timezone": ""})
    post_form(as_staff, "/staff/account/timezone", {"timezone": ""})
    assert Staff.get_by_id(staff.id).timezone == ""
    assert [r.detail for r in actions("staff_timezone")] == ["default → America/Los_Angeles",
                                                             "America/Los_Angeles → default"]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "america/chicago", "EST5EDT\x00", "x" * 300])
def test_a_zone_not_on_the_list_changes_nothing(as_staff, staff, zone):
    response = post_form(as_staff, "/staff/account/timezone", {"timezone": zone})
    assert response.status_code in (400, 422)
    if response.status_code == 422:
        assert "Nothing was changed: choose a time zone from the list." in response.text
    assert Staff.get_by_id(staff.id).timezone == "" and actions("staff_timezone") == []


def test_each_member_has_their_own_zone(client, app, staff, guarantor):
    other = make_staff("night@example.org")
    Staff.update(timezone="Europe/Lisbon").where(Staff.id == other.id).execute()
    notify.queue_sms(guarantor.mobile, "For Maria", purpose="test", guarantor=guarantor)
    staff_login(client, other)
    assert "2026-11-23 15:00 WET" in text(client.get("/staff/outbox").text)
    assert Staff.get_by_id(staff.id).zone == "America/Chicago"


def test_the_audit_log_reads_in_the_admins_zone(client, admin, guarantor):
    Staff.update(timezone="America/New_York").where(Staff.id == admin.id).execute()
    staff_login(client, admin)
    page = text(client.get("/staff/audit").text)
    assert "When" in page and "UTC" not in page
    assert re.search(r"2026-11-23 10:00:30 EST admin@example\.org sign_in", page)


def test_the_desk_qr_code_reads_in_the_groups_zone(as_staff, staff, guarantor):
    # the staff member reads Los Angeles time elsewhere; the desk code is the practice's (Chicago)
    Staff.update(timezone="America/Los_Angeles").where(Staff.id == staff.id).execute()
    page = post_form(as_staff, "/staff/guarantors/A1001/qr").text
    assert "Works once, until 09:15 CST (15 minutes)." in text(page)
    assert actions("desk_qr")[0].detail == "expires 2026-11-23 09:15 CST"


def test_requests_and_contact_changes_read_in_the_staff_members_zone(as_staff, guarantor):
    PatientRequest.create(guarantor=guarantor, kind="register_patient", detail=json.dumps({"first_name": "Lucia"}))
    ContactChange.create(guarantor=guarantor, field="email", old_value="maria@example.org",
                         new_value="maria.lopez@example.org")
    post_form(as_staff, f"/staff/requests/{PatientRequest.get().id}/handled")
    page = text(as_staff.get("/staff/requests?show=all").text)
    assert "UTC" not in page
    assert page.count("2026-11-23 09:00 CST") == 3  # asked, handled, the contact change


def test_pages_of_one_practice_read_in_its_zone(client, guarantor, second, staff, ann):
    batch = hand_built_day(guarantor, second, staff)
    pay(ann, "W-1", "25.00", at(2026, 11, 23, 22, 30), card_type="Amex", last4="0005",
        apps=[(make_encounter(ann, "EW1"), "1", "25.00")])
    as_staff = client
    staff_login(as_staff, staff)
    receipt = text(as_staff.get("/staff/receipts/R-1001").text)
    assert "2026-11-23 09:00 CST" in receipt and "UTC" not in receipt
    detail = as_staff.get(f"/staff/batches/{batch.id}").text
    assert "2026-11-23 09:00 CST" in text(detail) and zones_shown(detail) == {"CST"}
    # a report over every group: each row in its own practice's zone (its days are the practice's), named
    report = as_staff.get("/staff/reports/payments?from=2026-11-23&to=2026-11-23").text
    assert "2026-11-23 14:30 PST" in text(report) and "2026-11-23 09:00 CST" in text(report)
    assert zones_shown(report) == {"CST", "PST"}
    sessions = as_staff.get("/staff/reports/sessions?from=2026-11-23&to=2026-11-23").text
    assert "UTC" not in text(sessions)


def test_a_lockout_reads_in_the_locked_members_zone(client, admin, staff, guarantor):
    Staff.update(timezone="America/Denver").where(Staff.id == staff.id).execute()
    for _ in range(5):
        post_form(client, "/staff/login", {"email": staff.email, "password": "wrong password", "code": "000000"})
    locked = Staff.get_by_id(staff.id)
    assert locked.locked_until == clock.now() + dt.timedelta(minutes=15)
    assert actions("locked")[0].detail == "until 2026-11-23 08:15 MST"
    # the admin reads it in their own zone (the default: Chicago)
    staff_login(client, admin)
    assert "locked until 09:15 CST" in text(client.get("/staff/admin").text)
