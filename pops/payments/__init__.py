"""Taking a payment: attempt -> gateway -> receipt -> application -> reference batch.

An attempt is stored (with its idempotency key) before the gateway is called, and settled exactly
once by a conditional UPDATE, whoever gets there first: the patient coming back from the hosted
page, a retried request, or the settle job looking the key up. So a double click, a retried POST,
the back button or two tabs never charge twice, and nothing that was paid is lost.

A payment is started (`starting`: the amount, the attempt, the checkout), settled (`settling`:
the gateway's answer as a receipt in the day's batch), perhaps refunded (`refunds`); `cards` holds
the saved cards, `receipt_email` the emailed receipt and `attempts` the moves they share.
"""
from .attempts import MSG_NOT_COMPLETED, MSG_UNAVAILABLE, OPEN, attempt_for, new_key
from .cards import may_use_saved_cards, paid_with, remove_card, saved_cards
from .refunds import RefundRefused, refund
from .settling import SETTLE_AFTER, apply_oldest_first, complete, refresh, settle, settle_pending, unconfirmed
from .starting import (
    MSG_CARD_GONE,
    MSG_CHOOSE,
    MSG_EARLIER_PAID,
    MSG_IN_PROGRESS,
    MSG_NO_METHOD,
    MSG_SIGN_IN_FOR_CARDS,
    MSG_STALE,
    PaymentRefused,
    ShownForAnotherAccount,
    Started,
    checkout_options,
    chosen_amount,
    start,
    start_or_resume,
)

__all__ = [
    "MSG_CARD_GONE",
    "MSG_CHOOSE",
    "MSG_EARLIER_PAID",
    "MSG_IN_PROGRESS",
    "MSG_NOT_COMPLETED",
    "MSG_NO_METHOD",
    "MSG_SIGN_IN_FOR_CARDS",
    "MSG_STALE",
    "MSG_UNAVAILABLE",
    "OPEN",
    "SETTLE_AFTER",
    "PaymentRefused",
    "RefundRefused",
    "ShownForAnotherAccount",
    "Started",
    "apply_oldest_first",
    "attempt_for",
    "checkout_options",
    "chosen_amount",
    "complete",
    "may_use_saved_cards",
    "new_key",
    "paid_with",
    "refresh",
    "refund",
    "remove_card",
    "saved_cards",
    "settle",
    "settle_pending",
    "start",
    "start_or_resume",
    "unconfirmed",
]
