"""The emailed receipt (group option Email Receipts): what it carries, queued for the outbox."""
from __future__ import annotations

from .. import notify
from ..gateways import ChargeResult
from ..models import Receipt
from ..money import format_money
from .cards import paid_with


def queue_receipt_email(receipt: Receipt, result: ChargeResult):
    """Queue the receipt for the guarantor's email; the job runner sends it after the payment commits."""
    guarantor = receipt.guarantor
    group = guarantor.group
    lines = [
        f"Thank you for your payment to {group.name}.",
        "",
        f"Receipt number: {receipt.number}",
        f"Guarantor: {guarantor.legal_name}",
        f"Account: {guarantor.account}",
        f"Date paid: {receipt.received_date.strftime('%B %-d, %Y')}",
        f"Transaction number: {result.transaction}",
        f"Card type: {paid_with(receipt)}",
        f"Amount paid: {format_money(receipt.amount)}",
    ]
    if group.footer_phone:
        lines += ["", f"Questions? Call {group.footer_phone}."]
    return notify.queue_email(
        guarantor.email, f"Your payment receipt {receipt.number} – {group.name}", "\n".join(lines),
        purpose="receipt", guarantor=guarantor,
    )
