"""Messages to patients: every SMS and email goes to the outbox first; the job runner sends it.

Email goes over SMTP when POPS_SMTP_URL is set. SMS goes through the provider adapter when
POPS_SMS_URL is set: a JSON POST {"to": "+1...", "body": "..."} with POPS_SMS_TOKEN as a bearer
token, which a small relay turns into the provider's own API call. Without them, messages stay
in the outbox (where staff, the demo and the tests read them). Queue inside the unit of work
that caused the message; `deliver` (a job, never a request) sends what is due, retrying a failed
try on OutboxMessage.RETRY_AFTER's schedule, and never sends a code after it expired.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import smtplib
import ssl
import sys
import urllib.error
import urllib.request
from email.message import EmailMessage
from zoneinfo import ZoneInfo
from urllib.parse import unquote, urlsplit

from . import clock, crash
from .db import database
from .i18n import N_
from .jobs import queue
from .models import Guarantor, OutboxMessage
from .plans.rules import next_text_time  # the one home of the 8:00-21:00 gate
from .settings import Settings


SEND_TIMEOUT = 10.0  # seconds an SMTP server or SMS provider may take to answer
# Each message is written in the guarantor's language (pops.language.of_guarantor, i18n.gettext) by whoever
# queues it; this line ends an email to a patient when the practice has a phone number.
QUESTIONS = N_("Questions? Call {phone}.")

# `pops demo` turns this on: each queued message is also printed, so a sign-in code can be read
# in the terminal (the staff console's Outbox shows them too).
ECHO = False


def _queued(message: OutboxMessage) -> OutboxMessage:
    """A new message: its job is deferred on the same connection (PostgreSQL), and the demo prints it."""
    queue.defer_message(message.id)
    if ECHO:
        head = f"{message.channel.upper()} to {message.recipient}"
        if message.subject:
            head += f" ({message.subject})"
        print(f"[outbox] {head}: {message.body.strip()}", file=sys.stderr, flush=True)
    return message


def queue_email(to: str, subject: str, body: str, *, purpose: str, guarantor: Guarantor | None = None,
                expires_at: dt.datetime | None = None) -> OutboxMessage:
    return _queued(OutboxMessage.create(
        channel="email", recipient=to, subject=subject, body=body, purpose=purpose, guarantor=guarantor,
        expires_at=expires_at,
    ))


def queue_sms(to: str, body: str, *, purpose: str, guarantor: Guarantor | None = None,
              expires_at: dt.datetime | None = None) -> OutboxMessage:
    return _queued(OutboxMessage.create(channel="sms", recipient=to, body=body, purpose=purpose, guarantor=guarantor,
                                      expires_at=expires_at))


def _smtp(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname or "localhost", parts.port or 465, timeout=SEND_TIMEOUT)
    else:
        server = smtplib.SMTP(parts.hostname or "localhost", parts.port or 25, timeout=SEND_TIMEOUT)
        if parts.scheme == "smtp+starttls":
            server.starttls(context=ssl.create_default_context())
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def _record(message: OutboxMessage, error: str | None) -> bool:
    """Note one try: sent, or the error and when to try next (`failed` after MAX_TRIES)."""
    now = clock.now()
    if error is None:
        OutboxMessage.update(status=OutboxMessage.SENT, sent_at=now, error="", attempts=message.attempts + 1,
                             next_attempt_at=None).where(OutboxMessage.id == message.id).execute()
        return True
    tries = message.attempts + 1
    if tries >= OutboxMessage.MAX_TRIES:
        change = {"status": OutboxMessage.FAILED, "next_attempt_at": None}
    else:
        change = {"next_attempt_at": _texting_hours(message, now + OutboxMessage.RETRY_AFTER[tries - 1])}
    OutboxMessage.update(error=error[:300], attempts=tries, **change).where(OutboxMessage.id == message.id).execute()
    if change["next_attempt_at"] is not None:
        queue.defer_message(message.id, at=change["next_attempt_at"])
    return False


AUTOMATIC = ("reminder", "plan_")  # purposes of automatic texts: they go out only 8:00-21:00, retries too


def _texting_hours(message: OutboxMessage, at: dt.datetime) -> dt.datetime:
    """When a retry may go: as planned, or for an automatic text the next 8:00-21:00 in its group's zone."""
    if message.channel != OutboxMessage.SMS or not message.purpose.startswith(AUTOMATIC) or message.guarantor_id is None:
        return at
    zone = Guarantor.get_by_id(message.guarantor_id).group.timezone
    return next_text_time(at.astimezone(ZoneInfo(zone))).astimezone(dt.timezone.utc)


def expire_codes() -> int:
    """Unsent messages whose code has expired become `expired`: a code is never sent too late."""
    return OutboxMessage.update(status=OutboxMessage.EXPIRED, next_attempt_at=None).where(
        (OutboxMessage.status == OutboxMessage.OUTBOX) & OutboxMessage.expires_at.is_null(False)
        & (OutboxMessage.expires_at <= clock.now())
    ).execute()


def due(channel: str) -> list[OutboxMessage]:
    """Unsent messages on `channel` whose next try is due, oldest first."""
    return list(OutboxMessage.select().where(
        (OutboxMessage.channel == channel) & (OutboxMessage.status == OutboxMessage.OUTBOX)
        & (OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= clock.now()))
    ).order_by(OutboxMessage.id))


def _is_due():
    return (OutboxMessage.status == OutboxMessage.OUTBOX) & (
        OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= clock.now()))


@contextlib.contextmanager
def _claimed(message_id: int):
    """The message, read again, if it is still due and no other sender holds it; else None.

    PostgreSQL: the row stays locked (FOR UPDATE SKIP LOCKED) until its try is recorded, so
    two workers never send the same message. SQLite has one sender at a time (the runner's
    lease) and no transaction is held open across the send.
    """
    query = OutboxMessage.select().where((OutboxMessage.id == message_id) & _is_due())
    if not database.for_update:
        yield query.get_or_none()
        return
    with database.atomic():
        yield query.for_update(skip_locked=True).get_or_none()


def _still_good(message: OutboxMessage) -> bool:
    if message.expires_at is not None and message.expires_at <= clock.now():
        OutboxMessage.update(status=OutboxMessage.EXPIRED, next_attempt_at=None).where(
            OutboxMessage.id == message.id).execute()
        return False
    return True


def _send_sms(settings: Settings, message: OutboxMessage) -> str | None:
    """One SMS through the provider adapter; None when it was accepted, else the reason."""
    request = urllib.request.Request(
        settings.sms_url,
        data=json.dumps({"to": message.recipient, "body": message.body}).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": message_key(message),
                 **({"Authorization": f"Bearer {settings.sms_token}"} if settings.sms_token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            return None if 200 <= response.status < 300 else f"SMS provider answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"SMS provider answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"SMS provider unreachable: {exc}"


def message_key(message: OutboxMessage) -> str:
    """The message's own name, the same on every try: a resend after a crash carries the same Message-ID."""
    return f"pops-outbox-{message.id}-{message.created_at:%Y%m%d%H%M%S}"


def deliver_one(settings: Settings, message_id: int) -> bool:
    """The queue's job for one message: send it if it is still unsent and due; True when it went out.

    A failed try is recorded with its next try, whose job is deferred in the same transaction.
    """
    with _claimed(message_id) as message:
        if message is None or not _still_good(message):
            return False
        if message.channel == OutboxMessage.SMS:
            if not settings.sms_url:
                return False
            error = _send_sms(settings, message)
        elif not settings.smtp_url:
            return False
        else:
            try:
                with _smtp(settings.smtp_url) as server:
                    error = _send_email(server, settings, message)
            except (OSError, smtplib.SMTPException) as exc:
                error = str(exc) or type(exc).__name__
        crash.point(crash.AFTER_SEND)
        return _record(message, error)


def sweep(settings: Settings) -> int:
    """Expire codes too late to send, and give every unsent message that has no job one (PostgreSQL).

    Messages wait without a job only when their channel is not set up, or after an upgrade;
    returns how many jobs were queued.
    """
    expire_codes()
    channels = [c for c, url in ((OutboxMessage.EMAIL, settings.smtp_url), (OutboxMessage.SMS, settings.sms_url)) if url]
    if not queue.active() or not channels:
        return 0
    waiting = OutboxMessage.select(OutboxMessage.id, OutboxMessage.next_attempt_at).where(
        (OutboxMessage.status == OutboxMessage.OUTBOX) & OutboxMessage.channel.in_(channels)
        & ~queue.has_job(OutboxMessage.id))
    count = 0
    for message in waiting:
        queue.defer_message(message.id, at=message.next_attempt_at)
        count += 1
    return count


def deliver(settings: Settings) -> int:
    """Send what is due (a job's work, never a request's); returns how many went out.

    Email needs POPS_SMTP_URL and SMS POPS_SMS_URL; without them the messages stay in the outbox.
    A failure is recorded on the message with its next try; it never undoes what caused the message.
    """
    expire_codes()
    sent = 0
    if settings.sms_url:
        for queued in due(OutboxMessage.SMS):
            with _claimed(queued.id) as message:
                if message is not None and _still_good(message):
                    sent += _record(message, _send_sms(settings, message))
    return sent + _deliver_email(settings)


def _deliver_email(settings: Settings) -> int:
    if not settings.smtp_url:
        return 0
    messages = due(OutboxMessage.EMAIL)
    if not messages:
        return 0
    sent = 0
    try:
        server = _smtp(settings.smtp_url)
    except (OSError, smtplib.SMTPException) as exc:
        for queued in messages:
            with _claimed(queued.id) as message:
                if message is not None:
                    _record(message, str(exc) or type(exc).__name__)
        return 0
    with server:
        for queued in messages:
            with _claimed(queued.id) as message:
                if message is None or not _still_good(message):
                    continue
                sent += _record(message, _send_email(server, settings, message))
    return sent


def _send_email(server: smtplib.SMTP, settings: Settings, message: OutboxMessage) -> str | None:
    """One email over an open SMTP connection; None when the server took it, else the reason."""
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message_key(message)}@{urlsplit(settings.base_url).hostname or 'pops.invalid'}>"
    email.set_content(message.body)
    try:
        server.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        return str(exc) or type(exc).__name__
    return None


def retry(message: OutboxMessage) -> bool:
    """Put a failed message back in the outbox for a fresh round of tries; False if it had not failed."""
    if not OutboxMessage.update(status=OutboxMessage.OUTBOX, attempts=0, next_attempt_at=None).where(
        (OutboxMessage.id == message.id) & (OutboxMessage.status == OutboxMessage.FAILED)
    ).execute():
        return False
    queue.defer_message(message.id)
    return True
