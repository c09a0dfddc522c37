"""Server-side sessions, one mechanism for patients (QuickPay, portal, staff mirror) and staff.

The browser holds only a random token; the row holds who, how, since when and until when.
Idle deadline from the group (patients) or the settings (staff); 12 hours at most either way.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from . import clock, db, ledger
from .models import Group, Guarantor, Link, PatientSession, SessionBase, Staff, StaffSession

MAX_AGE = dt.timedelta(hours=12)
WARN_BEFORE = dt.timedelta(minutes=1)
STAFF_IDLE = dt.timedelta(minutes=15)

S = TypeVar("S", bound=SessionBase)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cookie_hash(token: str | None) -> str | None:
    """The hash a cookie's token is looked up by; None for no token or one no session could have."""
    return None if not token or len(token) > 128 else hash_token(token)


def _deadline(started_at: dt.datetime, idle: dt.timedelta) -> dt.datetime:
    return min(clock.now() + idle, started_at + MAX_AGE)


def idle_timeout(session: SessionBase) -> dt.timedelta:
    if isinstance(session, PatientSession):
        return dt.timedelta(minutes=session.group.session_idle_timeout)
    return STAFF_IDLE


def start_patient(
    guarantor: Guarantor,
    origin: str,
    auth: str,
    *,
    quickpay: bool = False,
    link: Link | None = None,
    staff: Staff | None = None,
    ip: str = "",
    user_agent: str = "",
) -> tuple[str, PatientSession]:
    """A new patient-side session; returns the cookie token (never stored) and the row."""
    token = secrets.token_urlsafe(32)
    group: Group = guarantor.group
    now = clock.now()
    session = PatientSession.create(
        token_hash=hash_token(token),
        guarantor=guarantor,
        group=group,
        origin=origin,
        auth=auth,
        quickpay=quickpay,
        link=link,
        staff=staff,
        started_at=now,
        last_seen_at=now,
        expires_at=min(now + dt.timedelta(minutes=group.session_idle_timeout), now + MAX_AGE),
        ip=ip[:64],
        user_agent=user_agent[:300],
    )
    return token, session


def start_staff(staff: Staff, *, idle: dt.timedelta = STAFF_IDLE, ip: str = "", user_agent: str = "") -> tuple[str, StaffSession]:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session = StaffSession.create(
        token_hash=hash_token(token),
        staff=staff,
        started_at=now,
        last_seen_at=now,
        expires_at=min(now + idle, now + MAX_AGE),
        ip=ip[:64],
        user_agent=user_agent[:300],
    )
    return token, session


@functools.cache
def _patient_sql() -> str:
    """The patient session with its guarantor, group and ledger version: one statement (built once from the models)."""
    return (
        f"SELECT {PatientSession.columns('s')}, {Guarantor.columns('g')}, {Group.columns('p')}, v.\"version\""
        ' FROM "patient_session" AS s JOIN "guarantor" AS g ON g."id" = s."guarantor_id"'
        ' JOIN "group" AS p ON p."id" = s."group_id"'
        ' LEFT JOIN "ledger_version" AS v ON v."guarantor_id" = g."id"'
        ' WHERE s."token_hash" = ? AND s."ended_at" IS NULL'
    )


@dataclass(frozen=True)
class Visit:
    """A patient's page about to be served on the event loop: its path, and whether a QuickPay session may see it."""
    page: str
    quickpay: bool


@functools.cache
def _visiting_patient_sql() -> str:
    """_patient_sql's row, read by the UPDATE that touches the session and counts the visit (touch_session with
    a page): one round trip, for a page on the event loop (PostgreSQL). It touches only a session that
    touch_session would touch without asking anything first: live (load), no staff mirror behind it
    (_untouched_patient_session), a QuickPay one only on a page it may see; its deadline is _deadline's."""
    return (
        'WITH s AS (UPDATE "patient_session" AS t SET "last_seen_at" = ?,'
        ' "expires_at" = LEAST(? + make_interval(mins => p."session_idle_timeout"), t."started_at" + ?),'
        ' "pages" = t."pages" + 1, "last_page" = ? FROM "group" AS p'
        ' WHERE t."token_hash" = ? AND t."ended_at" IS NULL AND t."expires_at" > ? AND t."staff_id" IS NULL'
        ' AND (? OR NOT t."quickpay") AND p."id" = t."group_id" RETURNING t.*)'
        f' SELECT {PatientSession.columns("s")}, {Guarantor.columns("g")}, {Group.columns("p")}, v."version"'
        ' FROM s JOIN "guarantor" AS g ON g."id" = s."guarantor_id" JOIN "group" AS p ON p."id" = s."group_id"'
        ' LEFT JOIN "ledger_version" AS v ON v."guarantor_id" = g."id"'
    )


# A patient session's row read ahead on the event loop (read_ahead), for _find_patient: (token hash, row, and
# the page whose visit the statement that read it counted, if it did).
_read_ahead: ContextVar[tuple[str, tuple | None, str | None] | None] = ContextVar("pops_session_read_ahead",
                                                                                   default=None)


async def read_ahead(statements: db.LoopStatements, token: str | None,
                     visit: Visit | None = None) -> tuple[str, tuple | None, str | None] | None:
    """Read the patient session of a cookie `token` (with its guarantor, group and ledger version) awaiting the
    database on the event loop; use it with reading_ahead(), where load() then finds it without a statement.

    With a `visit`, the same statement touches the session and counts the visit when it may
    (_visiting_patient_sql), and touch_session() then writes nothing for that page; else a plain read.
    """
    token_hash = _cookie_hash(token)
    if token_hash is None:
        return None
    if visit is not None:
        now = PatientSession.last_seen_at.db_value(clock.now())
        row = await statements.fetch_one(_visiting_patient_sql(), (now, now, MAX_AGE, visit.page[:300], token_hash,
                                                                   now, visit.quickpay))
        if row is not None:
            return token_hash, row, visit.page[:300]
    return token_hash, await statements.fetch_one(_patient_sql(), (token_hash,)), None


@contextlib.contextmanager
def reading_ahead(found: tuple[str, tuple | None, str | None] | None) -> Iterator[None]:
    token = _read_ahead.set(found)
    try:
        yield
    finally:
        _read_ahead.reset(token)


def _find_patient(token_hash: str) -> PatientSession | None:
    ahead = _read_ahead.get()
    if ahead is not None and ahead[0] == token_hash:
        _, row, visited = ahead
    else:
        row, visited = db.execute(_patient_sql(), (token_hash,)).fetchone(), None
    if row is None:
        return None
    session = PatientSession.from_row(row)
    session._visit_counted = visited
    guarantor = Guarantor.from_row(row, len(PatientSession._meta.sorted_fields), seen_often=True)
    group = Group.from_row(row, len(PatientSession._meta.sorted_fields) + len(Guarantor._meta.sorted_fields),
                           seen_often=True)
    session.group = group
    session.guarantor = guarantor
    if guarantor.group_id == group.id:
        guarantor.group = group
    ledger.saw_version(guarantor, row[-1])  # read with the session: a page may reuse the account's facts
    session._dirty.clear()
    guarantor._dirty.clear()
    return session


def load(model: type[S], token: str | None, *, touch: bool = True, idle: dt.timedelta | None = None) -> S | None:
    """The live session for a cookie token, or None; an expired one is ended on the way.

    A patient session comes with its guarantor and group, read in the same statement.
    `touch` counts this request as activity and moves the idle deadline; a status poll passes False.
    """
    token_hash = _cookie_hash(token)
    if token_hash is None:
        return None
    if model is PatientSession:
        session = _find_patient(token_hash)
    else:
        session = model.get_or_none((model.token_hash == token_hash) & (model.ended_at.is_null()))
    if session is None:
        return None
    now = clock.now()
    if now >= session.expires_at:
        end(session, "limit" if now >= session.started_at + MAX_AGE else "idle", at=session.expires_at)
        return None
    if touch:
        touch_session(session, idle=idle)
    return session


@functools.cache
def _touch_sql(table: str, visit: bool) -> str:
    counted = ', "pages" = "pages" + 1, "last_page" = ?' if visit else ""
    return f'UPDATE "{table}" SET "last_seen_at" = ?, "expires_at" = ?{counted} WHERE "id" = ? AND "ended_at" IS NULL'


def touch_session(session: SessionBase, *, idle: dt.timedelta | None = None, page: str | None = None) -> None:
    """Count this request as activity: move the idle deadline, in one UPDATE.

    With `page` (a patient's page), the same UPDATE counts the visit for the Session Usage report
    (pages + 1, last_page) and the database writes its SessionPage row (the trigger of migration 0010).
    A session read by the statement that already did so for this page (read_ahead with a Visit) is not
    written again.
    """
    if page is not None and getattr(session, "_visit_counted", None) == page[:300]:
        session._visit_counted = None  # counted once: a second touch writes
        return
    model = type(session)
    now = clock.now()
    session.last_seen_at = now
    session.expires_at = _deadline(session.started_at, idle or idle_timeout(session))
    stamp = model.last_seen_at.db_value
    params: tuple = (stamp(now), stamp(session.expires_at))
    if page is not None:
        session.last_page = page[:300]
        params += (session.last_page,)
    sql = _touch_sql(model._meta.table_name, page is not None)
    rows = db.write_after(sql, (*params, session.id))  # on the event loop (PostgreSQL): once the page is done
    if page is not None and rows != 0:
        session.pages += 1


def remaining(session: SessionBase) -> dt.timedelta:
    return max(session.expires_at - clock.now(), dt.timedelta(0))


def should_warn(session: PatientSession) -> bool:
    """True in the last minute before an idle end, when the group lets the patient extend."""
    return session.group.allow_session_extension and remaining(session) <= WARN_BEFORE


def extend(session: PatientSession) -> bool:
    """Push the idle deadline out again, if the group allows it and the 12-hour limit leaves room."""
    if not session.group.allow_session_extension or session.ended_at is not None:
        return False
    new_deadline = _deadline(session.started_at, idle_timeout(session))
    if new_deadline <= session.expires_at:
        return False
    rows = PatientSession.update(
        expires_at=new_deadline,
        last_seen_at=clock.now(),
        extensions=PatientSession.extensions + 1,
    ).where((PatientSession.id == session.id) & (PatientSession.ended_at.is_null())).execute()
    if rows:
        session.expires_at = new_deadline
        session.extensions += 1
    return bool(rows)


def end(session: SessionBase, reason: str = "logout", at: dt.datetime | None = None) -> None:
    """End a session on the server; its cookie is worthless from now on."""
    model = type(session)
    at = at or clock.now()
    model.update(ended_at=at, end_reason=reason).where(
        (model.id == session.id) & (model.ended_at.is_null())
    ).execute()
    session.ended_at = at
    session.end_reason = reason


def record_page(session: PatientSession, path: str) -> None:
    """One page visit, for the Session Usage report: pages + 1, and the database writes its SessionPage row."""
    session.last_page = path[:300]
    session.last_seen_at = clock.now()
    PatientSession.update(pages=PatientSession.pages + 1, last_page=session.last_page,
                          last_seen_at=session.last_seen_at).where(PatientSession.id == session.id).execute()
    session.pages += 1
