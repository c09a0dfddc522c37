"""A receipt as the staff console shows it (its gateway transactions, where it was applied) and its refund.

The refund rule has one home: the receipt's `refundable_amount`, which payments.refund checks too.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from . import payments
from .audit import audit
from .gateways import Gateway
from .models import Encounter, Group, Guarantor, Receipt, ReceiptApplication, Staff, Transaction
from .money import format_money


@dataclass(frozen=True)
class TransactionLine:
    transaction: Transaction

    @property
    def is_refund(self) -> bool:
        return self.transaction.kind == Transaction.REFUND

    @property
    def signed_amount(self) -> Decimal:
        """What the transaction moved: a refund negative."""
        return -self.transaction.amount if self.is_refund else self.transaction.amount


@dataclass(frozen=True)
class ReceiptDetail:
    receipt: Receipt
    transactions: list[TransactionLine]  # oldest first
    applications: list[ReceiptApplication]  # with their encounters

    @property
    def guarantor(self) -> Guarantor:
        return self.receipt.guarantor

    @property
    def group(self) -> Group:
        return self.receipt.guarantor.group

    @property
    def refundable_amount(self) -> Decimal:
        return self.receipt.refundable_amount

    @property
    def refundable(self) -> bool:
        return self.receipt.refundable_amount > 0

    @property
    def taken_outside_pops(self) -> bool:
        return self.receipt.source != Receipt.POPS

    @property
    def gateway(self) -> str:
        """The gateway that took the payment (its sale's), or "" for none."""
        return next((line.transaction.gateway for line in self.transactions if not line.is_refund), "")

    @property
    def refunded_in_full(self) -> bool:
        return self.receipt.status == Receipt.REFUNDED


def receipt(number: str) -> Receipt | None:
    """The receipt with this number, with its guarantor and group."""
    return (Receipt.select(Receipt, Guarantor, Group).join(Guarantor).join(Group)
            .where(Receipt.number == number).get_or_none())


def detail(found: Receipt) -> ReceiptDetail:
    transactions = (Transaction.select().where(Transaction.receipt == found)
                    .order_by(Transaction.created_at, Transaction.id))
    applications = (ReceiptApplication.select(ReceiptApplication, Encounter).join(Encounter)
                    .where(ReceiptApplication.receipt == found).order_by(ReceiptApplication.id))
    return ReceiptDetail(found, [TransactionLine(t) for t in transactions], list(applications))


def view(number: str, staff: Staff, *, ip: str) -> ReceiptDetail | None:
    """A receipt in full, or None when there is no such receipt. Recorded."""
    found = receipt(number)
    if found is None:
        return None
    audit(staff, "view_receipt", found.guarantor, detail=found.number, ip=ip)
    return detail(found)


def refund(gateway: Gateway, found: Receipt, amount: Decimal, staff: Staff, *, key: str | None, ip: str) -> Transaction:
    """Refund `amount` of a receipt through the gateway (payments.refund: never more than is refundable), recorded.

    payments.RefundRefused says why not; the refusal is recorded too.
    """
    try:
        transaction = payments.refund(gateway, found, amount, staff, key=key)
    except payments.RefundRefused as exc:
        audit(staff, "refund_refused", found.guarantor, detail=f"{found.number} {format_money(amount)}: {exc}", ip=ip)
        raise
    audit(staff, "refund", found.guarantor,
          detail=f"{found.number} {format_money(amount)} as {transaction.refund_receipt_number}", ip=ip)
    return transaction
