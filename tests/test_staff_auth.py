"""Staff sign-in: password + TOTP (each code once), lockout and unlock by time, log out, the guard."""
from __future__ import annotations

import datetime as dt

import pyotp
import pytest

from pops import clock
from pops.models import AuditLog, Staff, StaffSession

from factories import PASSWORD, totp_now
from http_helpers import post_form, post_staff_login, staff_login


def test_the_console_needs_sign_in(client):
    response = client.get("/staff/find")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login?next=/staff/find"
    assert client.get("/staff").headers["location"] == "/staff/find"
    page = client.get("/staff/login")
    assert page.status_code == 200 and "Authenticator code" in page.text


def test_right_password_and_code_sign_in_with_a_staff_cookie(client, staff):
    response = post_staff_login(client, staff, next_url="/staff/outbox")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/outbox"
    cookie = response.headers["set-cookie"]
    assert "pops_staff=" in cookie and "HttpOnly" in cookie
    session = StaffSession.get()
    assert session.staff_id == staff.id
    assert session.expires_at == clock.now() + dt.timedelta(minutes=15)
    assert AuditLog.get(AuditLog.action == "sign_in").staff_id == staff.id
    assert client.get("/staff/login").status_code == 303  # already signed in


def test_next_never_leaves_the_console(client, staff):
    assert post_staff_login(client, staff, next_url="https://evil.example/").headers["location"] == "/staff/find"


@pytest.mark.parametrize("field", ["email", "password", "code"])
def test_wrong_email_password_or_code_get_the_same_message(client, staff, field):
    data = {"email": staff.email, "password": PASSWORD, "code": totp_now(staff)}
    data[field] = {"email": "nobody@example.org", "password": "wrong password!!",
                   "code": "000000" if totp_now(staff) != "000000" else "111111"}[field]
    response = post_form(client, "/staff/login", data)
    assert response.status_code == 401
    assert "Email, password or code not accepted." in response.text
    assert "pops_staff" not in response.headers.get("set-cookie", "")
    assert StaffSession.select().count() == 0
    failed = AuditLog.get(AuditLog.action == "sign_in_failed")
    assert failed.detail == {"email": "unknown", "password": "password", "code": "code"}[field]
    assert PASSWORD not in failed.detail and data["code"] not in failed.detail


def test_a_totp_code_is_accepted_once(client, staff):
    code = totp_now(staff)
    assert post_staff_login(client, staff, code=code).status_code == 303
    client.cookies.delete("pops_staff")
    replay = post_staff_login(client, staff, code=code)
    assert replay.status_code == 401
    assert StaffSession.select().count() == 1
    clock.advance(seconds=30)  # the next step's code works
    assert post_staff_login(client, staff).status_code == 303


def test_an_old_code_from_two_steps_ago_is_refused(client, staff):
    old = pyotp.TOTP(staff.totp_secret).at(clock.now() - dt.timedelta(seconds=90))
    assert post_staff_login(client, staff, code=old).status_code == 401


def test_five_failures_lock_for_fifteen_minutes_then_unlock(client, staff):
    for _ in range(5):
        assert post_staff_login(client, staff, password="wrong password!!").status_code == 401
    locked = Staff.get_by_id(staff.id)
    assert locked.locked_until == clock.now() + dt.timedelta(minutes=15)
    assert AuditLog.select().where(AuditLog.action == "locked").count() == 1
    # right password and code, still locked: the same message, no session
    refused = post_staff_login(client, staff)
    assert refused.status_code == 401 and "Email, password or code not accepted." in refused.text
    clock.advance(minutes=14, seconds=30)
    assert post_staff_login(client, staff).status_code == 401
    clock.advance(seconds=31)
    assert post_staff_login(client, staff).status_code == 303
    assert Staff.get_by_id(staff.id).failed_sign_ins == 0


def test_a_success_resets_the_failure_count(client, staff):
    for _ in range(4):
        post_staff_login(client, staff, password="wrong password!!")
    assert post_staff_login(client, staff).status_code == 303
    assert Staff.get_by_id(staff.id).failed_sign_ins == 0
    assert Staff.get_by_id(staff.id).locked_until is None


def test_a_deactivated_staff_member_cannot_sign_in_and_is_signed_out(client, staff):
    staff_login(client, staff)
    Staff.update(active=False).where(Staff.id == staff.id).execute()
    assert client.get("/staff/find").status_code == 303
    clock.advance(seconds=30)
    assert post_staff_login(client, staff).status_code == 401


def test_idle_staff_session_ends(client, staff):
    staff_login(client, staff)
    clock.advance(minutes=16)
    assert client.get("/staff/find").headers["location"].startswith("/staff/login")


def test_log_out_ends_the_session(client, staff):
    staff_login(client, staff)
    response = post_form(client, "/staff/logout")
    assert response.status_code == 303
    assert StaffSession.get().end_reason == "logout"
    assert AuditLog.select().where(AuditLog.action == "sign_out").count() == 1


def test_sign_in_without_form_token_changes_nothing(client, staff):
    response = client.post("/staff/login", data={"email": staff.email, "password": PASSWORD, "code": totp_now(staff)})
    assert response.status_code == 403
    assert StaffSession.select().count() == 0
