"""`pops jobs`: the jobs' work as it stands: messages not sent yet (due, waiting for a retry,
failed) and payment attempts the gateway has not settled."""
from __future__ import annotations

from .. import clock
from ..models import OutboxMessage, PaymentAttempt


def _stamp(at) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at is not None else "now"


def _message_line(m: OutboxMessage) -> str:
    if m.status == OutboxMessage.FAILED:
        state = f"failed after {m.attempts} tries"
    elif m.next_attempt_at is not None and m.next_attempt_at > clock.now():
        state = f"retry {m.attempts + 1} at {_stamp(m.next_attempt_at)}"
    else:
        state = "due"
    error = f"  ({m.error})" if m.error else ""
    return f"  #{m.id} {m.channel} to {m.recipient} [{m.purpose or '-'}]: {state}{error}"


def text(limit: int = 50) -> str:
    """What is queued, waiting and failed, as lines of text."""
    unsent = list(OutboxMessage.select().where(OutboxMessage.status.in_([OutboxMessage.OUTBOX, OutboxMessage.FAILED]))
                  .order_by(OutboxMessage.id).limit(limit))
    attempts = list(PaymentAttempt.select().where(PaymentAttempt.status.in_(PaymentAttempt.OPEN))
                    .order_by(PaymentAttempt.id).limit(limit))
    lines = [f"Messages not sent ({len(unsent)}{'+' if len(unsent) == limit else ''}):"]
    lines += [_message_line(m) for m in unsent] or ["  none"]
    lines.append(f"Payments not settled ({len(attempts)}{'+' if len(attempts) == limit else ''}):")
    lines += [f"  {a.key[:12]}… {a.status}, updated {_stamp(a.updated_at)}" for a in attempts] or ["  none"]
    return "\n".join(lines)
