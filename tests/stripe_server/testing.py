"""What the Stripe test server's own tests share: fixtures (import them by name), a webhook endpoint,
a plain HTTP fetch, and a Checkout Session's parameters as POPS sends them."""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

import pytest
import stripe

from .server import StripeServer

CARD_OK, CARD_DECLINED, CARD_NO_FUNDS, CARD_3DS = ("4242 4242 4242 4242", "4000 0000 0000 0002",
                                                  "4000 0000 0000 9995", "4000 0027 6000 3184")


@pytest.fixture
def server():
    with StripeServer() as running:
        yield running


@pytest.fixture
def client(server):
    return server.client()


class Endpoint:
    """A real webhook endpoint: records each delivery (body, headers), answers the next statuses."""

    def __init__(self):
        self.received: list[tuple[bytes, dict]] = []
        self.statuses: list[int] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append((body, dict(self.headers)))
                self.send_response(endpoint.statuses.pop(0) if endpoint.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/stripe"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def endpoint(server):
    receiver = Endpoint()
    server.webhook_url = receiver.url
    yield receiver
    receiver.close()


def session_params(server, amount=1234, **extra) -> dict:
    params = {
        "mode": "payment",
        "payment_method_types": ["card"],
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": amount,
                                       "product_data": {"name": "Payment to West Clinic, account 1001"}},
                        "quantity": 1}],
        "client_reference_id": "attempt-key-1",
        "metadata": {"attempt": "17", "practice": "WEST", "account": "1001"},
        "payment_intent_data": {"metadata": {"attempt": "17", "practice": "WEST", "account": "1001"}},
        "expires_at": server.now() + 31 * 60,
        "locale": "es",
        "success_url": "http://pops.test/pay/return?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://pops.test/pay/cancel",
    }
    params.update(extra)
    return params


def fetch(method: str, url: str, form: dict | None = None, headers: dict | None = None):
    """One plain HTTP request, redirects not followed: (status, headers, text)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = urlencode(form).encode() if form is not None else None
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, all_headers)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read().decode()
    finally:
        connection.close()


def type_events(server) -> list[str]:
    return [e["type"] for e in server.events()]


def verified(server, body: bytes, headers: dict):
    """The event as POPS would read it: stripe.Webhook.construct_event with the endpoint's secret."""
    return stripe.Webhook.construct_event(body, headers["Stripe-Signature"], server.webhook_secret, tolerance=300)


def paid_intent(server, client, amount=5000) -> str:
    session = client.v1.checkout.sessions.create(params=session_params(server, amount=amount))
    server.pay_session(session.id, CARD_OK)
    return client.v1.checkout.sessions.retrieve(session.id).payment_intent
