"""QuickPay short links: mint, sign, redeem. The only place codes are made or read.

A code is 20 Crockford base32 characters printed in groups of four: one for the purpose,
fourteen random (70 bits), five of a truncated HMAC signature (25 bits, itsdangerous, one
salt per purpose). A forged or mistyped code fails the signature before any link is looked up.

Unknown and forged codes are counted per IP address (the throttle table, a conditional UPDATE):
BAD_CODES_PER_WINDOW in BAD_CODE_WINDOW, then that address's unknown codes are refused for
THROTTLE_FOR, recorded once in the audit log. A genuine code is always honoured, throttled or
not: many patients share one address (a carrier's, a clinic's Wi-Fi).
"""
from __future__ import annotations

import base64
import datetime as dt
import math
import secrets
from dataclasses import dataclass
from urllib.parse import unquote

from . import clock, db, limits, sessions, signing
from .audit import POPS, audit
from .db import database
from .models import Guarantor, Link, PatientSession, Staff, Statement, Throttle

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: c for c in ALPHABET} | {"O": "0", "I": "1", "L": "1"}
RANDOM_CHARS = 14
SIGNATURE_CHARS = 5
CODE_CHARS = 1 + RANDOM_CHARS + SIGNATURE_CHARS

PURPOSES = {"sms": "S", "email": "E", "statement": "Q", "desk": "D", "reminder": "R"}  # reminder: pops.texts.reminders
_PURPOSE_OF = {v: k for k, v in PURPOSES.items()}
ORIGIN_OF_PURPOSE = {"sms": "sms_link", "email": "email_link", "statement": "statement_qr", "desk": "desk_qr",
                     "reminder": "reminder"}
_WRAPPING = " \t\r\n\"'“”‘’<>()[]{}.,;:!?"
BAD_CODES_PER_WINDOW = 60  # unknown or forged codes per IP address
BAD_CODE_WINDOW = dt.timedelta(minutes=10)
THROTTLE_FOR = dt.timedelta(minutes=10)


def _signature(secret_key: str, purpose: str, body: str) -> str:
    raw = signing.signer(secret_key, f"link.{purpose}").get_signature(body.encode())
    digest = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    bits = int.from_bytes(digest[:4], "big") >> (32 - 5 * SIGNATURE_CHARS)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in reversed(range(SIGNATURE_CHARS)))


def group_code(code: str) -> str:
    """ABCD-EFGH-… : how a code is printed and put in URLs."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize(text: str) -> str | None:
    """The canonical code in what someone pasted or typed, or None if it cannot be one.

    Forgives quotes, %22, surrounding punctuation, case, hyphens and spaces, O for 0, I and L for 1.
    """
    text = unquote(text or "")
    text = text.strip(_WRAPPING)
    chars = []
    for ch in text.upper():
        if ch in "- ":
            continue
        mapped = _DECODE.get(ch)
        if mapped is None:
            return None
        chars.append(mapped)
    code = "".join(chars)
    return code if len(code) == CODE_CHARS else None


@dataclass(frozen=True)
class GenuineCode:
    purpose: str
    key: str  # the purpose and random part, as stored


def verify(text: str, secret_key: str) -> GenuineCode | None:
    """The code's purpose and key when its signature is right; None for anything else. No I/O."""
    code = normalize(text)
    if code is None:
        return None
    purpose = _PURPOSE_OF.get(code[0])
    if purpose is None:
        return None
    key, signature = code[: 1 + RANDOM_CHARS], code[1 + RANDOM_CHARS :]
    if not secrets.compare_digest(signature, _signature(secret_key, purpose, key)):
        return None
    return GenuineCode(purpose, key)


def mint(
    guarantor: Guarantor,
    purpose: str,
    secret_key: str,
    *,
    max_uses: int | None = None,
    days: int | None = None,
    minutes: int | None = None,
    statement: Statement | None = None,
    created_by: Staff | None = None,
) -> tuple[str, Link]:
    """A new link for a guarantor; returns its printed code and its row.

    Lifetime and uses default to the group: a desk QR lasts the group's Desk QR minutes and one
    use; other links the group's link days and QuickPay Max Access Attempts.
    """
    now = clock.now()
    lifetime, uses = _terms(guarantor.group, purpose, max_uses=max_uses, days=days, minutes=minutes)
    key = _new_key(purpose)
    link = Link.create(
        key=key,
        guarantor=guarantor,
        purpose=purpose,
        created_at=now,
        expires_at=now + lifetime,
        max_uses=uses,
        statement=statement,
        created_by=created_by,
    )
    return _printed(secret_key, purpose, key), link


def mint_for_statements(statements: list[tuple[Guarantor, Statement]], secret_key: str) -> list[str]:
    """A statement-QR link for each (guarantor, statement), on its group's terms, in one INSERT; their printed codes.

    For paper statement runs, where one INSERT per link would cost as much as the rest of the run (and
    building the INSERT through the query builder, a tenth of it): the statement is written by hand.
    """
    now = clock.now()
    stamp = Link.created_at.db_value
    created = stamp(now)
    params: list = []
    codes = []
    for guarantor, statement in statements:
        lifetime, uses = _terms(guarantor.group, "statement")
        key = _new_key("statement")
        params += (key, guarantor.id, created, stamp(now + lifetime), uses, statement.id)
        codes.append(_printed(secret_key, "statement", key))
    if codes:
        db.execute(_STATEMENT_LINKS_SQL + ", ".join([_STATEMENT_LINK_ROW] * len(codes)), params)
    return codes


_STATEMENT_LINKS_SQL = ('INSERT INTO "link" ("key", "guarantor_id", "purpose", "created_at", "expires_at", "max_uses",'
                        ' "uses", "statement_id") VALUES ')
_STATEMENT_LINK_ROW = "(?, ?, 'statement', ?, ?, ?, 0, ?)"


def _terms(group, purpose: str, *, max_uses: int | None = None, days: int | None = None,
           minutes: int | None = None) -> tuple[dt.timedelta, int]:
    """A new link's lifetime and uses: as asked, else the group's (a desk QR: its minutes and one use)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    if purpose == "desk":
        lifetime = dt.timedelta(minutes=minutes if minutes is not None else group.desk_qr_minutes)
        uses = max_uses if max_uses is not None else 1
    else:
        lifetime = dt.timedelta(days=days if days is not None else group.link_days, minutes=minutes or 0)
        uses = max_uses if max_uses is not None else group.quickpay_max_uses
    if uses < 1 or lifetime <= dt.timedelta(0):
        raise ValueError("a link needs at least one use and a lifetime")
    return lifetime, uses


def _new_key(purpose: str) -> str:
    # 32 letters: each takes 5 bits of one draw of 70 random bits (uniform, and one call, not fourteen).
    bits = secrets.randbits(5 * RANDOM_CHARS)
    return PURPOSES[purpose] + "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(RANDOM_CHARS))


def _printed(secret_key: str, purpose: str, key: str) -> str:
    return group_code(key + _signature(secret_key, purpose, key))


def url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/q/{code}"


@dataclass(frozen=True)
class Redemption:
    status: str  # "ok", "unknown" (404), "expired", "used_up", "revoked" (410), "throttled" (429)
    link: Link | None = None
    retry_after: int = 0  # seconds, when throttled

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def wait_minutes(self) -> int:
        return math.ceil(self.retry_after / 60)


def redeem(text: str, secret_key: str, *, ip: str | None = None) -> Redemption:
    """Use one access of a link. The counter moves in one conditional UPDATE, never read-then-write.

    From a request (`ip` given), an unknown or forged code counts against the address and may be
    answered "throttled" instead of "unknown".
    """
    genuine = verify(text, secret_key)
    result = _use(genuine) if genuine is not None else Redemption("unknown")
    if result.status != "unknown" or ip is None:
        return result
    return _count_bad_code(ip)


def open_quickpay(text: str, secret_key: str, *, ip: str, user_agent: str = "",
                  replacing: PatientSession | None = None) -> tuple[Redemption, str]:
    """/q/CODE: use one access and start the QuickPay session in one transaction; returns the
    redemption and, when it is ok, the new session's cookie token (the browser's `replacing` ends).

    One transaction, so a revoke waits for the link's row and then ends the session too: no
    session opened by a revoked link outlives the revoke.
    """
    with database.atomic():
        result = redeem(text, secret_key, ip=ip)
        if not result.ok:
            return result, ""
        if replacing is not None:
            sessions.end(replacing, "replaced")
        token, _ = sessions.start_patient(result.link.guarantor, ORIGIN_OF_PURPOSE[result.link.purpose], "quickpay",
                                          quickpay=True, link=result.link, ip=ip, user_agent=user_agent)
    return result, token


def _count_bad_code(ip: str) -> Redemption:
    with database.atomic():
        verdict = limits.take(Throttle.LINK, ip[:64], BAD_CODES_PER_WINDOW, BAD_CODE_WINDOW, block=THROTTLE_FOR)
        if verdict.ok:
            return Redemption("unknown")
        if verdict.blocked_now:
            audit(None, "link_throttled", actor=POPS, ip=ip,
                  detail=f"{BAD_CODES_PER_WINDOW} unknown or forged codes within {BAD_CODE_WINDOW.seconds // 60} "
                         f"minutes; refused for {THROTTLE_FOR.seconds // 60} minutes")
    return Redemption("throttled", retry_after=verdict.retry_after_seconds)


def _use(genuine: GenuineCode) -> Redemption:
    now = clock.now()
    used = (
        Link.update(uses=Link.uses + 1)
        .where(
            (Link.key == genuine.key)
            & (Link.uses < Link.max_uses)
            & (Link.expires_at > now)
            & (Link.revoked_at.is_null())
        )
        .execute()
    )
    link = Link.get_or_none(Link.key == genuine.key)
    if link is None:
        return Redemption("unknown")
    if used:
        return Redemption("ok", link)
    if link.revoked_at is not None:
        return Redemption("revoked", link)
    if link.expires_at <= now:
        return Redemption("expired", link)
    return Redemption("used_up", link)


COMMAND_LINE = "pops link revoke"  # the audit log's actor when no staff member revoked


def revoke_all(guarantor: Guarantor, *, by: Staff | None = None, ip: str = "") -> int:
    """Revoke every live link of a guarantor and end the QuickPay sessions its links opened;
    returns how many links. Staff's "Revoke all links" and `pops link revoke`; recorded with the count.

    A revoked link is answered 410 ("This link can no longer be used"); a link minted afterwards works.
    """
    now = clock.now()
    with database.atomic():
        revoked = (Link.update(revoked_at=now)
                   .where((Link.guarantor == guarantor) & (Link.revoked_at.is_null()))
                   .execute())
        opened_by_links = Link.select(Link.id).where(Link.guarantor == guarantor)
        ended = (PatientSession.update(ended_at=now, end_reason="revoked")
                 .where(PatientSession.link.in_(opened_by_links) & (PatientSession.quickpay == True)  # noqa: E712
                        & PatientSession.staff.is_null() & PatientSession.ended_at.is_null())
                 .execute())
        audit(by, "links_revoked", guarantor, actor=COMMAND_LINE, ip=ip,
              detail=f"{revoked} {'link' if revoked == 1 else 'links'} revoked; "
                     f"{ended} QuickPay {'session' if ended == 1 else 'sessions'} ended")
    return revoked
