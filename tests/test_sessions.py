"""Server-side sessions: random cookie tokens, idle and absolute limits, extension, log out, pages."""
from __future__ import annotations

import datetime as dt

from pops import clock, sessions
from pops.models import Group, PatientSession, SessionPage, StaffSession

from factories import make_staff


def test_a_session_is_a_row_found_only_by_its_token(guarantor):
    token, row = sessions.start_patient(guarantor, "sms_link", "quickpay", quickpay=True)
    assert len(token) >= 40
    assert row.token_hash != token  # the token itself is never stored
    assert PatientSession.select().where(PatientSession.token_hash.contains(token)).count() == 0
    found = sessions.load(PatientSession, token)
    assert found is not None and found.id == row.id and found.origin == "sms_link" and found.quickpay
    assert sessions.load(PatientSession, token + "x") is None
    assert sessions.load(PatientSession, None) is None


def test_a_session_read_again_has_its_guarantor_and_group_as_they_are_now(guarantor):
    """load() keeps the guarantor's and group's rows it has read with what they convert to (from_row's
    seen_often): a row changed since is read afresh, and no instance shares its values with another."""
    token, _ = sessions.start_patient(guarantor, "sign_in", "code")
    first = sessions.load(PatientSession, token)
    first.guarantor.first_name = "Changed in memory only"
    first.group.show_current_balance = not first.group.show_current_balance
    again = sessions.load(PatientSession, token)
    assert again.guarantor.first_name == guarantor.first_name
    assert again.group.show_current_balance == Group.get_by_id(guarantor.group_id).show_current_balance
    assert again.group.show_current_balance is not first.group.show_current_balance

    Group.update(name="Riverside Renamed", show_current_balance=False,
                 session_idle_timeout=7).where(Group.id == guarantor.group_id).execute()
    guarantor.first_name = "Marisol"
    guarantor.save()
    now = sessions.load(PatientSession, token)
    assert (now.group.name, now.group.show_current_balance, now.group.session_idle_timeout) == (
        "Riverside Renamed", False, 7)
    assert now.guarantor.first_name == "Marisol"


def test_each_sign_in_gets_a_new_session(guarantor):
    first, _ = sessions.start_patient(guarantor, "sign_in", "code")
    second, _ = sessions.start_patient(guarantor, "sign_in", "code")
    assert first != second
    assert PatientSession.select().count() == 2


def test_idle_timeout_comes_from_the_group(guarantor):
    Group.update(session_idle_timeout=5).execute()
    guarantor = type(guarantor).get_by_id(guarantor.id)
    token, _ = sessions.start_patient(guarantor, "sign_in", "code")
    clock.advance(minutes=4, seconds=59)
    assert sessions.load(PatientSession, token) is not None  # activity moves the deadline
    clock.advance(minutes=4, seconds=59)
    assert sessions.load(PatientSession, token) is not None
    clock.advance(minutes=5)
    assert sessions.load(PatientSession, token) is None
    row = PatientSession.get()
    assert row.end_reason == "idle" and row.ended_at is not None


def test_a_status_poll_does_not_count_as_activity(guarantor):
    token, _ = sessions.start_patient(guarantor, "sign_in", "code")
    clock.advance(minutes=14)
    assert sessions.load(PatientSession, token, touch=False) is not None
    clock.advance(minutes=2)
    assert sessions.load(PatientSession, token, touch=False) is None


def test_absolute_limit_of_twelve_hours_even_with_activity(guarantor):
    token, _ = sessions.start_patient(guarantor, "sign_in", "code")
    for _ in range(12 * 6 - 1):
        clock.advance(minutes=10)
        assert sessions.load(PatientSession, token) is not None
    clock.advance(minutes=10)
    assert sessions.load(PatientSession, token) is None
    assert PatientSession.get().end_reason == "limit"


def test_extension_only_when_the_group_allows_it(guarantor):
    token, row = sessions.start_patient(guarantor, "sms_link", "quickpay")
    clock.advance(minutes=14, seconds=30)
    row = sessions.load(PatientSession, token, touch=False)
    assert not sessions.should_warn(row)  # the group does not allow extension: no warning
    assert sessions.extend(row) is False

    Group.update(allow_session_extension=True).execute()
    row = sessions.load(PatientSession, token, touch=False)
    assert sessions.should_warn(row)
    assert sessions.extend(row) is True
    assert sessions.remaining(row) == dt.timedelta(minutes=15)
    assert PatientSession.get_by_id(row.id).extensions == 1
    clock.advance(minutes=14)
    assert sessions.load(PatientSession, token, touch=False) is not None


def test_log_out_ends_the_session_on_the_server(guarantor):
    token, row = sessions.start_patient(guarantor, "sign_in", "code")
    sessions.end(row)
    assert sessions.load(PatientSession, token) is None
    assert PatientSession.get_by_id(row.id).end_reason == "logout"


def test_pages_visited_are_recorded(guarantor):
    token, row = sessions.start_patient(guarantor, "sign_in", "code")
    for path in ["/home", "/account", "/pay"]:
        sessions.record_page(row, path)
    assert [p.path for p in SessionPage.select().order_by(SessionPage.id)] == ["/home", "/account", "/pay"]
    assert PatientSession.get_by_id(row.id).pages == 3


def test_staff_sessions_are_a_separate_table_and_token(guarantor):
    staff = make_staff()
    staff_token, _ = sessions.start_staff(staff)
    patient_token, _ = sessions.start_patient(guarantor, "staff_mirror", "staff", staff=staff)
    assert sessions.load(StaffSession, patient_token) is None
    assert sessions.load(PatientSession, staff_token) is None
    assert sessions.load(StaffSession, staff_token).staff.email == "desk@example.org"
    clock.advance(minutes=16)
    assert sessions.load(StaffSession, staff_token) is None
