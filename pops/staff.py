"""Staff accounts and their sign-in: argon2 passwords, TOTP codes (each once), the lockout, sessions."""
from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher

from . import clock, limits, sessions, timezones
from .audit import audit
from .db import database
from .models import Staff, StaffSession
from .templating import format_date

ROLES = Staff.ROLES
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
TOTP_WINDOW = 1  # steps either side of now, for a phone clock a little off
NOT_ACCEPTED = (f"Email, password or code not accepted. After {MAX_FAILURES} failed tries an account is locked "
                f"for {LOCKOUT.seconds // 60} minutes.")
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY = Staff(password_hash="$argon2id$v=19$m=65536,t=3,p=4$eQ0uQjJ1PAZx5dGIDRxaVg$YYnlzMmvffWPQztMqGBWIi/pRUlO1XP3RbnmyJ/Gde4")


class StaffError(ValueError):
    pass


# --- accounts ---------------------------------------------------------------------------------

def create_staff(email: str, password: str, role: str = Staff.STAFF) -> Staff:
    """A new staff member with a fresh TOTP secret; refuses weak passwords, bad roles, duplicates."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise StaffError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password must be at least {MIN_PASSWORD} characters")
    if Staff.select().where(Staff.email == email).exists():
        raise StaffError(f"a staff member with email {email} already exists")
    return Staff.create(email=email, password_hash=_hasher.hash(password), role=role,
                        totp_secret=pyotp.random_base32())


def set_timezone(member: Staff, timezone: str, *, ip: str) -> bool:
    """Set the zone `member` reads pages spanning groups in ("" for the default), recorded; False (and
    nothing changed) when it is not a zone of the list."""
    if timezone and not timezones.is_zone(timezone):
        return False
    if timezone != member.timezone:
        with database.atomic():
            Staff.update(timezone=timezone).where(Staff.id == member.id).execute()
            audit(member, "staff_timezone", detail=f"{member.timezone or 'default'} → {timezone or 'default'}", ip=ip)
        member.timezone = timezone
    return True


def check_password(staff: Staff, password: str) -> bool:
    try:
        return _hasher.verify(staff.password_hash, password)
    except Exception:  # argon2 raises several mismatch/invalid-hash errors; all mean "no"
        return False


def provisioning_uri(staff: Staff) -> str:
    return pyotp.TOTP(staff.totp_secret).provisioning_uri(name=staff.email, issuer_name="POPS")


# --- the sign-in rules --------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    staff: Staff | None
    ok: bool
    reason: str  # "ok", "unknown", "inactive", "locked", "password", "code"
    locks: bool = False  # this failure locked the account


def _accept_totp(staff: Staff, code: str) -> bool:
    """True once per time step: the step is recorded with a conditional update, so a replay fails."""
    code = "".join(ch for ch in code if ch in "0123456789")  # not str.isdigit: "١٢٣" and "²" are digits too
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(staff.totp_secret)
    now_step = totp.timecode(clock.now())
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        if step > staff.last_totp_step and hmac.compare_digest(totp.generate_otp(step), code):
            rows = Staff.update(last_totp_step=step).where(
                (Staff.id == staff.id) & (Staff.last_totp_step < step)).execute()
            return bool(rows)
    return False


def _fail(staff: Staff) -> bool:
    """Count a failed sign-in; True when it is the one that locks the account (the UPDATE's row count says)."""
    Staff.update(failed_sign_ins=Staff.failed_sign_ins + 1).where(Staff.id == staff.id).execute()
    return bool(Staff.update(failed_sign_ins=0, locked_until=clock.now() + LOCKOUT).where(
        (Staff.id == staff.id) & (Staff.failed_sign_ins >= MAX_FAILURES)).execute())


def authenticate(email: str, password: str, code: str) -> Check:
    """Check all three; a failure counts toward the lockout. Run inside a transaction.

    The staff row is locked before anything is checked, so one member's sign-ins run one at a
    time and each reads the failures and the lock the one before it left.
    """
    staff = limits.locked(Staff.select().where(Staff.email == email.strip().lower())).get_or_none()
    if staff is None:
        check_password(_DUMMY, password)
        return Check(None, False, "unknown")
    if not staff.active:
        check_password(_DUMMY, password)
        return Check(staff, False, "inactive")
    if staff.locked_until is not None and clock.now() < staff.locked_until:
        return Check(staff, False, "locked")
    if not check_password(staff, password):
        return Check(staff, False, "password", locks=_fail(staff))
    if not _accept_totp(staff, code):
        return Check(staff, False, "code", locks=_fail(staff))
    Staff.update(failed_sign_ins=0, locked_until=None).where(Staff.id == staff.id).execute()
    return Check(staff, True, "ok")


# --- signing in and out -------------------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    ok: bool
    reason: str  # as Check.reason
    token: str = ""  # the new session's cookie token, when ok


def sign_in(email: str, password: str, code: str, *, ip: str, user_agent: str, idle: dt.timedelta,
            previous_session: StaffSession | None = None) -> SignIn:
    """Check the three, then start a staff session (ending this browser's previous one).

    One transaction: the failure count, the lockout, the session and their audit rows
    ("sign_in_failed" with the reason, "locked" when this failure locked the account, "sign_in").
    """
    with database.atomic():
        check = authenticate(email, password, code)
        if not check.ok:
            audit(check.staff, "sign_in_failed", detail=check.reason, actor=email, ip=ip)
            if check.locks:
                staff = Staff.get_by_id(check.staff.id)
                until = format_date(staff.locked_until, "stamp_zone", staff.zone)
                audit(staff, "locked", detail=f"until {until}", ip=ip)
            return SignIn(False, check.reason)
        if previous_session is not None:
            sessions.end(previous_session, "replaced")
        token, _ = sessions.start_staff(check.staff, idle=idle, ip=ip, user_agent=user_agent)
        audit(check.staff, "sign_in", ip=ip)
    return SignIn(True, check.reason, token)


def sign_out(session: StaffSession, *, ip: str) -> None:
    """End a staff session (log out), recorded."""
    with database.atomic():
        sessions.end(session, "logout")
        audit(session, "sign_out", ip=ip)
