"""Refunds: part or all of a POPS receipt given back through the gateway, by staff, never more than was paid."""
from __future__ import annotations

from decimal import Decimal

from peewee import IntegrityError

from .. import batches, clock
from ..audit import POPS, audit
from ..db import database
from ..gateways import Gateway, GatewayUnavailable, RefundResult, for_payment
from ..models import Receipt, ReceiptApplication, Staff, Transaction
from ..money import ZERO, format_money
from .attempts import new_key

FAILED = "failed"  # a refund's transaction the gateway reported failed after it was recorded


class RefundRefused(Exception):
    """A refund that cannot be made; the message says why."""


def refund(gateway: Gateway, receipt: Receipt, amount: Decimal, staff: Staff, key: str | None = None) -> Transaction:
    """Refund part or all of a POPS receipt through the gateway, by a staff member.

    Never more than `receipt.refundable_amount`. `key` comes from the refund form, so a double
    click or a retried POST refunds once. The refund joins the day's open batch and takes its
    amount back off the encounters, newest application first.
    """
    key = key or new_key()
    done = Transaction.get_or_none(Transaction.idempotency_key == key)
    if done is not None:
        return done
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise RefundRefused("Enter a refund amount of at least $0.01.")
    if not receipt.takes_refunds:
        raise RefundRefused("Only a paid POPS receipt can be refunded here.")
    left = receipt.refundable_amount
    if amount > left:
        raise RefundRefused(f"At most {format_money(left)} can be refunded on this receipt.")
    sale = Transaction.get_or_none((Transaction.receipt == receipt) & (Transaction.kind == Transaction.SALE))
    if sale is None:
        raise RefundRefused("This receipt has no card transaction to refund.")
    # Claim the amount first, so two refunds at once can never add up to more than was paid.
    if not claim(receipt, amount):
        raise RefundRefused("The receipt changed meanwhile; reload it and try again.")
    try:
        result = for_payment(gateway, sale.gateway).refund(key, sale.number, amount)
    except GatewayUnavailable:
        result = None
    if result is None or result.status != RefundResult.APPROVED:
        _release(receipt, amount)
        if result is None:
            # A timeout does not prove nothing happened: the form keeps its key, so trying again
            # gets back a refund the gateway did make instead of making a second one.
            raise RefundRefused("The payment service did not answer, so the refund is not confirmed. "
                                "Try again with this form: it cannot refund twice.")
        raise RefundRefused(f"{result.message} Nothing was refunded.")
    try:
        return record(receipt, result.transaction, amount, staff=staff, key=key, gateway=sale.gateway, live=sale.live)
    except IntegrityError:
        # The same form twice at the same moment: the gateway refunded once, under this key.
        _release(receipt, amount)
        return Transaction.get(Transaction.idempotency_key == key)


def record(receipt: Receipt, number: str, amount: Decimal, *, staff: Staff | None, key: str | None,
           gateway: str, live: bool) -> Transaction:
    """Record a refund the gateway made (its amount already claimed on the receipt): its transaction in
    the day's batch, the receipt's status, and the amount taken back off the encounters."""
    now = clock.now()
    with database.atomic():
        # One refund records at a time per receipt (PostgreSQL locks the row; SQLite's write
        # transactions are serial), so each sees the refunds recorded before it.
        locked = Receipt.select().where(Receipt.id == receipt.id)
        receipt = (locked.for_update() if database.for_update else locked).get()
        earlier = [t.amount for t in Transaction.select().where(
            (Transaction.receipt == receipt) & (Transaction.kind == Transaction.REFUND)
            & (Transaction.status == Transaction.APPROVED))]
        count = Transaction.select().where((Transaction.receipt == receipt) & (Transaction.kind == Transaction.REFUND)).count()
        transaction = Transaction.create(
            receipt=receipt, number=number, kind=Transaction.REFUND, amount=amount,
            status=Transaction.APPROVED, created_at=now, staff=staff, idempotency_key=key,
            refund_receipt_number=f"{receipt.number}-R{count + 1}",
            batch=batches.batch_for_payment(receipt.guarantor.group, now), gateway=gateway, live=live,
        )
        # The status counts refunds made, not amounts still being claimed by a refund in flight.
        refunded = sum(earlier, ZERO) + amount
        status = Receipt.REFUNDED if refunded >= receipt.amount else Receipt.PARTIALLY_REFUNDED
        Receipt.update(status=status).where(Receipt.id == receipt.id).execute()
        _unapply(receipt, amount, refunded_before=sum(earlier, ZERO))
    return transaction


def claim(receipt: Receipt, amount: Decimal) -> bool:
    """Count `amount` as refunded on the receipt, unless that would refund more than was paid."""
    with database.atomic():
        return bool(Receipt.update(refunded_amount=Receipt.refunded_amount + amount).where(
            (Receipt.id == receipt.id) & (Receipt.refunded_amount + amount <= Receipt.amount)
        ).execute())


def _release(receipt: Receipt, amount: Decimal) -> None:
    Receipt.update(refunded_amount=Receipt.refunded_amount - amount).where(Receipt.id == receipt.id).execute()


def _unapply(receipt: Receipt, amount: Decimal, refunded_before: Decimal) -> None:
    """Take a refund back off the encounters: first from what was never applied, then newest first."""
    applied: dict[int, Decimal] = {}
    for application in ReceiptApplication.select().where(
        (ReceiptApplication.receipt == receipt) & (ReceiptApplication.source == ReceiptApplication.POPS)
    ):
        applied[application.encounter_id] = applied.get(application.encounter_id, ZERO) + application.amount
    # Money the receipt holds that no encounter got (flagged when it was paid) goes back first.
    unapplied = receipt.amount - refunded_before - sum(applied.values(), ZERO)
    left = amount - min(amount, max(unapplied, ZERO))
    for encounter_id in sorted(applied, reverse=True):
        if left <= 0:
            break
        part = min(applied[encounter_id], left)
        if part > 0:
            ReceiptApplication.create(receipt=receipt, encounter=encounter_id, amount=-part,
                                      source=ReceiptApplication.POPS)
            left -= part


def reverse_failed(transaction: Transaction) -> bool:
    """A recorded refund the gateway later reports failed: undone in POPS (the receipt's refunded amount and
    status, the encounters' applications) and audited for staff. False if it was undone already."""
    with database.atomic():
        rows = Transaction.update(status=FAILED).where(
            (Transaction.id == transaction.id) & (Transaction.status == Transaction.APPROVED)).execute()
        if not rows:
            return False
        receipt = Receipt.get_by_id(transaction.receipt_id)
        _release(receipt, transaction.amount)
        left = sum((t.amount for t in Transaction.select().where(
            (Transaction.receipt == receipt) & (Transaction.kind == Transaction.REFUND)
            & (Transaction.status == Transaction.APPROVED))), ZERO)
        status = Receipt.PAID if left <= 0 else Receipt.REFUNDED if left >= receipt.amount else Receipt.PARTIALLY_REFUNDED
        Receipt.update(status=status).where(Receipt.id == receipt.id).execute()
        _reapply(receipt, transaction.amount)
        audit(None, "refund_failed", receipt.guarantor,
              f"{receipt.number}: the refund {transaction.number} of {format_money(transaction.amount)} failed at the "
              "gateway; it is undone in POPS", actor=POPS)
    return True


def _reapply(receipt: Receipt, amount: Decimal) -> None:
    """Give back to the encounters what a failed refund had taken off them, oldest first."""
    given: dict[int, Decimal] = {}
    net: dict[int, Decimal] = {}
    for application in ReceiptApplication.select().where(
        (ReceiptApplication.receipt == receipt) & (ReceiptApplication.source == ReceiptApplication.POPS)
    ):
        net[application.encounter_id] = net.get(application.encounter_id, ZERO) + application.amount
        if application.amount > 0:
            given[application.encounter_id] = given.get(application.encounter_id, ZERO) + application.amount
    left = amount
    for encounter_id in sorted(given):
        part = min(given[encounter_id] - net[encounter_id], left)
        if part > 0:
            ReceiptApplication.create(receipt=receipt, encounter=encounter_id, amount=part,
                                      source=ReceiptApplication.POPS)
            left -= part
