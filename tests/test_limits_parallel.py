"""Every limit and counter under a real parallel burst: threads released together, each on its own connection.

On SQLite the IMMEDIATE transactions queue the writers; on PostgreSQL (POPS_TEST_DATABASE_URL) the
requests really overlap, and the database write must be what decides each limit.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets

import pyotp
from starlette.testclient import TestClient

from pops import clock, links, otp, signin, staff as staff_accounts
from pops.contacts import Destination
from pops.db import database
from pops.models import AuditLog, Link, OneTimeCode, OutboxMessage, PaymentAttempt, Staff, Throttle

from factories import PASSWORD, make_encounter, make_guarantor, make_statement, patient_session
from http_helpers import CSRF, SECRET
from parallel import burst

IP = "198.51.100.7"


def tally(results: list) -> dict:
    return {value: results.count(value) for value in set(results)}


# --- QuickPay links ---------------------------------------------------------------------------

def test_a_ten_use_link_opened_100_times_at_once_gives_exactly_ten(db, guarantor):
    code, link = links.mint(guarantor, "sms", SECRET, max_uses=10)
    results = burst(db, 100, lambda _: links.redeem(code, SECRET).status)
    assert tally(results) == {"ok": 10, "used_up": 90}
    assert Link.get_by_id(link.id).uses == 10


def _forged() -> str:
    """A code of the right shape whose signature is (almost surely) wrong."""
    return "S" + "".join(secrets.choice(links.ALPHABET) for _ in range(links.CODE_CHARS - 1))


def test_a_burst_of_forged_codes_from_one_address_counts_exactly_the_limit_then_throttles(db, guarantor):
    code, _ = links.mint(guarantor, "sms", SECRET)
    forged = [_forged() for _ in range(100)]
    results = burst(db, 100, lambda i: links.redeem(forged[i], SECRET, ip=IP).status)
    assert tally(results) == {"unknown": links.BAD_CODES_PER_WINDOW, "throttled": 100 - links.BAD_CODES_PER_WINDOW}
    assert Throttle.get(Throttle.kind == Throttle.LINK, Throttle.key == IP).count == links.BAD_CODES_PER_WINDOW
    assert AuditLog.select().where(AuditLog.action == "link_throttled").count() == 1
    assert links.redeem(code, SECRET, ip=IP).ok  # a genuine code is honoured from a throttled address


# --- one-time codes -----------------------------------------------------------------------------

def _last_code_sent() -> str:
    message = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get()
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _check(attempt: str, code: str) -> str:
    with database.atomic():
        return otp.check_code(attempt, code, purpose="sign_in", secret_key=SECRET).status


def _send(destination: Destination) -> OneTimeCode:
    return signin.send_code(destination, secret_key=SECRET, ip=IP)


def test_wrong_codes_at_once_count_exactly_max_wrong_and_then_even_the_right_one_is_refused(db, guarantor):
    row = _send(Destination(guarantor, "email", guarantor.email))
    right = _last_code_sent()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    results = burst(db, 30, lambda _: _check(row.attempt, wrong))
    assert set(results) <= {"wrong", "locked"}
    assert results.count("wrong") <= otp.MAX_WRONG - 1
    assert OneTimeCode.get_by_id(row.id).failures == otp.MAX_WRONG
    assert _check(row.attempt, right) == "locked"


def test_the_right_code_sent_at_once_is_accepted_exactly_once(db, guarantor):
    row = _send(Destination(guarantor, "email", guarantor.email))
    right = _last_code_sent()
    results = burst(db, 30, lambda _: _check(row.attempt, right))
    assert tally(results) == {"ok": 1, "used": 29}


def _send_or_refuse(destination: Destination) -> str:
    try:
        _send(destination)
    except otp.RateLimited:
        return "limited"
    return "sent"


def test_codes_asked_for_at_once_send_exactly_the_hourly_limit_per_guarantor(db, guarantor):
    to_mobile = Destination(guarantor, "sms", guarantor.mobile)
    to_email = Destination(guarantor, "email", guarantor.email)
    results = burst(db, 30, lambda i: _send_or_refuse(to_mobile if i % 2 else to_email))
    assert tally(results) == {"sent": otp.SENDS_PER_HOUR, "limited": 30 - otp.SENDS_PER_HOUR}
    assert OneTimeCode.select().count() == otp.SENDS_PER_HOUR


def test_codes_asked_for_at_once_send_exactly_the_hourly_limit_per_address(db, group):
    """Many guarantors share one address (a family, a carrier's email): the address has its own limit."""
    shared = "family@example.org"
    people = [make_guarantor(group, f"F{n}", f"Kid{n}", "Family", email=shared) for n in range(10)]
    results = burst(db, 30, lambda i: _send_or_refuse(Destination(people[i % 10], "email", shared)))
    assert tally(results) == {"sent": otp.SENDS_PER_HOUR, "limited": 30 - otp.SENDS_PER_HOUR}
    assert OneTimeCode.select().where(OneTimeCode.destination == shared).count() == otp.SENDS_PER_HOUR


# --- patient sign-in lookups ------------------------------------------------------------------

def test_lookups_at_once_from_one_address_pass_exactly_the_hourly_limit(db, guarantor):
    def look(_):
        found = signin.look_up("Maria", "Lopez", guarantor.date_of_birth, None, IP)
        return "refused" if found is None else "looked"

    results = burst(db, 60, look)
    assert tally(results) == {"looked": signin.LOOKUPS_PER_HOUR, "refused": 60 - signin.LOOKUPS_PER_HOUR}


# --- staff sign-in lockout ----------------------------------------------------------------------

def _wrong_totp(member: Staff) -> str:
    totp = pyotp.TOTP(member.totp_secret)
    step = totp.timecode(clock.now())
    valid = {totp.generate_otp(s) for s in range(step - staff_accounts.TOTP_WINDOW, step + staff_accounts.TOTP_WINDOW + 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def test_wrong_codes_with_the_right_password_at_once_lock_after_exactly_five(db, staff):
    wrong = _wrong_totp(staff)

    def sign_in(_):
        return staff_accounts.sign_in(staff.email, PASSWORD, wrong, ip=IP, user_agent="burst",
                                      idle=dt.timedelta(minutes=15)).reason

    results = burst(db, 60, sign_in)
    failures = staff_accounts.MAX_FAILURES
    assert tally(results) == {"code": failures, "locked": 60 - failures}
    failed = AuditLog.select().where(AuditLog.action == "sign_in_failed")
    assert failed.where(AuditLog.detail == "code").count() == failures
    assert AuditLog.select().where(AuditLog.action == "locked").count() == 1
    assert Staff.get_by_id(staff.id).locked_until == clock.now() + staff_accounts.LOCKOUT


# --- the payment sequence -----------------------------------------------------------------------

def _pay_form(html: str) -> dict:
    form = re.search(r'<form method="post" action="/pay/start".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_one_pay_form_sent_twenty_times_at_once_starts_one_payment(app, db, guarantor):
    make_encounter(guarantor, "E1", date=dt.date(2026, 9, 1), charge="50.00")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="50.00")
    token, _ = patient_session(guarantor, origin="sms_link", quickpay=True)
    cookies = {"pops_session": token, "pops_csrf": CSRF}
    with TestClient(app, follow_redirects=False, cookies=cookies) as browser:
        form = _pay_form(browser.get("/quickpay").text)

    def start(_):
        with TestClient(app, follow_redirects=False, cookies=cookies) as browser:
            return browser.post("/pay/start", data={**form, "amount": "amount_due"}).headers.get("location")

    results = burst(db, 20, start)
    assert PaymentAttempt.select().count() == 1
    assert len(set(results)) == 1 and results[0] is not None
