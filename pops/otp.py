"""One-time codes: send a 6-digit code, check it once.

A code belongs to one attempt (a random id the browser keeps in a signed cookie), is stored as
an HMAC of attempt and code under the secret key, lives 10 minutes, is used at most once, and
dies after 5 wrong tries. At most 5 codes an hour go to one guarantor and to one address.
Codes sign a patient in (pops.signin) and verify a new email or mobile in Profile (pops.profile).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from . import clock, language, limits, notify
from .i18n import N_, gettext
from .models import Guarantor, OneTimeCode, Throttle

CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_WRONG = 5
SENDS_PER_HOUR = 5  # per guarantor, and per address
HOUR = dt.timedelta(hours=1)
SUBJECTS = {  # and the code's text, in the guarantor's language
    "sign_in": N_("Your sign-in code"),
    "verify_email": N_("Confirm your new email address"),
    "verify_mobile": N_("Confirm your new mobile number"),
}
SIGN_IN_TEXT = N_("{code} is your {practice} sign-in code. It expires in 10 minutes. Do not share it with anyone.")
CONFIRM_TEXT = N_("{code} is your {practice} code to confirm this contact for your account. It expires in 10 minutes.")
NOT_YOU = N_("If you did not ask for this code, you can ignore this message.")


# --- sending ------------------------------------------------------------------------------

class RateLimited(Exception):
    """Too many codes sent to this guarantor or this address in the last hour; `retry_at` is when
    the next one may be sent (on a whole minute, so the time shown is never too early)."""

    def __init__(self, retry_at: dt.datetime):
        super().__init__(f"no code may be sent before {retry_at.isoformat()}")
        self.retry_at = retry_at
        self.per_hour = SENDS_PER_HOUR


def _hash(secret_key: str, attempt: str, code: str) -> str:
    return hmac.new(secret_key.encode(), f"pops.otp:{attempt}:{code}".encode(), hashlib.sha256).hexdigest()


def _lock(guarantor: Guarantor, address: str) -> None:
    """Queue code sending per guarantor and per address, so both hourly limits hold under parallel requests.

    Many guarantors may share an address (a family, a carrier's email), so the address has its
    own lock; the guarantor's row is always locked first, the address second.
    """
    limits.locked(Guarantor.select(Guarantor.id).where(Guarantor.id == guarantor.id)).execute()
    limits.lock(Throttle.CODE_ADDRESS, address)


def next_send_at(guarantor: Guarantor, address: str) -> dt.datetime | None:
    """None while a code may go to this guarantor at this address; else the minute the hourly limits
    let the next one go (when the code that fills a limit turns an hour old)."""
    since = clock.now() - HOUR
    waits = []
    for sent_to in (OneTimeCode.guarantor == guarantor.id, OneTimeCode.destination == address):
        newest = list(OneTimeCode.select(OneTimeCode.created_at).where((OneTimeCode.created_at > since) & sent_to)
                      .order_by(OneTimeCode.created_at.desc()).limit(SENDS_PER_HOUR))
        if len(newest) >= SENDS_PER_HOUR:
            waits.append(newest[-1].created_at + HOUR)
    if not waits:
        return None
    at = max(waits)
    minute = at.replace(second=0, microsecond=0)
    return minute if minute == at else minute + dt.timedelta(minutes=1)


def send_code(
    guarantor: Guarantor, channel: str, address: str, *, purpose: str, secret_key: str, ip: str = ""
) -> OneTimeCode:
    """Make a code for a new attempt and queue it to `address`; call inside a transaction.

    Raises RateLimited (and sends nothing) past SENDS_PER_HOUR. The returned row's `attempt` is
    what the browser keeps; the code itself exists only in the queued message.
    """
    if channel not in {"sms", "email"} or purpose not in SUBJECTS:
        raise ValueError(f"cannot send a {purpose} code by {channel}")
    _lock(guarantor, address)
    retry_at = next_send_at(guarantor, address)
    if retry_at is not None:
        raise RateLimited(retry_at)
    attempt = secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    now = clock.now()
    row = OneTimeCode.create(
        attempt=attempt,
        purpose=purpose,
        guarantor=guarantor,
        channel=channel,
        destination=address,
        code_hash=_hash(secret_key, attempt, code),
        created_at=now,
        expires_at=now + CODE_LIFETIME,
        ip=ip[:64],
    )
    lang = language.of_guarantor(guarantor)
    text = gettext(lang, SIGN_IN_TEXT if purpose == "sign_in" else CONFIRM_TEXT, code=code, practice=guarantor.group.name)
    if channel == "sms":
        notify.queue_sms(address, text, purpose=purpose, guarantor=guarantor, expires_at=row.expires_at)
    else:
        notify.queue_email(address, gettext(lang, SUBJECTS[purpose]), text + "\n\n" + gettext(lang, NOT_YOU) + "\n",
                           purpose=purpose, guarantor=guarantor, expires_at=row.expires_at)
    return row


# --- checking -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """The answer to a code: ok, or why not (wrong, locked, expired, used, unknown, malformed)."""

    status: str
    code: OneTimeCode | None = None
    tries_left: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def clean_code(text: str) -> str | None:
    digits = re.sub(r"[\s-]", "", text or "")
    return digits if re.fullmatch(r"\d{6}", digits) else None


def check_code(attempt: str, text: str, *, purpose: str, secret_key: str) -> Check:
    """Check a typed code against its attempt; a right one is used up here, exactly once.

    A wrong code counts against the attempt (MAX_WRONG, then even the right one is refused);
    a malformed entry (not six digits) does not count.
    """
    row = OneTimeCode.get_or_none((OneTimeCode.attempt == (attempt or "")) & (OneTimeCode.purpose == purpose))
    if row is None:
        return Check("unknown")
    now = clock.now()
    if row.used_at is not None:
        return Check("used", row)
    if row.failures >= MAX_WRONG:
        return Check("locked", row)
    if now >= row.expires_at:
        return Check("expired", row)
    code = clean_code(text)
    if code is None:
        return Check("malformed", row, MAX_WRONG - row.failures)
    live = (OneTimeCode.id == row.id) & OneTimeCode.used_at.is_null() & (OneTimeCode.failures < MAX_WRONG)
    if hmac.compare_digest(row.code_hash, _hash(secret_key, row.attempt, code)):
        if OneTimeCode.update(used_at=now).where(live & (OneTimeCode.expires_at > now)).execute():
            row.used_at = now
            return Check("ok", row)
        return Check("used", row)  # another request used it (or locked it) a moment ago
    OneTimeCode.update(failures=OneTimeCode.failures + 1).where(live).execute()
    row = OneTimeCode.get_by_id(row.id)
    if row.failures >= MAX_WRONG:
        return Check("locked", row)
    return Check("wrong", row, MAX_WRONG - row.failures)
