"""The staff console over HTTP: roles, find, dashboard, mirror, desk QR, notifications, groups, staff, outbox, audit."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from pops import clock, ledger, links
from pops.plans.notices import record_text_consent
from pops.models import AuditLog, Group, Guarantor, Link, OutboxMessage, PatientSession, Staff, StaffSession

from factories import make_staff, owe, totp_now
from http_helpers import SECRET, open_browser, post_form, sign_in_as, staff_login


@pytest.fixture
def as_staff(client, staff):
    staff_login(client, staff)
    return client


@pytest.fixture
def as_admin(client, admin):
    staff_login(client, admin)
    return client


def actions(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def shown(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)<', html, re.S)
    assert match, f"no {name} in page"
    return match.group(1).strip()


# --- roles ----------------------------------------------------------------------------------

ADMIN_PATHS = [
    ("GET", "/staff/admin"),
    ("GET", "/staff/admin/groups/RFM"),
    ("POST", "/staff/admin/groups/RFM"),
    ("POST", "/staff/admin/staff"),
    ("POST", "/staff/admin/staff/{other}/deactivate"),
    ("POST", "/staff/admin/staff/{other}/unlock"),
    ("GET", "/staff/audit"),
]
STAFF_PATHS = [
    ("GET", "/staff/find"),
    ("GET", "/staff/guarantors/A1001"),
    ("POST", "/staff/guarantors/A1001/notify"),
    ("POST", "/staff/guarantors/A1001/qr"),
    ("GET", "/staff/mirror"),
    ("POST", "/staff/mirror"),
    ("GET", "/staff/outbox"),
]


def request(client, method, path, data=None):
    return client.get(path) if method == "GET" else post_form(client, path, data or {})


@pytest.mark.parametrize("method,path", ADMIN_PATHS + STAFF_PATHS)
def test_every_console_path_needs_a_staff_sign_in(client, guarantor, method, path):
    other = make_staff("other@example.org")
    response = request(client, method, path.format(other=other.id))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login?next=")
    assert Staff.get_by_id(other.id).active


@pytest.mark.parametrize("method,path", ADMIN_PATHS)
def test_staff_members_get_403_on_every_admin_path(as_staff, guarantor, method, path):
    other = make_staff("other@example.org")
    Staff.update(locked_until=clock.now() + dt.timedelta(minutes=5)).where(Staff.id == other.id).execute()
    before = Group.get(Group.code == "RFM").brand_color
    response = request(as_staff, method, path.format(other=other.id),
                       {"name": "Hijacked", "brand_color": "#000000", "email": "x@example.org",
                        "password": "long enough password", "role": "admin"})
    assert response.status_code == 403
    assert "Admins only" in response.text
    # nothing changed
    assert Group.get(Group.code == "RFM").name == "Riverside Family Medicine"
    assert Group.get(Group.code == "RFM").brand_color == before
    assert Staff.get_by_id(other.id).active and Staff.get_by_id(other.id).locked_until is not None
    assert Staff.select().count() == 2
    assert actions("forbidden")[-1].detail == path.format(other=other.id)


@pytest.mark.parametrize("method,path", [p for p in ADMIN_PATHS if p[0] == "GET"])
def test_admins_reach_admin_pages(as_admin, guarantor, method, path):
    assert as_admin.get(path).status_code == 200


def test_the_admin_menu_shows_for_admins_only(client, staff, admin):
    staff_login(client, staff)
    assert "POPS Management" not in client.get("/staff/find").text
    post_form(client, "/staff/logout")
    staff_login(client, admin)
    assert "POPS Management" in client.get("/staff/find").text


# --- find and dashboard ---------------------------------------------------------------------

@pytest.fixture
def others(group):
    Guarantor.create(account="B2002", group=group, first_name="Mario", last_name="Lopes",
                     date_of_birth=dt.date(1990, 1, 2), mobile="+15555559999")
    Guarantor.create(account="C3003", group=group, first_name="Ann", last_name="Smith",
                     date_of_birth=dt.date(1981, 4, 12), mobile="+15555550000")


@pytest.mark.parametrize("query,found", [
    ({"name": "lopez"}, ["A1001"]),
    ({"name": "Mari Lop"}, ["B2002", "A1001"]),  # by last name: Lopes, Lopez
    ({"account": "a1001"}, ["A1001"]),
    ({"dob": "04/12/1981"}, ["A1001", "C3003"]),
    ({"dob": "1981-04-12", "name": "maria"}, ["A1001"]),
    ({"phone": "(555) 555-0123"}, ["A1001"]),
    ({"phone": "0123"}, ["A1001"]),
    ({"name": "nobody"}, []),
])
def test_find_by_each_field(as_staff, guarantor, others, query, found):
    response = as_staff.get("/staff/find", params=query)
    assert response.status_code == 200
    accounts = re.findall(r'href="/staff/guarantors/([A-Z0-9]+)">\1<', response.text)
    assert accounts == found
    assert f"{len(found)} found" in response.text
    assert actions("search")[-1].staff.email == "desk@example.org"


def test_find_explains_a_bad_date_of_birth(as_staff, guarantor):
    response = as_staff.get("/staff/find", params={"dob": "12th of April"})
    assert "Type the date of birth as MM/DD/YYYY." in response.text
    assert "A1001" not in response.text


def test_dashboard_shows_the_numbers_the_patient_sees_and_is_audited(as_staff, guarantor, app, staff):
    owe(guarantor, amount="120.00", statement_due="80.00")
    page = as_staff.get("/staff/guarantors/A1001")
    assert page.status_code == 200
    balances = ledger.balances_for(guarantor)
    assert shown(page.text, "amount-due") == "$80.00" == f"${balances.amount_due}"
    assert shown(page.text, "current-balance") == "$120.00"
    assert shown(page.text, "eligibility") == "Can pay online."
    assert 'href="/staff/mirror?group=RFM&amp;guarantor=A1001"' in page.text
    view = actions("view_dashboard")[-1]
    assert (view.guarantor_id, view.staff_id) == (guarantor.id, staff.id)

    with TestClient(app, follow_redirects=False) as patient:
        sign_in_as(patient, guarantor, quickpay=True)
        quickpay = patient.get("/quickpay").text
    assert shown(quickpay, "amount-due") == shown(page.text, "amount-due")
    assert shown(quickpay, "current-balance") == shown(page.text, "current-balance")


def test_dashboard_shows_why_the_patient_cannot_pay(as_staff, guarantor):
    Guarantor.update(escrow=Decimal("10.00")).where(Guarantor.id == guarantor.id).execute()
    owe(guarantor)
    page = as_staff.get("/staff/guarantors/A1001")
    assert ledger.eligibility_for(Guarantor.get_by_id(guarantor.id)).message in page.text.replace("&#39;", "'")


def test_an_unknown_account_is_404(as_staff, guarantor):
    assert as_staff.get("/staff/guarantors/NOPE").status_code == 404


# --- mirror ---------------------------------------------------------------------------------

def test_mirror_quickpay_starts_a_staff_session_and_uses_no_link(as_staff, guarantor, staff):
    owe(guarantor)
    _, link = links.mint(guarantor, "sms", SECRET)
    form = as_staff.get("/staff/mirror", params={"guarantor": "A1001"})
    assert 'value="A1001"' in form.text and "data-mirror-form" in form.text
    response = post_form(as_staff, "/staff/mirror", {"group": "RFM", "guarantor": "A1001", "quickpay": "on"})
    assert response.status_code == 303
    assert response.headers["location"] == "/quickpay"
    assert "pops_session=" in response.headers["set-cookie"]
    session = PatientSession.get()
    assert (session.origin, session.auth, session.quickpay, session.staff_id) == ("staff_mirror", "staff", True, staff.id)
    assert session.link_id is None
    page = as_staff.get("/quickpay")
    assert page.status_code == 200 and "$80.00" in page.text
    assert Link.get_by_id(link.id).uses == 0
    assert actions("mirror_start")[-1].detail == "QuickPay"


def test_mirror_of_the_full_portal_lands_on_the_group_landing_page(as_staff, guarantor, group):
    response = post_form(as_staff, "/staff/mirror", {"group": "RFM", "guarantor": "A1001"})
    assert response.headers["location"] == "/home"
    assert PatientSession.get().quickpay is False
    Group.update(landing_page="pay").where(Group.id == group.id).execute()
    assert post_form(as_staff, "/staff/mirror", {"group": "RFM", "guarantor": "A1001"}).headers["location"] == "/pay"
    first, second = PatientSession.select().order_by(PatientSession.id)
    assert first.end_reason == "replaced" and second.ended_at is None


def test_mirror_end_ends_the_session_and_returns_to_the_dashboard(as_staff, guarantor):
    post_form(as_staff, "/staff/mirror", {"group": "RFM", "guarantor": "A1001", "quickpay": "on"})
    response = as_staff.get("/staff/mirror/end")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/guarantors/A1001?done=mirror_ended"
    assert 'pops_session=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert PatientSession.get().end_reason == "logout"
    assert len(actions("mirror_end")) == 1
    assert "Mirror ended." in as_staff.get(response.headers["location"]).text


def test_mirror_end_leaves_a_patients_own_session_alone(client, guarantor):
    session = sign_in_as(client, guarantor)
    client.get("/staff/mirror/end")
    assert PatientSession.get_by_id(session.id).ended_at is None


def test_mirror_refuses_a_guarantor_of_another_group(as_staff, guarantor):
    Group.create(code="OTH", name="Other Practice")
    response = post_form(as_staff, "/staff/mirror", {"group": "OTH", "guarantor": "A1001"})
    assert response.status_code == 422
    assert "No guarantor with that account in that group." in response.text
    assert PatientSession.select().count() == 0


# --- desk QR --------------------------------------------------------------------------------

def desk_code(html: str) -> str:
    return shown(html, "desk-code")


def test_desk_qr_is_one_use(as_staff, guarantor, staff, app):
    response = post_form(as_staff, "/staff/guarantors/A1001/qr")
    assert response.status_code == 200
    assert "<svg" in response.text
    code = desk_code(response.text)
    link = Link.get()
    assert (link.purpose, link.max_uses, link.created_by_id) == ("desk", 1, staff.id)
    assert link.expires_at == clock.now() + dt.timedelta(minutes=15)
    assert actions("desk_qr")[-1].guarantor_id == guarantor.id
    assert code not in actions("desk_qr")[-1].detail
    with TestClient(app, follow_redirects=False) as phone:
        assert phone.get(f"/q/{code}").status_code == 303
        assert PatientSession.get().origin == "desk_qr"
        assert phone.get(f"/q/{code}").status_code == 410


def test_desk_qr_expires_after_the_groups_desk_minutes(as_staff, guarantor, group, app):
    Group.update(desk_qr_minutes=5).where(Group.id == group.id).execute()
    code = desk_code(post_form(as_staff, "/staff/guarantors/A1001/qr").text)
    clock.advance(minutes=5, seconds=1)
    with TestClient(app, follow_redirects=False) as phone:
        assert phone.get(f"/q/{code}").status_code == 410
    assert PatientSession.select().count() == 0


# --- Send Balance Notification --------------------------------------------------------------

def test_send_by_text_queues_the_quickpay_link(as_staff, guarantor, staff, app):
    owe(guarantor)
    record_text_consent(guarantor, True, "import: paper form")
    response = post_form(as_staff, "/staff/guarantors/A1001/notify", {"channel": "sms"})
    assert response.status_code == 303
    assert "Text message queued." in as_staff.get(response.headers["location"]).text
    message = OutboxMessage.get()
    assert (message.channel, message.recipient) == ("sms", "+15555550123")
    assert message.body.startswith("Riverside Family Medicine: you have a new statement. View and pay securely: ")
    assert message.body.endswith(" Reply STOP to opt out.") and "$" not in message.body  # never an amount by text
    url = re.search(r"http://testserver/q/\S+", message.body).group()
    link = Link.get()
    assert (link.purpose, link.created_by_id) == ("sms", staff.id)
    assert actions("notification_sent")[-1].guarantor_id == guarantor.id
    with TestClient(app, follow_redirects=False) as phone:
        assert phone.get(url.removeprefix("http://testserver")).headers["location"] == "/quickpay"


def test_send_by_email(as_staff, guarantor):
    owe(guarantor)
    assert post_form(as_staff, "/staff/guarantors/A1001/notify", {"channel": "email"}).status_code == 303
    message = OutboxMessage.get()
    assert (message.channel, message.recipient) == ("email", "maria@example.org")
    assert "$80.00" in message.subject and "/q/" in message.body
    assert Link.get().purpose == "email"


@pytest.mark.parametrize("setup,channel,reason", [
    ("opt_out", "sms", "Not sent: this guarantor has opted out of text messages."),
    ("no_mobile", "sms", "Not sent: there is no mobile number on this account."),
    ("no_email", "email", "Not sent: there is no email address on this account."),
    ("nothing_owed", "sms", "Not sent: nothing is owed (the Amount Due is $0.00)."),
    ("no_statement", "email", "Not sent: this guarantor has no current statement."),
    ("no_balance_texts", "sms", "Not sent: the patient chose not to get balance notices by text (Profile)."),
    ("no_balance_emails", "email", "Not sent: the patient chose not to get balance notices by email (Profile)."),
    ("no_consent", "sms", "Not sent: no texting consent is recorded for this mobile."),
])
def test_send_is_refused_with_the_reason(as_staff, guarantor, setup, channel, reason):
    owe(guarantor, statement_due="0.00" if setup == "nothing_owed" else "80.00", statement=setup != "no_statement")
    changes = {"opt_out": {"sms_opt_out": True}, "no_mobile": {"mobile": ""}, "no_email": {"email": ""},
               "no_balance_texts": {"notify_balance_text": False},
               "no_balance_emails": {"notify_balance_email": False}}.get(setup)
    if changes:
        Guarantor.update(**changes).where(Guarantor.id == guarantor.id).execute()
    if setup != "no_consent":
        record_text_consent(guarantor, True, "import: paper form")
    response = post_form(as_staff, "/staff/guarantors/A1001/notify", {"channel": channel})
    assert response.status_code == 422
    assert reason in response.text
    assert OutboxMessage.select().count() == 0
    assert Link.select().count() == 0
    assert actions("notification_refused")[-1].detail == f"{channel}: {reason}"


# --- POPS Management ------------------------------------------------------------------------

def group_form(group: Group, **changes) -> dict:
    from pops.console import BOOL_FIELDS, GROUP_FIELDS

    data = {}
    for field in GROUP_FIELDS:
        value = getattr(group, field)
        if field in BOOL_FIELDS:
            if value:
                data[field] = "on"
        else:
            data[field] = str(value)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_group_edit_saves_and_audits_old_and_new(as_admin, group):
    form = as_admin.get("/staff/admin/groups/RFM")
    assert 'name="desk_qr_minutes" value="15"' in form.text
    data = group_form(group, brand_color="#aa3300", desk_qr_minutes="10", show_current_balance=None,
                      landing_page="pay", timezone="America/Denver")
    response = post_form(as_admin, "/staff/admin/groups/RFM", data)
    assert response.status_code == 303
    saved = Group.get_by_id(group.id)
    assert (saved.brand_color, saved.desk_qr_minutes, saved.show_current_balance, saved.landing_page, saved.timezone) \
        == ("#aa3300", 10, False, "pay", "America/Denver")
    details = sorted(row.detail for row in actions("group_setting"))
    assert details == sorted([
        "RFM brand_color: '#1f5f8b' → '#aa3300'",
        "RFM desk_qr_minutes: 15 → 10",
        "RFM show_current_balance: True → False",
        "RFM landing_page: 'home' → 'pay'",
        "RFM timezone: 'America/Chicago' → 'America/Denver'",
    ])
    # saving again without changes records nothing more
    post_form(as_admin, "/staff/admin/groups/RFM", group_form(saved))
    assert len(actions("group_setting")) == 5


@pytest.mark.parametrize("field,value,message", [
    ("brand_color", "red", "Use a colour like #1f5f8b."),
    ("brand_color", "#12345g", "Use a colour like #1f5f8b."),
    ("timezone", "Mars/Olympus_Mons", "Choose a time zone from the list."),
    ("timezone", "../../etc/passwd", "Choose a time zone from the list."),
    ("desk_qr_minutes", "0", "Use a whole number of at least 1."),
    ("quickpay_max_uses", "-3", "Use a whole number of at least 1."),
    ("link_days", "ten", "Use a whole number of at least 1."),
    ("session_idle_timeout", "", "Use a whole number of at least 1."),
    ("landing_page", "statements", "Choose Home or Pay."),
    ("name", "", "The group needs a name."),
    ("footer_email", "not-an-email", "Use an email address like billing@example.org, or leave it empty."),
    ("logo", "javascript:alert(1)", "Use an https:// address or a path on this site, or leave it empty."),
])
def test_bad_group_input_changes_nothing(as_admin, group, field, value, message):
    before = {f: getattr(group, f) for f in ("name", "brand_color", "timezone", "desk_qr_minutes", "landing_page")}
    data = group_form(group, **{"name": "Renamed Practice", field: value})
    response = post_form(as_admin, "/staff/admin/groups/RFM", data)
    assert response.status_code == 422
    assert message in response.text
    assert "Nothing was saved." in response.text
    saved = Group.get_by_id(group.id)
    assert {f: getattr(saved, f) for f in before} == before
    assert actions("group_setting") == []


def test_admin_creates_a_staff_member_who_can_sign_in(as_admin, app):
    response = post_form(as_admin, "/staff/admin/staff", {"email": "New@Example.org", "password": "a long first password",
                                                          "role": "staff"})
    assert response.status_code == 200
    member = Staff.get(Staff.email == "new@example.org")
    assert member.role == "staff"
    assert shown(response.text, "totp-secret") == member.totp_secret
    assert "otpauth://totp/" in response.text
    assert actions("staff_create")[-1].detail == "new@example.org (staff)"
    assert member.totp_secret not in actions("staff_create")[-1].detail
    with open_browser(app) as browser:
        clock.advance(seconds=30)
        signed = post_form(browser, "/staff/login", {"email": "new@example.org", "password": "a long first password",
                                                      "code": totp_now(member)})
        assert signed.status_code == 303


@pytest.mark.parametrize("data,message", [
    ({"email": "short@example.org", "password": "short", "role": "staff"}, "at least 12 characters"),
    ({"email": "admin@example.org", "password": "a long first password", "role": "staff"}, "already exists"),
    ({"email": "x@example.org", "password": "a long first password", "role": "owner"}, "Role must be one of"),
])
def test_staff_create_refuses_bad_input(as_admin, data, message):
    response = post_form(as_admin, "/staff/admin/staff", data)
    assert response.status_code == 422
    assert message in response.text
    assert Staff.select().count() == 1


def test_deactivate_signs_a_staff_member_out_and_unlock_clears_a_lock(client, app, staff, admin):
    with open_browser(app) as desk:
        staff_login(desk, staff)
        assert desk.get("/staff/find").status_code == 200
        staff_login(client, admin)
        Staff.update(locked_until=clock.now() + dt.timedelta(minutes=10), failed_sign_ins=0).where(
            Staff.id == staff.id).execute()
        assert post_form(client, f"/staff/admin/staff/{staff.id}/unlock").status_code == 303
        assert Staff.get_by_id(staff.id).locked_until is None
        assert post_form(client, f"/staff/admin/staff/{staff.id}/deactivate").status_code == 303
        assert Staff.get_by_id(staff.id).active is False
        assert desk.get("/staff/find").status_code == 303
        assert StaffSession.get(StaffSession.staff == staff).end_reason == "deactivated"
    assert [r.detail for r in actions("staff_unlock")] == ["desk@example.org"]
    assert [r.detail for r in actions("staff_deactivate")] == ["desk@example.org"]


def test_an_admin_cannot_deactivate_themselves(as_admin, admin):
    post_form(as_admin, f"/staff/admin/staff/{admin.id}/deactivate")
    assert Staff.get_by_id(admin.id).active


# --- outbox and audit log -------------------------------------------------------------------

def test_outbox_lists_every_message_newest_first(as_staff, guarantor):
    from pops import notify

    notify.queue_sms("+15555550123", "first message", purpose="test", guarantor=guarantor)
    clock.advance(minutes=1)
    notify.queue_email("maria@example.org", "Hello", "second message", purpose="test", guarantor=guarantor)
    page = as_staff.get("/staff/outbox").text
    assert page.index("second message") < page.index("first message")


def test_audit_log_shows_who_what_when_and_where(as_admin, guarantor):
    as_admin.get("/staff/guarantors/A1001")
    page = as_admin.get("/staff/audit").text
    assert "view_dashboard" in page and "admin@example.org" in page and "sign_in" in page
    assert "testclient" in page  # the client's address
    assert 'href="/staff/guarantors/A1001"' in page


@pytest.mark.parametrize("how", ["log out", "deactivated", "idle"])
def test_a_mirror_ends_with_its_staff_members_session(as_staff, guarantor, staff, how):
    """A shared desk PC: once the staff member is gone, the patient's pages are gone too."""
    Group.update(session_idle_timeout=60).execute()  # the mirror itself would live on
    post_form(as_staff, "/staff/mirror", {"group": "RFM", "guarantor": "A1001"})
    assert as_staff.get("/home").status_code == 200
    if how == "log out":
        post_form(as_staff, "/staff/logout")
    elif how == "deactivated":
        Staff.update(active=False).where(Staff.id == staff.id).execute()
    else:
        clock.advance(dt.timedelta(minutes=16))  # past the staff idle timeout (15), not the group's (60)
    response = as_staff.get("/home")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    mirror = PatientSession.get()
    assert mirror.ended_at is not None
