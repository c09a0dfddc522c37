"""Sign-in codes still go to a number that replied STOP (issue 16); when the SMS provider refuses the text,
the code page says so, tells the patient to reply START and offers another way (email)."""
from __future__ import annotations

import http.server
import json
import re
import threading

import pytest

from pops import notify
from pops.models import Guarantor, OutboxMessage
from pops.settings import Settings
from pops.texts.numbers import Reply, receive

from http_helpers import post_form


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A provider that refuses any text to an unsubscribed number, as Twilio does (error 21610)."""

    def do_POST(self):  # noqa: N802 (the standard library's name)
        json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_code_goes_to_an_opted_out_number_and_a_refusal_offers_email(client, guarantor, provider):
    receive(Reply("+15555550123", "", "STOP"))
    assert Guarantor.get_by_id(guarantor.id).sms_opt_out
    post_form(client, "/login", {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "1981-04-12"})
    assert post_form(client, "/login/send", {"destination": "0:sms"}).headers["location"] == "/login/code"
    code = OutboxMessage.get(OutboxMessage.purpose == "sign_in")
    assert code.channel == "sms" and code.recipient == "+15555550123"  # a code is not a notification
    page = client.get("/login/code").text
    assert 'data-testid="text-refused"' not in page  # not tried yet
    host, port = provider.server_address
    notify.deliver(Settings(secret_key="s" * 40, sms_url=f"http://{host}:{port}/sms"))
    page = client.get("/login/code").text
    refused = page[page.index('data-testid="text-refused"'):]
    assert "reply START" in refused and 'href="/login/send"' in refused
    assert re.search(r"Get your code by email instead", refused)
