"""Messages to patients: every SMS and email goes to the outbox first, then out when POPS can send.

Email goes over SMTP when POPS_SMTP_URL is set; SMS needs a provider adapter, and none is
configured yet, so SMS stays in the outbox (where staff, the demo and the tests read it).
Queue inside the unit of work that caused the message; deliver after it commits.
"""
from __future__ import annotations

import smtplib
import ssl
import sys
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from . import clock
from .models import Guarantor, OutboxMessage
from .settings import Settings


# `pops demo` turns this on: each queued message is also printed, so a sign-in code can be read
# in the terminal (the staff console's Outbox shows them too).
ECHO = False


def _echo(message: OutboxMessage) -> OutboxMessage:
    if ECHO:
        head = f"{message.channel.upper()} to {message.recipient}"
        if message.subject:
            head += f" ({message.subject})"
        print(f"[outbox] {head}: {message.body.strip()}", file=sys.stderr, flush=True)
    return message


def queue_email(to: str, subject: str, body: str, *, purpose: str, guarantor: Guarantor | None = None) -> OutboxMessage:
    return _echo(OutboxMessage.create(
        channel="email", recipient=to, subject=subject, body=body, purpose=purpose, guarantor=guarantor
    ))


def queue_sms(to: str, body: str, *, purpose: str, guarantor: Guarantor | None = None) -> OutboxMessage:
    return _echo(OutboxMessage.create(channel="sms", recipient=to, body=body, purpose=purpose, guarantor=guarantor))


def _smtp(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname or "localhost", parts.port or 465, timeout=10)
    else:
        server = smtplib.SMTP(parts.hostname or "localhost", parts.port or 25, timeout=10)
        if parts.scheme == "smtp+starttls":
            server.starttls(context=ssl.create_default_context())
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def deliver(settings: Settings, messages: list[OutboxMessage] | None = None) -> int:
    """Send queued email over SMTP (all queued, or just `messages`); returns how many went out.

    Without POPS_SMTP_URL nothing is sent and the messages stay in the outbox. A failure is
    recorded on the message and left for the next try; it never undoes what caused the message.
    """
    if not settings.smtp_url:
        return 0
    if messages is None:
        messages = list(
            OutboxMessage.select()
            .where((OutboxMessage.channel == "email") & (OutboxMessage.status == "outbox"))
            .order_by(OutboxMessage.id)
        )
    messages = [m for m in messages if m.channel == "email" and m.status == "outbox"]
    if not messages:
        return 0
    sent = 0
    try:
        server = _smtp(settings.smtp_url)
    except (OSError, smtplib.SMTPException) as exc:
        for message in messages:
            OutboxMessage.update(error=str(exc)[:300]).where(OutboxMessage.id == message.id).execute()
        return 0
    with server:
        for message in messages:
            email = EmailMessage()
            email["From"] = settings.mail_from
            email["To"] = message.recipient
            email["Subject"] = message.subject
            email.set_content(message.body)
            try:
                server.send_message(email)
            except (OSError, smtplib.SMTPException) as exc:
                OutboxMessage.update(error=str(exc)[:300]).where(OutboxMessage.id == message.id).execute()
                continue
            OutboxMessage.update(status="sent", sent_at=clock.now(), error="").where(
                OutboxMessage.id == message.id
            ).execute()
            sent += 1
    return sent
