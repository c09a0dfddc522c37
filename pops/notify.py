"""Messages to patients: every SMS and email goes to the outbox first, then out when POPS can send.

Email goes over SMTP when POPS_SMTP_URL is set. SMS goes through the provider adapter when
POPS_SMS_URL is set: a JSON POST {"to": "+1...", "body": "..."} with POPS_SMS_TOKEN as a bearer
token, which a small relay turns into the provider's own API call. Without them, messages stay
in the outbox (where staff, the demo and the tests read them). Queue inside the unit of work
that caused the message; deliver after it commits.
"""
from __future__ import annotations

import json
import smtplib
import ssl
import sys
import urllib.error
import urllib.request
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


def _record(message: OutboxMessage, error: str | None) -> bool:
    if error is None:
        OutboxMessage.update(status="sent", sent_at=clock.now(), error="").where(OutboxMessage.id == message.id).execute()
        return True
    OutboxMessage.update(error=error[:300]).where(OutboxMessage.id == message.id).execute()
    return False


def _send_sms(settings: Settings, message: OutboxMessage) -> str | None:
    """One SMS through the provider adapter; None when it was accepted, else the reason."""
    request = urllib.request.Request(
        settings.sms_url,
        data=json.dumps({"to": message.recipient, "body": message.body}).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {settings.sms_token}"} if settings.sms_token else {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return None if 200 <= response.status < 300 else f"SMS provider answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"SMS provider answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"SMS provider unreachable: {exc}"


def deliver(settings: Settings, messages: list[OutboxMessage] | None = None) -> int:
    """Send what is queued (all of it, or just `messages`); returns how many went out.

    Email needs POPS_SMTP_URL and SMS POPS_SMS_URL; without them the messages stay in the outbox.
    A failure is recorded on the message and left for the next try; it never undoes what caused
    the message.
    """
    sent = 0
    if settings.sms_url:
        texts = messages if messages is not None else list(
            OutboxMessage.select()
            .where((OutboxMessage.channel == "sms") & (OutboxMessage.status == "outbox"))
            .order_by(OutboxMessage.id)
        )
        for message in texts:
            if message.channel == "sms" and message.status == "outbox":
                sent += _record(message, _send_sms(settings, message))
    return sent + _deliver_email(settings, messages)


def _deliver_email(settings: Settings, messages: list[OutboxMessage] | None) -> int:
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
                _record(message, str(exc))
                continue
            sent += _record(message, None)
    return sent
