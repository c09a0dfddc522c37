"""Reference batches as the staff console works them: the list, one batch under review, its CSV, the close.

The batch rules (rows, totals, the fingerprint, closing) live in pops.batches; this module finds
what a page shows and records who looked, exported and closed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import batches, groups, reports
from .audit import audit
from .batches import BatchSummary, BatchTotals, PaymentRow
from .console import groups_by_code
from .db import database
from .models import Group, ReferenceBatch, Staff

DEFAULT_DAYS = 14  # without dates, the list shows the closed batches of the last two weeks
CLOSED = "closed"
ALREADY_CLOSED = "already_closed"
CHANGED = "changed"


@dataclass(frozen=True)
class BatchList:
    group_code: str
    day_from: dt.date | None
    day_to: dt.date | None
    errors: list[str]
    open_batches: list[BatchSummary]
    closed_batches: list[BatchSummary]
    groups: list[Group]  # the filter's choices
    refused: bool = False  # a day beyond the filters' range: nothing was listed or recorded


def batch_list(group_code: str, typed_from: str | None, typed_to: str | None, staff: Staff, *, ip: str) -> BatchList:
    """Every open batch, and the closed ones of these days (the last DEFAULT_DAYS in the practice when no
    date is typed), of one group or all. A bad group or date is an error and lists nothing. Recorded,
    unless a day is beyond the filters' range (refused)."""
    errors: list[str] = []
    group = groups.by_code(group_code)
    if group_code and group is None:
        errors.append(f"There is no group {group_code}.")
    try:
        day_from = reports.parse_date(typed_from, "From", errors)
        day_to = reports.parse_date(typed_to, "To", errors)
    except reports.DateOutOfRange as exc:
        return BatchList(group_code, None, None, [str(exc)], [], [], groups_by_code(), refused=True)
    if day_from is None and day_to is None and not typed_from and not typed_to:
        day_to = reports.practice_today(group)
        day_from = day_to - dt.timedelta(days=DEFAULT_DAYS - 1)
    open_batches = [] if errors else batches.list_batches(group=group, status=ReferenceBatch.OPEN)
    closed_batches = [] if errors else batches.list_batches(group=group, day_from=day_from, day_to=day_to,
                                                             status=ReferenceBatch.CLOSED)
    audit(staff, "view_batches", ip=ip)
    return BatchList(group_code, day_from, day_to, errors, open_batches, closed_batches, groups_by_code())


@dataclass(frozen=True)
class Review:
    """One batch as the clerk reconciles it: its rows, totals by card type, and the fingerprint a close confirms."""

    batch: ReferenceBatch
    rows: list[PaymentRow]
    totals: BatchTotals
    fingerprint: str

    @property
    def is_open(self) -> bool:
        return self.batch.status == ReferenceBatch.OPEN

    @property
    def timezone(self) -> str:
        return self.batch.group.timezone


def _batch(batch_id: int) -> ReferenceBatch | None:
    return (ReferenceBatch.select(ReferenceBatch, Group).join(Group)
            .where(ReferenceBatch.id == batch_id).get_or_none())


def _review(batch: ReferenceBatch) -> Review:
    rows = batches.rows_for(batch)
    return Review(batch, rows, batches.totals(rows), batches.fingerprint(rows))


def view(batch_id: int, staff: Staff, *, ip: str) -> Review | None:
    """A batch under review, or None when there is no such batch. Recorded."""
    batch = _batch(batch_id)
    if batch is None:
        return None
    audit(staff, "view_batch", detail=f"batch {batch.id}", ip=ip)
    return _review(batch)


def review(batch_id: int) -> Review | None:
    """A batch as its close asks to confirm it, or None when there is no such batch."""
    batch = _batch(batch_id)
    return _review(batch) if batch is not None else None


@dataclass(frozen=True)
class Export:
    filename: str
    text: str


def export(batch_id: int, staff: Staff, *, ip: str) -> Export | None:
    """A batch's CSV (docs/export-v1.md) and its file name, or None when there is no such batch. Recorded."""
    batch = _batch(batch_id)
    if batch is None:
        return None
    audit(staff, "export_batch", detail=f"batch {batch.id}", ip=ip)
    return Export(f"pops-batch-{batch.id}-{batch.batch_date.isoformat()}.csv", batches.export_csv(batch))


@dataclass(frozen=True)
class Closing:
    outcome: str  # CLOSED, ALREADY_CLOSED, or CHANGED (payments arrived since the review)
    review: Review | None = None  # CHANGED: the batch as it is now, to review again
    message: str = ""


def close(batch_id: int, staff: Staff, fingerprint: str, *, ip: str) -> Closing | None:
    """Close the batch the clerk reviewed (`fingerprint` of its rows), recorded with the close.

    A refusal because it changed since is recorded too. None when there is no such batch.
    """
    batch = _batch(batch_id)
    if batch is None:
        return None
    try:
        with database.atomic():
            batches.close(batch, staff, expected=fingerprint)
            audit(staff, "close_batch", detail=f"batch {batch.id} of {batch.batch_date.isoformat()}", ip=ip)
    except batches.BatchClosed:
        return Closing(ALREADY_CLOSED)
    except batches.BatchChanged as exc:
        audit(staff, "close_batch_refused", detail=f"batch {batch.id}: changed since review", ip=ip)
        return Closing(CHANGED, review(batch.id), str(exc))
    return Closing(CLOSED)
