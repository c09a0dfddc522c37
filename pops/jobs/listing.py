"""`pops jobs`: the jobs' work as it stands: on PostgreSQL the queue's jobs (waiting, running,
failed); everywhere the messages not sent yet (due, waiting for a retry, failed) and payment
attempts the gateway has not settled."""
from __future__ import annotations

from .. import clock
from ..db import database
from ..models import OutboxMessage, PaymentAttempt
from . import queue


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
    lines = _queue_lines(limit) if queue.active() else []
    lines.append(f"Messages not sent ({len(unsent)}{'+' if len(unsent) == limit else ''}):")
    lines += [_message_line(m) for m in unsent] or ["  none"]
    lines.append(f"Payments not settled ({len(attempts)}{'+' if len(attempts) == limit else ''}):")
    lines += [f"  {a.key[:12]}… {a.status}, updated {_stamp(a.updated_at)}"
              + (" (needs staff review: the gateway never answered about it)" if a.needs_review else "")
              for a in attempts] or ["  none"]
    return "\n".join(lines)


def _queue_lines(limit: int) -> list[str]:
    """The queue's jobs waiting, running and failed, each with its task, arguments and when."""
    cursor = database.execute_sql(
        "SELECT id, status, task_name, args, scheduled_at, attempts FROM procrastinate_jobs"
        " WHERE status IN ('todo', 'doing', 'failed') ORDER BY status, id LIMIT %s", (limit,))
    rows = cursor.fetchall()
    lines = [f"Queue jobs waiting, running or failed ({len(rows)}{'+' if len(rows) == limit else ''}):"]
    names = {"todo": "queued", "doing": "running", "failed": "failed"}
    for job_id, status, task, args, scheduled_at, attempts in rows:
        arguments = ", ".join(f"{k}={v}" for k, v in (args or {}).items() if k != "timestamp")
        when = f" at {_stamp(scheduled_at)}" if status == "todo" and scheduled_at is not None else ""
        lines.append(f"  job {job_id} {task}({arguments}): {names[status]}{when}, {attempts} tries")
    return lines if rows else [*lines, "  none"]
