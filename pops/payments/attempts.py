"""A payment attempt's bookkeeping, shared by starting and settling one.

Every move is a conditional UPDATE on an attempt that is still open, so whoever settles an
attempt first wins and the others change nothing.
"""
from __future__ import annotations

import secrets

from .. import clock
from ..db import database
from ..i18n import N_, coded, stored
from ..models import PatientSession, PaymentAttempt

OPEN = PaymentAttempt.OPEN

# Why an attempt charged nothing. The result page adds "You were not charged" itself (the outcome
# not_completed means exactly that), so these say only why.
MSG_UNAVAILABLE = coded("gateway_unavailable",
                        N_("We could not reach the payment service. Please try again in a few minutes."))
MSG_NOT_COMPLETED = coded("payment_stopped", N_("The payment was stopped before it went through."))


def message_columns(message: str) -> dict[str, str]:
    """An attempt's message as its columns: the English text, and the code and parameters it is shown from."""
    text, code, params = stored(message)
    return {"message": text, "message_code": code, "message_params": params}


def new_key() -> str:
    """A fresh idempotency key (a pay or refund form carries one, so a retry reuses it)."""
    return secrets.token_urlsafe(24)


def attempt_for(key: str) -> PaymentAttempt | None:
    return PaymentAttempt.get_or_none(PaymentAttempt.key == key)


def reload(attempt: PaymentAttempt) -> PaymentAttempt:
    return PaymentAttempt.get_by_id(attempt.id)


def mark_pending(attempt: PaymentAttempt) -> None:
    """The gateway may have acted on the attempt but its answer is not known yet."""
    PaymentAttempt.update(status=PaymentAttempt.PENDING, updated_at=clock.now()).where(
        (PaymentAttempt.id == attempt.id) & (PaymentAttempt.status == PaymentAttempt.ATTEMPT)
    ).execute()


def finish(attempt: PaymentAttempt, status: str, message: str) -> PaymentAttempt:
    """Close an attempt that charged nothing (ERROR or CANCELED); a no-op if it is already settled."""
    now = clock.now()
    with database.atomic():
        rows = PaymentAttempt.update(status=status, **message_columns(message), updated_at=now, settled_at=now).where(
            (PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)
        ).execute()
        if rows and attempt.session_id and status == PaymentAttempt.ERROR:
            record_outcome(attempt.session_id, PaymentAttempt.ERROR)
    return reload(attempt)


def record_outcome(session_id: int, outcome: str) -> None:
    """The session's payment outcome, for Session Usage: PAID, DECLINED or ERROR."""
    PatientSession.update(payment_outcome=outcome).where(PatientSession.id == session_id).execute()
