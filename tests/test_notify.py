"""The outbox: every message is kept; email goes out over a real SMTP conversation when configured."""
from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading

import pytest

from pops import clock, notify
from pops.models import OutboxMessage
from pops.settings import Settings

from smtp_helpers import smtp_server as local_smtp_server


@pytest.fixture
def smtp_server():
    with local_smtp_server() as server:
        yield server


def _settings(smtp_url=None):
    return Settings(secret_key="s" * 40, smtp_url=smtp_url, mail_from="Billing <billing@example.org>")


def test_without_smtp_messages_stay_in_the_outbox(guarantor):
    notify.queue_email("maria@example.org", "Your receipt", "Thank you", purpose="receipt", guarantor=guarantor)
    notify.queue_sms("+15555550123", "Your code is 123456", purpose="sign_in", guarantor=guarantor)
    assert notify.deliver(_settings()) == 0
    assert [m.status for m in OutboxMessage.select().order_by(OutboxMessage.id)] == ["outbox", "outbox"]


def test_email_goes_out_over_smtp_and_sms_stays(guarantor, smtp_server):
    host, port = smtp_server.server_address
    notify.queue_email("maria@example.org", "Your receipt", "Receipt POPS-000001\n$25.00", purpose="receipt")
    notify.queue_sms("+15555550123", "Pay here", purpose="balance")
    assert notify.deliver(_settings(f"smtp://{host}:{port}")) == 1
    [mail] = smtp_server.received
    assert "maria@example.org" in mail["rcpt"][0]
    assert "Subject: Your receipt" in mail["data"] and "Receipt POPS-000001" in mail["data"]
    assert "From: Billing <billing@example.org>" in mail["data"]
    email, sms = OutboxMessage.select().order_by(OutboxMessage.id)
    assert email.status == "sent" and email.sent_at is not None
    assert sms.status == "outbox"
    assert notify.deliver(_settings(f"smtp://{host}:{port}")) == 0  # nothing sent twice


def test_an_unreachable_smtp_server_keeps_the_message_for_later(guarantor):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    notify.queue_email("maria@example.org", "Your receipt", "Thank you", purpose="receipt")
    assert notify.deliver(_settings(f"smtp://127.0.0.1:{port}")) == 0
    message = OutboxMessage.get()
    assert message.status == "outbox" and message.error and message.attempts == 1
    assert message.next_attempt_at == clock.now() + dt.timedelta(minutes=1)


def test_the_demo_prints_each_queued_message(guarantor, monkeypatch, capsys):
    monkeypatch.setattr(notify, "ECHO", True)
    notify.queue_sms("+15555550123", "123456 is your sign-in code.", purpose="sign_in", guarantor=guarantor)
    assert "[outbox] SMS to +15555550123: 123456 is your sign-in code." in capsys.readouterr().err
    monkeypatch.setattr(notify, "ECHO", False)
    notify.queue_sms("+15555550123", "654321 is your sign-in code.", purpose="sign_in", guarantor=guarantor)
    assert capsys.readouterr().err == ""


class _ProviderHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.headers.get("Authorization"), body))
        status = 503 if body["to"] == "+15555550999" else 202
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sms_provider():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProviderHandler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_sms_goes_through_the_provider_adapter_and_a_refusal_waits_for_the_next_try(guarantor, sms_provider):
    host, port = sms_provider.server_address
    settings = Settings(secret_key="s" * 40, sms_url=f"http://{host}:{port}/sms", sms_token="tok-123")
    notify.queue_sms("+15555550123", "123456 is your sign-in code.", purpose="sign_in", guarantor=guarantor)
    notify.queue_sms("+15555550999", "Pay here", purpose="balance")
    notify.queue_email("maria@example.org", "Receipt", "Thanks", purpose="receipt")  # no SMTP: stays
    assert notify.deliver(settings) == 1
    assert sms_provider.received[0] == ("Bearer tok-123", {"to": "+15555550123", "body": "123456 is your sign-in code."})
    ok, refused, email = OutboxMessage.select().order_by(OutboxMessage.id)
    assert ok.status == "sent" and ok.sent_at is not None
    assert refused.status == "outbox" and refused.error == "SMS provider answered 503"
    assert email.status == "outbox"
    assert notify.deliver(settings) == 0 and len(sms_provider.received) == 2  # the refused one waits a minute
    clock.advance(minutes=1)
    assert notify.deliver(settings) == 0 and len(sms_provider.received) == 3  # only the refused one again


def test_settings_read_the_sms_adapter_from_the_environment():
    settings = Settings.from_env({"POPS_SMS_URL": "https://relay.example.org/sms", "POPS_SMS_TOKEN": "t"})
    assert (settings.sms_url, settings.sms_token) == ("https://relay.example.org/sms", "t")
    assert Settings.from_env({}).sms_url is None
