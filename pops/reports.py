"""Staff reports: POPS Payments and Session Usage (rows, totals, CSV), and the contact-change export.

POPS Payments lists POPS receipts (declines included, at $0.00) and refunds. Each row has three
dates: received (the payment or refund instant, in the group's time zone), reference batch (the
batch's date) and post date — the day staff closed its batch (group's time zone); a row whose
batch is still open has no post date yet.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from . import batches, clock, dates, ids
from .batches import PaymentRow, Totals
from .models import (
    SESSION_ORIGINS,
    ContactChange,
    Group,
    Guarantor,
    PatientSession,
    PaymentAttempt,
    Receipt,
    ReferenceBatch,
    Transaction,
)

BASES = {"received": "Received date", "posted": "Post date", "batch": "Reference batch date"}
PAYMENT_GROUPINGS = {"day": "Day", "group": "Group", "card_type": "Card type"}
KINDS = {"both": "Payments and refunds", "payment": "Payments", "refund": "Refunds"}
PERIODS = {"day": "Day", "month": "Month", "year": "Year"}
ORIGIN_LABELS = {
    "sms_link": "SMS link", "email_link": "Email link", "statement_qr": "Statement QR", "desk_qr": "Desk QR",
    "sign_in": "Sign-in", "staff_mirror": "Staff mirror", "reminder": "Reminder",
}
AUTH_LABELS = {"quickpay": "QuickPay", "code": "Code", "staff": "Staff"}
# A session's payment outcome: none, or how its payment attempt ended
OUTCOME_LABELS = {"": "None", PaymentAttempt.PAID: "Paid", PaymentAttempt.DECLINED: "Declined",
                  PaymentAttempt.ERROR: "Error"}
SESSION_COLUMNS = ("session", "origin", "auth", "account", "guarantor", "group", "started_at", "ended_at",
                   "end_reason", "pages", "payment_outcome")
CONTACT_COLUMNS = ("account", "field", "old_value", "new_value", "changed_at")
_SLACK = dt.timedelta(days=2)  # wider than any time zone's offset: a UTC window, then exact local dates
# The days a report or batch filter may name (a year 0001 or 9999 is a typo, and beyond any window).
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)


class DateOutOfRange(ValueError):
    """A report or batch filter names a day outside FIRST_DAY..LAST_DAY: refused (422), nothing is run."""


def parse_date(text: str | None, label: str, errors: list[str]) -> dt.date | None:
    """A typed date, None when empty; a bad one adds a message to `errors`; one outside
    FIRST_DAY..LAST_DAY raises DateOutOfRange."""
    if not (text or "").strip():
        return None
    day = dates.parse_date(text, dates.ISO)
    if day is None:
        errors.append(f"{label} must be a date like 2026-11-23.")
    elif not FIRST_DAY <= day <= LAST_DAY:
        raise DateOutOfRange(f"{label} must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.")
    return day


def _choice(value: str | None, choices: Mapping[str, str], default: str, label: str, errors: list[str]) -> str:
    value = (value or "").strip() or default
    if value not in choices:
        errors.append(f"{label} must be one of: {', '.join(choices)}.")
        return default
    return value


def _window(date_from: dt.date | None, date_to: dt.date | None):
    """A UTC interval surely covering these local dates in every time zone."""
    start = dt.datetime.combine(date_from, dt.time(), dt.timezone.utc) - _SLACK if date_from else None
    end = dt.datetime.combine(date_to, dt.time(), dt.timezone.utc) + _SLACK if date_to else None
    return start, end


def _in_range(day: dt.date | None, date_from: dt.date | None, date_to: dt.date | None) -> bool:
    if day is None:
        return False
    return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)


def practice_today(group: Group | None = None) -> dt.date:
    """Today where the practice is: the group's time zone, else the first group's (a console
    shows one practice's days), else UTC. Never the server's UTC date at 8 pm in Chicago."""
    timezone = group.timezone if group else Group.select(Group.timezone).order_by(Group.id).scalar()
    return clock.today(timezone or "UTC")


def _default_range(days: int = 7) -> tuple[dt.date, dt.date]:
    today = practice_today()
    return today - dt.timedelta(days=days - 1), today


# --- POPS Payments --------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentFilters:
    basis: str = "received"  # received | posted | batch
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    group: str = ""  # group code; "" for every group
    card_type: str = ""  # "" for every card type
    kind: str = "both"  # both | payment | refund
    batch: int | None = None  # one reference batch
    total_by: str = "day"  # day | group | card_type

    @classmethod
    def from_params(cls, params: Mapping[str, str], *, default_range: bool = True) -> tuple["PaymentFilters", list[str]]:
        """Filters from query parameters; a bad value is reported and its default used."""
        errors: list[str] = []
        date_from = parse_date(params.get("from"), "From", errors)
        date_to = parse_date(params.get("to"), "To", errors)
        batch = ids.parse_id(params.get("batch"))
        if batch is None and (params.get("batch") or "").strip():
            errors.append("Batch must be a batch number.")
        if default_range and date_from is None and date_to is None and batch is None:
            date_from, date_to = _default_range()
        if date_from and date_to and date_from > date_to:
            errors.append("From must be on or before To.")
            date_from, date_to = date_to, date_from
        return cls(
            basis=_choice(params.get("by"), BASES, "received", "Dates", errors),
            date_from=date_from,
            date_to=date_to,
            group=(params.get("group") or "").strip(),
            card_type=(params.get("card_type") or "").strip(),
            kind=_choice(params.get("kind"), KINDS, "both", "Show", errors),
            batch=batch,
            total_by=_choice(params.get("total_by"), PAYMENT_GROUPINGS, "day", "Totals by", errors),
        ), errors

    def params(self) -> dict[str, str]:
        """The query parameters that give these filters (for the CSV link)."""
        values = {
            "by": self.basis, "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "", "group": self.group,
            "card_type": self.card_type, "kind": self.kind, "batch": str(self.batch or ""), "total_by": self.total_by,
        }
        return {k: v for k, v in values.items() if v}


@dataclass
class PaymentsReport:
    filters: PaymentFilters
    rows: list[PaymentRow]
    totals: Totals
    grouped: list[tuple[str, Totals]]

    @classmethod
    def empty(cls, filters: PaymentFilters) -> "PaymentsReport":
        return cls(filters, [], Totals(), [])

    def csv(self) -> str:
        """The same rows in the export format (docs/export-v1.md)."""
        return batches.write_csv(self.rows)


def basis_date(row: PaymentRow, basis: str) -> dt.date | None:
    if basis == "posted":
        return row.post_date
    if basis == "batch":
        return row.batch_date
    return row.received_date


def _candidate_rows(f: PaymentFilters) -> list[PaymentRow]:
    if f.batch is not None:
        batch = ReferenceBatch.get_or_none(ReferenceBatch.id == f.batch)
        return batches.rows_for(batch) if batch else []
    receipts = batches.receipt_query()
    refunds = batches.refund_query()
    if f.group:
        receipts = receipts.where(Group.code == f.group)
        refunds = refunds.where(Group.code == f.group)
    start, end = _window(f.date_from, f.date_to)
    if f.basis == "received":
        if f.date_from:
            receipts = receipts.where(Receipt.received_date >= f.date_from - _SLACK)
            refunds = refunds.where(Transaction.created_at >= start)
        if f.date_to:
            receipts = receipts.where(Receipt.received_date <= f.date_to + _SLACK)
            refunds = refunds.where(Transaction.created_at <= end)
    elif f.basis == "posted":
        receipts = receipts.where(ReferenceBatch.closed_at.is_null(False))
        refunds = refunds.where(ReferenceBatch.closed_at.is_null(False))
        if start:
            receipts = receipts.where(ReferenceBatch.closed_at >= start)
            refunds = refunds.where(ReferenceBatch.closed_at >= start)
        if end:
            receipts = receipts.where(ReferenceBatch.closed_at <= end)
            refunds = refunds.where(ReferenceBatch.closed_at <= end)
    else:
        receipts = receipts.where(ReferenceBatch.id.is_null(False))
        refunds = refunds.where(ReferenceBatch.id.is_null(False))
        if f.date_from:
            receipts = receipts.where(ReferenceBatch.batch_date >= f.date_from)
            refunds = refunds.where(ReferenceBatch.batch_date >= f.date_from)
        if f.date_to:
            receipts = receipts.where(ReferenceBatch.batch_date <= f.date_to)
            refunds = refunds.where(ReferenceBatch.batch_date <= f.date_to)
    if f.kind == "payment":
        return batches.build_rows(receipts, [])
    if f.kind == "refund":
        return batches.build_rows([], refunds)
    return batches.build_rows(receipts, refunds)


def payments_report(f: PaymentFilters) -> PaymentsReport:
    """POPS payments and refunds matching the filters, with totals overall and by day, group or card type."""
    rows = []
    for row in _candidate_rows(f):
        if f.kind != "both" and row.kind != f.kind:
            continue
        if f.group and row.group_code != f.group:
            continue
        if f.card_type and row.card_label.lower() != f.card_type.lower():
            continue
        day = basis_date(row, f.basis)
        if (f.date_from or f.date_to or f.basis != "received") and not _in_range(day, f.date_from, f.date_to):
            continue
        rows.append(row)
    key: Callable[[PaymentRow], str] = {
        "day": lambda r: basis_date(r, f.basis).isoformat() if basis_date(r, f.basis) else "",
        "group": lambda r: r.group_code,
        "card_type": lambda r: r.card_label,
    }[f.total_by]
    overall = Totals()
    grouped: dict[str, Totals] = defaultdict(Totals)
    for row in rows:
        overall.add(row)
        grouped[key(row)].add(row)
    return PaymentsReport(f, rows, overall, sorted(grouped.items()))


def card_types() -> list[str]:
    """Card types POPS has seen, for the report's filter."""
    seen = {c for (c,) in Receipt.select(Receipt.card_type).where(Receipt.source == Receipt.POPS).distinct().tuples() if c}
    return sorted(seen)


# --- Session Usage --------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionFilters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    group: str = ""
    origin: str = ""
    period: str = "day"  # day | month | year

    @classmethod
    def from_params(cls, params: Mapping[str, str], *, default_range: bool = True) -> tuple["SessionFilters", list[str]]:
        errors: list[str] = []
        date_from = parse_date(params.get("from"), "From", errors)
        date_to = parse_date(params.get("to"), "To", errors)
        if default_range and date_from is None and date_to is None:
            date_from, date_to = _default_range()
        if date_from and date_to and date_from > date_to:
            errors.append("From must be on or before To.")
            date_from, date_to = date_to, date_from
        origin = (params.get("origin") or "").strip()
        if origin and origin not in SESSION_ORIGINS:
            errors.append("Origin must be one of: " + ", ".join(SESSION_ORIGINS) + ".")
            origin = ""
        return cls(
            date_from=date_from, date_to=date_to, group=(params.get("group") or "").strip(), origin=origin,
            period=_choice(params.get("period"), PERIODS, "day", "Totals by", errors),
        ), errors

    def params(self) -> dict[str, str]:
        values = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "", "group": self.group, "origin": self.origin,
            "period": self.period,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class SessionRow:
    id: int
    origin: str
    auth: str
    account: str
    guarantor: str
    group_code: str
    started_at: dt.datetime  # group's time zone
    ended_at: dt.datetime | None  # None while the session is live
    end_reason: str  # "logout", "idle", "limit", "replaced", or "active"
    pages: int
    payment_outcome: str  # "", "paid", "declined", "error"

    @property
    def origin_label(self) -> str:
        return ORIGIN_LABELS.get(self.origin, self.origin)

    @property
    def auth_label(self) -> str:
        return AUTH_LABELS.get(self.auth, self.auth)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.payment_outcome, self.payment_outcome)

    def csv_values(self) -> list[str]:
        return [
            str(self.id), self.origin, self.auth, self.account, self.guarantor, self.group_code,
            self.started_at.isoformat(timespec="seconds"),
            self.ended_at.isoformat(timespec="seconds") if self.ended_at else "",
            self.end_reason, str(self.pages), self.payment_outcome,
        ]


@dataclass
class UsageTotals:
    sessions: int = 0
    pages: int = 0
    paid: int = 0
    declined: int = 0
    error: int = 0

    def add(self, row: SessionRow) -> None:
        self.sessions += 1
        self.pages += row.pages
        if row.payment_outcome in (PaymentAttempt.PAID, PaymentAttempt.DECLINED, PaymentAttempt.ERROR):
            setattr(self, row.payment_outcome, getattr(self, row.payment_outcome) + 1)


@dataclass
class SessionReport:
    filters: SessionFilters
    rows: list[SessionRow]
    totals: UsageTotals
    by_period: list[tuple[str, UsageTotals]] = field(default_factory=list)
    by_group: list[tuple[str, UsageTotals]] = field(default_factory=list)
    by_origin: list[tuple[str, UsageTotals]] = field(default_factory=list)

    @classmethod
    def empty(cls, filters: SessionFilters) -> "SessionReport":
        return cls(filters, [], UsageTotals())

    def csv(self) -> str:
        return _csv(SESSION_COLUMNS, (row.csv_values() for row in self.rows))


def _period_key(day: dt.date, period: str) -> str:
    if period == "year":
        return f"{day.year:04d}"
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def session_report(f: SessionFilters) -> SessionReport:
    """Every patient session (staff mirrors included) started in the range, with totals."""
    query = (PatientSession.select(PatientSession, Guarantor, Group)
             .join(Guarantor).join_from(PatientSession, Group, on=(PatientSession.group == Group.id)))
    if f.group:
        query = query.where(Group.code == f.group)
    if f.origin:
        query = query.where(PatientSession.origin == f.origin)
    start, end = _window(f.date_from, f.date_to)
    if start:
        query = query.where(PatientSession.started_at >= start)
    if end:
        query = query.where(PatientSession.started_at <= end)
    now = clock.now()
    rows: list[SessionRow] = []
    for s in query.order_by(PatientSession.started_at, PatientSession.id):
        tz = ZoneInfo(s.group.timezone)
        started = s.started_at.astimezone(tz)
        if not (f.date_from is None or started.date() >= f.date_from) or not (f.date_to is None or started.date() <= f.date_to):
            continue
        if s.ended_at is not None:
            ended, reason = s.ended_at, s.end_reason or "ended"
        elif s.expires_at <= now:
            ended, reason = s.expires_at, "idle"  # nobody came back to end it; it lapsed
        else:
            ended, reason = None, "active"
        rows.append(SessionRow(
            id=s.id, origin=s.origin, auth=s.auth, account=s.guarantor.account, guarantor=s.guarantor.legal_name,
            group_code=s.group.code, started_at=started, ended_at=ended.astimezone(tz) if ended else None,
            end_reason=reason, pages=s.pages, payment_outcome=s.payment_outcome,
        ))
    overall = UsageTotals()
    by_period: dict[str, UsageTotals] = defaultdict(UsageTotals)
    by_group: dict[str, UsageTotals] = defaultdict(UsageTotals)
    by_origin: dict[str, UsageTotals] = defaultdict(UsageTotals)
    for row in rows:
        overall.add(row)
        by_period[_period_key(row.started_at.date(), f.period)].add(row)
        by_group[row.group_code].add(row)
        by_origin[row.origin_label].add(row)
    return SessionReport(f, rows, overall, sorted(by_period.items()), sorted(by_group.items()),
                         sorted(by_origin.items()))


# --- contact changes --------------------------------------------------------------------------

def contact_changes(*, include_cleared: bool = False) -> list[ContactChange]:
    """Contact details patients changed in the portal, oldest first; by default only those the
    PM system has not caught up with yet."""
    query = ContactChange.select(ContactChange, Guarantor, Group).join(Guarantor).join(Group)
    if not include_cleared:
        query = query.where(ContactChange.cleared_at.is_null())
    return list(query.order_by(ContactChange.changed_at, ContactChange.id))


def contacts_csv(changes: Iterable[ContactChange]) -> str:
    """account, field, old value, new value, changed_at (ISO 8601 with the group's offset)."""
    return _csv(CONTACT_COLUMNS, (
        [c.guarantor.account, c.field, c.old_value, c.new_value,
         c.changed_at.astimezone(ZoneInfo(c.guarantor.group.timezone)).isoformat(timespec="seconds")]
        for c in changes
    ))


def _csv(header: Iterable[str], rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
