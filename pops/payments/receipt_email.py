"""The emailed receipt (group option Email Receipts): what it carries, queued for the outbox."""
from __future__ import annotations

from .. import language, notify
from ..gateways import ChargeResult
from ..i18n import N_, gettext
from ..models import Receipt
from .cards import paid_with

# Production on the sandbox, chosen explicitly (POPS_GATEWAY=sandbox): the emailed receipt says TEST MODE
# as every page does. Set by create_app and `pops worker` (say_test_mode), the processes that settle.
TEST_MODE = N_("TEST MODE: payments go to the sandbox gateway; no real money moves.")
_test_mode = False


def say_test_mode(on: bool) -> None:
    global _test_mode
    _test_mode = on

# In the guarantor's language; the date and the amount are written as that language writes them.
RECEIPT_SUBJECT = N_("Your payment receipt {number} – {group}")
RECEIPT_EMAIL = N_("Thank you for your payment to {group}.\n\nReceipt number: {number}\nGuarantor: {name}\n"
                   "Account: {account}\nDate paid: {date}\nTransaction number: {transaction}\nCard type: {card}\n"
                   "Amount paid: {amount}")


def queue_receipt_email(receipt: Receipt, result: ChargeResult):
    """Queue the receipt for the guarantor's email; the job runner sends it after the payment commits."""
    guarantor = receipt.guarantor
    group = guarantor.group
    lang = language.of_guarantor(guarantor)
    body = gettext(lang, RECEIPT_EMAIL, group=group.name, number=receipt.number, name=guarantor.legal_name,
                   account=guarantor.account, date=receipt.received_date, transaction=result.transaction,
                   card=paid_with(receipt), amount=receipt.amount)
    if group.footer_phone:
        body += "\n\n" + gettext(lang, notify.QUESTIONS, phone=group.footer_phone)
    if _test_mode:
        body = gettext(lang, TEST_MODE) + "\n\n" + body
    return notify.queue_email(
        guarantor.email, gettext(lang, RECEIPT_SUBJECT, number=receipt.number, group=group.name), body,
        purpose="receipt", guarantor=guarantor,
    )
