"""Reference batches: one group's POPS payments for one day (group's time zone), reconciled and closed by staff.

A batch holds the receipts (paid and unsuccessful) taken while it was open and the refunds made
that day. A closed batch never changes: a later payment that day opens a second batch. Its CSV
is the export format (docs/export-v1.md).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable
from zoneinfo import ZoneInfo

from peewee import JOIN, IntegrityError

from . import clock
from .db import database, is_postgres
from .models import (
    Encounter,
    Group,
    Guarantor,
    ReceiptApplication,
    Receipt,
    ReferenceBatch,
    Staff,
    Transaction,
)
from .money import ZERO

EXPORT_COLUMNS = (
    "batch", "batch_date", "receipt", "kind", "refund_of", "received_at", "group", "account", "guarantor",
    "amount", "status", "method", "card_type", "last4", "transaction", "taken_by", "applications",
)
# Receipts a batch (and the export) carries: settled ones, declines included so counts reconcile.
EXPORTED_STATUSES = (Receipt.PAID, Receipt.UNSUCCESSFUL, Receipt.REFUNDED, Receipt.PARTIALLY_REFUNDED)


class BatchClosed(Exception):
    """The batch was already closed (by someone else, or in another tab)."""


class BatchChanged(Exception):
    """Payments arrived after the totals the clerk confirmed; they must look again before closing."""


# --- opening: the batch a payment joins --------------------------------------------------------

def local_date(group: Group, at: dt.datetime) -> dt.date:
    """The date an instant falls on in the group's time zone."""
    return at.astimezone(ZoneInfo(group.timezone)).date()


def batch_for_payment(group: Group, at: dt.datetime | None = None) -> ReferenceBatch:
    """The open batch for the group and the day of `at` (group's time zone), opened if there is none.

    Call inside the payment's transaction: on PostgreSQL the batch row stays locked until it
    commits, so a Close waits for the payment (and then sees it) rather than closing under it.
    """
    day = local_date(group, at or clock.now())
    for _ in range(3):
        query = ReferenceBatch.select().where(
            (ReferenceBatch.group == group) & (ReferenceBatch.batch_date == day) & (ReferenceBatch.status == ReferenceBatch.OPEN)
        )
        if is_postgres():
            query = query.for_update()
        batch = query.first()
        if batch is not None:
            return batch
        try:
            with database.atomic():  # a savepoint: a lost race leaves the outer transaction usable
                return ReferenceBatch.create(group=group, batch_date=day, opened_at=clock.now())
        except IntegrityError:
            continue  # another payment opened it a moment ago (one open batch per group and day)
    raise RuntimeError(f"could not open a reference batch for {group.code} on {day}")


# --- the rows: one per receipt or refund, as the export has them ------------------------------

@dataclass(frozen=True)
class PaymentRow:
    """One receipt or one refund, with everything the export and the reports show."""

    kind: str  # "payment" or "refund"
    number: str
    refund_of: str
    received_at: dt.datetime  # in the group's time zone
    amount: Decimal  # refunds negative
    status: str
    method: str
    card_type: str
    last4: str
    transaction: str
    taken_by: str
    applications: str
    group_code: str
    group_name: str
    account: str
    guarantor: str
    batch_id: int | None
    batch_date: dt.date | None
    post_date: dt.date | None  # the date the batch was closed (group's time zone)
    receipt_number: str  # the receipt itself, or the one a refund refunds
    disputed: str = ""  # a payment's card dispute status (Stripe's words), "" for none

    @property
    def received_date(self) -> dt.date:
        return self.received_at.date()

    @property
    def card_label(self) -> str:
        return self.card_type or Receipt.WALLET_NAMES.get(self.method, "Card")

    def csv_values(self) -> list[str]:
        return [
            "" if self.batch_id is None else str(self.batch_id),
            self.batch_date.isoformat() if self.batch_date else "",
            self.number,
            self.kind,
            self.refund_of,
            self.received_at.isoformat(timespec="seconds"),
            self.group_code,
            self.account,
            self.guarantor,
            f"{self.amount:.2f}",
            self.status,
            self.method,
            self.card_type,
            self.last4,
            self.transaction,
            self.taken_by,
            self.applications,
        ]


def _status_after(receipt: Receipt, refunded: Decimal) -> str:
    if receipt.status == Receipt.UNSUCCESSFUL:
        return Receipt.UNSUCCESSFUL
    if refunded <= ZERO:
        return Receipt.PAID
    return Receipt.REFUNDED if refunded >= receipt.amount else Receipt.PARTIALLY_REFUNDED


def _post_date(batch: ReferenceBatch | None, tz: ZoneInfo) -> dt.date | None:
    if batch is None or batch.closed_at is None:
        return None
    return batch.closed_at.astimezone(tz).date()


def _application_text(apps: Iterable[ReceiptApplication]) -> str:
    return ";".join(f"{a.encounter.ext_id}:{a.line_ext_id}:{a.amount:.2f}" for a in apps)


def _split_refund_applications(negatives: list[ReceiptApplication], refunds: list[Transaction]) -> dict[int, str]:
    """Negative applications (in the order written) handed to the refunds they undo, by amount."""
    result: dict[int, str] = {}
    pending = list(negatives)
    for refund in refunds:
        taken, total = [], ZERO
        # Never past the refund: a refund partly from money no visit got leaves the next refund's own.
        while pending and total - pending[0].amount <= refund.amount:
            app = pending.pop(0)
            taken.append(app)
            total += -app.amount
        result[refund.id] = _application_text(taken) if total == refund.amount else ""
    return result


def build_rows(receipts: Iterable[Receipt], refunds: Iterable[Transaction]) -> list[PaymentRow]:
    """Rows for these receipts and refund transactions, in the order they happened.

    Both must be selected with their guarantor, group, staff and batch joined (see the query
    helpers below). A payment row's status is the one it had when its batch was closed (or now,
    while open), so a closed batch's export stays the same; a refund row's status is the
    receipt's right after that refund.
    """
    receipts = list(receipts)
    refunds = list(refunds)
    receipt_ids = {r.id for r in receipts} | {t.receipt_id for t in refunds}
    sales: dict[int, str] = {}
    all_refunds: dict[int, list[Transaction]] = defaultdict(list)
    positives: dict[int, list[ReceiptApplication]] = defaultdict(list)
    negatives: dict[int, list[ReceiptApplication]] = defaultdict(list)
    if receipt_ids:
        for t in Transaction.select().where(Transaction.receipt.in_(receipt_ids)).order_by(Transaction.created_at, Transaction.id):
            if t.kind == Transaction.REFUND:
                if t.status not in Transaction.MOVED_NO_MONEY:
                    all_refunds[t.receipt_id].append(t)
            else:
                sales.setdefault(t.receipt_id, t.number)
        apps = (ReceiptApplication.select(ReceiptApplication, Encounter).join(Encounter)
                .where(ReceiptApplication.receipt.in_(receipt_ids)).order_by(ReceiptApplication.id))
        for a in apps:
            (positives if a.amount >= ZERO else negatives)[a.receipt_id].append(a)
    refund_apps: dict[int, str] = {}
    for receipt_id, done in all_refunds.items():
        refund_apps.update(_split_refund_applications(negatives.get(receipt_id, []), done))

    rows: list[tuple[tuple, PaymentRow]] = []
    for r in receipts:
        guarantor: Guarantor = r.guarantor
        group: Group = guarantor.group
        tz = ZoneInfo(group.timezone)
        batch = r.batch if r.batch_id else None
        cutoff = batch.closed_at if batch is not None and batch.closed_at is not None else None
        refunded = sum((t.amount for t in all_refunds.get(r.id, []) if cutoff is None or t.created_at <= cutoff), ZERO)
        row = PaymentRow(
            kind="payment", number=r.number, refund_of="", received_at=r.received_at.astimezone(tz),
            amount=r.amount, status=_status_after(r, refunded), method=r.method, card_type=r.card_type,
            last4=r.last4, transaction=sales.get(r.id, ""), taken_by=r.taken_by.email if r.taken_by_id else "patient",
            applications=_application_text(positives.get(r.id, [])), group_code=group.code, group_name=group.name,
            account=guarantor.account, guarantor=guarantor.legal_name, batch_id=r.batch_id,
            batch_date=batch.batch_date if batch else None, post_date=_post_date(batch, tz), receipt_number=r.number,
            disputed=r.dispute_status,
        )
        rows.append(((r.received_at, 0, r.id), row))
    for t in refunds:
        receipt: Receipt = t.receipt
        guarantor = receipt.guarantor
        group = guarantor.group
        tz = ZoneInfo(group.timezone)
        batch = t.batch if t.batch_id else None
        done = all_refunds.get(receipt.id, [])
        upto = next((i for i, e in enumerate(done) if e.id == t.id), len(done) - 1)
        refunded = sum((e.amount for e in done[: upto + 1]), ZERO)
        row = PaymentRow(
            kind="refund", number=t.refund_receipt_number or t.number, refund_of=receipt.number,
            received_at=t.created_at.astimezone(tz), amount=-t.amount, status=_status_after(receipt, refunded),
            method=receipt.method, card_type=receipt.card_type, last4=receipt.last4, transaction=t.number,
            taken_by=t.staff.email if t.staff_id else "patient", applications=refund_apps.get(t.id, ""),
            group_code=group.code, group_name=group.name, account=guarantor.account, guarantor=guarantor.legal_name,
            batch_id=t.batch_id, batch_date=batch.batch_date if batch else None, post_date=_post_date(batch, tz),
            receipt_number=receipt.number,
        )
        rows.append(((t.created_at, 1, t.id), row))
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows]


TakenBy = Staff.alias()
RefundStaff = Staff.alias()


def receipt_query():
    """POPS receipts that belong in batches and reports, with what a row needs joined."""
    return (
        Receipt.select(Receipt, Guarantor, Group, ReferenceBatch, TakenBy)
        .join(Guarantor).join(Group)
        .join_from(Receipt, ReferenceBatch, JOIN.LEFT_OUTER)
        .join_from(Receipt, TakenBy, JOIN.LEFT_OUTER, on=(Receipt.taken_by == TakenBy.id))
        .where((Receipt.source == Receipt.POPS) & Receipt.status.in_(EXPORTED_STATUSES))
    )


def refund_query():
    """Refund transactions that moved money, with their receipt, group, staff and batch joined."""
    return (
        Transaction.select(Transaction, Receipt, Guarantor, Group, ReferenceBatch, RefundStaff)
        .join(Receipt).join(Guarantor).join(Group)
        .join_from(Transaction, ReferenceBatch, JOIN.LEFT_OUTER)
        .join_from(Transaction, RefundStaff, JOIN.LEFT_OUTER, on=(Transaction.staff == RefundStaff.id))
        .where((Transaction.kind == Transaction.REFUND) & Transaction.status.not_in(Transaction.MOVED_NO_MONEY))
    )


def _unbatched_declines(batches: list[ReferenceBatch]) -> dict[int, list[Receipt]]:
    """Declined POPS receipts written without a batch, given to the batch open when they came.

    A decline moves no money, so it need not open a batch; but the export carries it so counts
    reconcile with Session Usage. It belongs to the first batch of its group and day that was
    not yet closed when it was received (none if all were closed by then).
    """
    result: dict[int, list[Receipt]] = defaultdict(list)
    keys = {(b.group_id, b.batch_date) for b in batches}
    if not keys:
        return result
    days = {day for _, day in keys}
    groups = {gid for gid, _ in keys}
    declines = receipt_query().where(
        Receipt.batch.is_null() & (Receipt.status == Receipt.UNSUCCESSFUL)
        & Receipt.received_date.in_(days) & Guarantor.group.in_(groups)
    )
    by_key: dict[tuple, list[Receipt]] = defaultdict(list)
    for r in declines:
        by_key[(r.guarantor.group_id, r.received_date)].append(r)
    if not by_key:
        return result
    siblings: dict[tuple, list[ReferenceBatch]] = defaultdict(list)
    for b in (ReferenceBatch.select().where(ReferenceBatch.batch_date.in_(days) & ReferenceBatch.group.in_(groups))
              .order_by(ReferenceBatch.opened_at, ReferenceBatch.id)):
        siblings[(b.group_id, b.batch_date)].append(b)
    wanted = {b.id for b in batches}
    for key, receipts in by_key.items():
        for r in receipts:
            home = next((b for b in siblings[key] if b.closed_at is None or r.received_at < b.closed_at), None)
            if home is not None and home.id in wanted:
                result[home.id].append(r)
    return result


def _rows_of(batches: list[ReferenceBatch]) -> list[PaymentRow]:
    ids = [b.id for b in batches]
    receipts = list(receipt_query().where(Receipt.batch.in_(ids)))
    declines = _unbatched_declines(batches)
    for b in batches:
        for r in declines.get(b.id, []):
            r.batch = b  # shown, not saved: the row carries the batch it reconciles with
            receipts.append(r)
    return build_rows(receipts, refund_query().where(Transaction.batch.in_(ids)))


def rows_for(batch: ReferenceBatch) -> list[PaymentRow]:
    """A batch's receipts and refunds, in the order they happened."""
    return _rows_of([batch])


# --- totals ---------------------------------------------------------------------------------

@dataclass
class Totals:
    """Money in, money back and how many of each; refunds are a positive amount here."""

    payments: Decimal = ZERO
    refunds: Decimal = ZERO
    payment_count: int = 0
    refund_count: int = 0
    unsuccessful_count: int = 0

    @property
    def net(self) -> Decimal:
        return self.payments - self.refunds

    @property
    def count(self) -> int:
        return self.payment_count + self.refund_count + self.unsuccessful_count

    def add(self, row: PaymentRow) -> None:
        if row.kind == "refund":
            self.refund_count += 1
            self.refunds += -row.amount
        elif row.status == Receipt.UNSUCCESSFUL:
            self.unsuccessful_count += 1
            self.payments += row.amount  # $0.00, kept so a stray amount would show
        else:
            self.payment_count += 1
            self.payments += row.amount


@dataclass
class BatchTotals:
    overall: Totals = field(default_factory=Totals)
    by_card_type: dict[str, Totals] = field(default_factory=dict)


def totals(rows: Iterable[PaymentRow]) -> BatchTotals:
    """Totals overall and by card type (Visa, Mastercard, … ; wallets without a brand by wallet)."""
    result = BatchTotals()
    for row in rows:
        result.overall.add(row)
        result.by_card_type.setdefault(row.card_label, Totals()).add(row)
    result.by_card_type = dict(sorted(result.by_card_type.items()))
    return result


def fingerprint(rows: list[PaymentRow]) -> str:
    """What the clerk saw when reconciling: row count and net, to check again at Close."""
    t = totals(rows).overall
    return f"{t.count}:{t.payments:.2f}:{t.refunds:.2f}"


# --- listing and closing ----------------------------------------------------------------------

@dataclass(frozen=True)
class BatchSummary:
    batch: ReferenceBatch
    totals: Totals


def list_batches(
    *, group: Group | None = None, day_from: dt.date | None = None, day_to: dt.date | None = None,
    status: str | None = None,
) -> list[BatchSummary]:
    """Batches, newest day first (open before closed on a day), each with its totals."""
    query = ReferenceBatch.select(ReferenceBatch, Group).join(Group)
    if group is not None:
        query = query.where(ReferenceBatch.group == group)
    if day_from is not None:
        query = query.where(ReferenceBatch.batch_date >= day_from)
    if day_to is not None:
        query = query.where(ReferenceBatch.batch_date <= day_to)
    if status in (ReferenceBatch.OPEN, ReferenceBatch.CLOSED):
        query = query.where(ReferenceBatch.status == status)
    batches = list(query.order_by(ReferenceBatch.batch_date.desc(), Group.code, ReferenceBatch.id.desc()))
    if not batches:
        return []
    rows = _rows_of(batches)
    per_batch: dict[int, Totals] = defaultdict(Totals)
    for row in rows:
        per_batch[row.batch_id].add(row)
    return [BatchSummary(b, per_batch[b.id]) for b in batches]


def close(batch: ReferenceBatch, staff: Staff, expected: str | None = None) -> ReferenceBatch:
    """Close an open batch after reconciling; it never changes again.

    `expected` is the fingerprint of the rows the clerk confirmed: if payments arrived since,
    BatchChanged and nothing is closed. BatchClosed when it was closed already.
    """
    with database.atomic():
        query = ReferenceBatch.select().where(ReferenceBatch.id == batch.id)
        if is_postgres():
            query = query.for_update()  # waits for a payment joining it to commit
        current = query.get()
        if current.status != ReferenceBatch.OPEN:
            raise BatchClosed(f"Batch {batch.id} is already closed.")
        if expected is not None and fingerprint(rows_for(current)) != expected:
            raise BatchChanged(f"Batch {batch.id} changed since you reviewed it; check its receipts again.")
        now = clock.now()
        changed = ReferenceBatch.update(status=ReferenceBatch.CLOSED, closed_at=now, closed_by=staff).where(
            (ReferenceBatch.id == batch.id) & (ReferenceBatch.status == ReferenceBatch.OPEN)
        ).execute()
        if not changed:
            raise BatchClosed(f"Batch {batch.id} is already closed.")
    return ReferenceBatch.get_by_id(batch.id)


# --- CSV ----------------------------------------------------------------------------------------

def write_csv(rows: Iterable[PaymentRow]) -> str:
    """Rows in the export format: header, RFC 4180 quoting, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(row.csv_values())
    return out.getvalue()


def export_csv(batch: ReferenceBatch) -> str:
    """One batch as docs/export-v1.md describes."""
    return write_csv(rows_for(batch))
