"""Declined tries on a gateway's own page (Stripe Checkout): the patient may try another card there, so
each decline is recorded from its webhook as a $0.00 Unsuccessful receipt while the attempt stays open.
If the patient then gives up, the attempt ends declined, on its latest decline's receipt (Payment Failed)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from .. import clock
from ..db import database
from ..i18n import recognise
from ..models import PaymentAttempt, Receipt, Transaction
from ..money import ZERO
from .attempts import OPEN, message_columns, record_outcome, reload


def _numbers(attempt: PaymentAttempt) -> str:
    return f"POPS-{attempt.id:06d}-D"


def record_decline(attempt: PaymentAttempt, charge: str, *, brand: str, last4: str, message: str,
                   at: dt.datetime | None, live: bool) -> Receipt | None:
    """One $0.00 Unsuccessful receipt for a declined charge (once per charge id); None if it was recorded."""
    if Transaction.get_or_none((Transaction.number == charge) & (Transaction.kind == Transaction.SALE)):
        return None
    at = at or clock.now()
    guarantor = attempt.guarantor
    with database.atomic():
        count = Receipt.select().where(Receipt.number.startswith(_numbers(attempt))).count()
        receipt = Receipt.create(
            number=f"{_numbers(attempt)}{count + 1}", guarantor=guarantor, source=Receipt.POPS, received_at=at,
            received_date=at.astimezone(ZoneInfo(guarantor.group.timezone)).date(), method=Receipt.CARD,
            card_type=brand, last4=last4, amount=ZERO, status=Receipt.UNSUCCESSFUL, decline_reason=str(message),
            taken_by=attempt.staff_id,
        )
        Transaction.create(receipt=receipt, number=charge, kind=Transaction.SALE, amount=ZERO,
                           status=Transaction.DECLINED, created_at=clock.now(), gateway=attempt.gateway, live=live)
        PaymentAttempt.update(**message_columns(message)).where(
            (PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)).execute()
    return receipt


def declined_receipt(charge: str) -> Receipt | None:
    """The $0.00 receipt a declined charge was recorded on, if it was."""
    sale = Transaction.get_or_none((Transaction.number == charge) & (Transaction.kind == Transaction.SALE)
                                   & (Transaction.status == Transaction.DECLINED))
    return Receipt.get_by_id(sale.receipt_id) if sale is not None else None


def latest_decline(attempt: PaymentAttempt) -> Receipt | None:
    return (Receipt.select().where(Receipt.number.startswith(_numbers(attempt)))
            .order_by(Receipt.id.desc()).first())


def close_declined(attempt: PaymentAttempt, receipt: Receipt) -> PaymentAttempt:
    """The patient left the gateway's page after a decline: the attempt ends declined, on that receipt."""
    now = clock.now()
    with database.atomic():
        rows = PaymentAttempt.update(
            status=PaymentAttempt.DECLINED, **message_columns(recognise(receipt.decline_reason)), receipt=receipt,
            card_type=receipt.card_type,
            last4=receipt.last4, method=receipt.method, updated_at=now, settled_at=now,
        ).where((PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)).execute()
        if rows and attempt.session_id:
            record_outcome(attempt.session_id, PaymentAttempt.DECLINED)
    return reload(attempt)
