"""The Stripe-compatible test server, driven by the official `stripe` library and over plain HTTP."""
from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import stripe

from tests.stripe_server import StripeServer
from tests.stripe_server.objects import template
from tests.stripe_server.wire import StripeError, parse_form

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


# --- the wire format -------------------------------------------------------------------------------

def test_bracket_notation_decodes_nested_hashes_lists_and_metadata():
    raw = urlencode([
        ("line_items[0][price_data][currency]", "usd"), ("line_items[0][price_data][unit_amount]", "500"),
        ("line_items[0][price_data][product_data][name]", "Visit"), ("line_items[0][quantity]", "1"),
        ("line_items[1][quantity]", "2"), ("metadata[attempt]", "9"), ("metadata[note]", "a&b=c"),
        ("expand[]", "payment_intent"), ("expand[]", "customer"), ("payment_method_types[0]", "card"),
        ("confirm", "true"),
    ])
    assert parse_form(raw) == {
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": "500", "product_data": {"name": "Visit"}},
                        "quantity": "1"}, {"quantity": "2"}],
        "metadata": {"attempt": "9", "note": "a&b=c"},
        "expand": ["payment_intent", "customer"],
        "payment_method_types": ["card"],
        "confirm": "true",
    }
    assert parse_form("items[10]=b&items[2]=a") == {"items": ["a", "b"]}  # index order, not text order


@pytest.mark.parametrize("raw", ["a[b]=1&a=2", "a=1&a[b]=2", "a]b=1", "[x]=1"])
def test_bracket_notation_refuses_shapes_stripe_refuses(raw):
    with pytest.raises(StripeError) as caught:
        parse_form(raw)
    assert caught.value.status == 400 and caught.value.body["type"] == "invalid_request_error"


def test_the_library_sends_brackets_and_the_session_keeps_what_it_was_given(server, client):
    session = client.v1.checkout.sessions.create(params=session_params(server))
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert session.url == f"{server.checkout_origin}/c/pay/{session.id}"
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert (session.amount_total, session.currency, session.locale) == (1234, "usd", "es")
    assert session.client_reference_id == "attempt-key-1"
    assert session.metadata.to_dict() == {"attempt": "17", "practice": "WEST", "account": "1001"}
    assert session.payment_intent is None  # created when the patient pays, as Stripe does today
    # Shaped as Stripe's published example: every field of the fixture is there.
    assert set(template("checkout.session")) <= set(session.to_dict())
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert again.to_dict() == session.to_dict()


# --- authentication and errors ---------------------------------------------------------------------

def test_a_wrong_or_missing_key_is_a_401_error_object(server):
    wrong = stripe.StripeClient("sk_test_wrong", base_addresses={"api": server.api_url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as caught:
        wrong.v1.customers.create()
    assert caught.value.http_status == 401 and "Invalid API Key" in caught.value.user_message
    status, _, text = fetch("POST", f"{server.api_url}/v1/customers", {})
    assert status == 401 and json.loads(text)["error"]["type"] == "invalid_request_error"
    assert server.objects("customer") == []


def test_basic_auth_with_the_secret_key_is_accepted(server):
    import base64

    token = base64.b64encode(f"{server.api_key}:".encode()).decode()
    status, headers, text = fetch("POST", f"{server.api_url}/v1/customers", {"email": "a@example.com"},
                                  {"Authorization": f"Basic {token}"})
    assert status == 200 and json.loads(text)["email"] == "a@example.com"
    assert headers["Request-Id"].startswith("req_")


def test_amounts_under_fifty_cents_are_refused_with_amount_too_small(server, client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(server, amount=49))
    assert caught.value.code == "amount_too_small"
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create(params={"amount": 49, "currency": "usd", "customer": customer.id})
    assert (caught.value.code, caught.value.param) == ("amount_too_small", "amount")
    assert server.objects("checkout.session") == [] and server.objects("payment_intent") == []
    assert client.v1.checkout.sessions.create(params=session_params(server, amount=50)).amount_total == 50


def test_invalid_parameters_name_their_param(server, client):
    params = session_params(server)
    del params["line_items"][0]["price_data"]["unit_amount"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    assert caught.value.param == "line_items[0][price_data][unit_amount]"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert caught.value.http_status == 404 and caught.value.code == "resource_missing"


@pytest.mark.parametrize("offset, message", [(-60, "at least 30 minutes"), (29 * 60, "at least 30 minutes"),
                                             (24 * 3600 + 1, "less than 24 hours")])
def test_expires_at_must_be_30_minutes_to_24_hours_ahead(server, client, offset, message):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(server, expires_at=server.now() + offset))
    assert caught.value.param == "expires_at" and message in caught.value.user_message
    assert server.objects("checkout.session") == []


def test_rate_limit_answers_429_once(server, client):
    server.rate_limit_next()
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.customers.create()
    assert caught.value.http_status == 429 and caught.value.error.code == "rate_limit"
    assert server.objects("customer") == []
    assert client.v1.customers.create().id.startswith("cus_")


# --- idempotency and lost answers ------------------------------------------------------------------

def test_the_same_key_and_parameters_replay_the_first_answer(server, client):
    params = session_params(server)
    first = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    server.advance(120)  # a replay two minutes later: expires_at is now under 30 minutes ahead, yet replayed
    again = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(server.objects("checkout.session")) == 1


def test_the_same_key_with_other_parameters_is_an_idempotency_error(server, client):
    params = session_params(server)
    client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.checkout.sessions.create(params={**params, "client_reference_id": "other"},
                                           options={"idempotency_key": "attempt-1"})
    assert caught.value.http_status == 400 and "attempt-1" in caught.value.user_message
    assert len(server.objects("checkout.session")) == 1


def test_a_500_on_create_creates_nothing_and_its_replay_is_the_same_500(server, client):
    server.fail_next("checkout.session")
    params = session_params(server)
    for _ in range(2):
        with pytest.raises(stripe.APIError) as caught:
            client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
        assert caught.value.http_status == 500
    assert server.objects("checkout.session") == []
    # A new attempt has a new key: it runs.
    assert client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-2"}).id


def test_a_500_that_was_not_saved_runs_anew_on_retry(server, client):
    server.fail_next("checkout.session", replayed=False)
    params = session_params(server)
    with pytest.raises(stripe.APIError):
        client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    session = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    assert "Idempotent-Replayed" not in session.last_response.headers
    assert [s["id"] for s in server.objects("checkout.session")] == [session.id]


def test_a_create_never_answered_is_created_and_its_replay_returns_it(server, client):
    server.drop_next("checkout.session")
    params = session_params(server)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    [created] = server.objects("checkout.session")
    replay = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    assert replay.id == created["id"] and replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert server.requests[0]["status"] == 0


def test_a_create_lost_on_the_way_did_nothing_and_a_late_replay_is_refused_for_expires_at(server, client):
    server.drop_next("checkout.session", created=False)
    params = session_params(server)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    assert server.objects("checkout.session") == []
    server.advance(120)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "attempt-1"})
    assert caught.value.param == "expires_at"
    assert server.objects("checkout.session") == []


def test_a_card_error_is_saved_and_replayed(server, client):
    customer = client.v1.customers.create()
    card = server.store_card(customer.id, CARD_DECLINED)
    params = {"amount": 2500, "currency": "usd", "customer": customer.id, "payment_method": card,
              "confirm": True, "off_session": True, "metadata": {"attempt": "3"}}
    for replayed in (False, True):
        with pytest.raises(stripe.CardError) as caught:
            client.v1.payment_intents.create(params=params, options={"idempotency_key": "charge-3"})
        assert (caught.value.code, caught.value.error.decline_code) == ("card_declined", "generic_decline")
        assert caught.value.error.payment_intent.status == "requires_payment_method"
        assert (caught.value.headers.get("Idempotent-Replayed") == "true") is replayed
    assert len(server.objects("payment_intent")) == 1 and server.charges() == []


# --- webhooks --------------------------------------------------------------------------------------

def verified(server, body: bytes, headers: dict):
    """The event as POPS would read it: stripe.Webhook.construct_event with the endpoint's secret."""
    return stripe.Webhook.construct_event(body, headers["Stripe-Signature"], server.webhook_secret, tolerance=300)


def test_events_are_delivered_right_away_signed_as_stripe_signs(server, client, endpoint):
    session = client.v1.checkout.sessions.create(params=session_params(server))
    server.pay_session(session.id, CARD_DECLINED)
    server.pay_session(session.id, CARD_OK)
    assert server.wait_for_webhooks()
    events = [verified(server, body, headers) for body, headers in endpoint.received]
    assert [e.type for e in events] == ["payment_intent.payment_failed", "payment_intent.succeeded",
                                        "checkout.session.completed"]
    completed = events[-1].data.object
    assert (completed.id, completed.payment_status, completed.client_reference_id) == (
        session.id, "paid", "attempt-key-1")
    failed = events[0].data.object
    assert failed.metadata.to_dict() == {"attempt": "17", "practice": "WEST", "account": "1001"}
    assert failed.last_payment_error.decline_code == "generic_decline"
    header = endpoint.received[0][1]["Stripe-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    # The event can be fetched back from the API, as a handler may do.
    assert client.v1.events.retrieve(events[-1].id).type == "checkout.session.completed"


def test_a_failed_delivery_is_retried(server, client, endpoint):
    endpoint.statuses = [500, 503]
    client.v1.checkout.sessions.expire(client.v1.checkout.sessions.create(params=session_params(server)).id)
    assert server.wait_for_webhooks()
    assert [d["status"] for d in server.webhooks.deliveries] == [500, 503, 200]
    assert len(endpoint.received) == 3 and len({body for body, _ in endpoint.received}) == 1


def test_a_stale_forged_or_tampered_signature_fails_construct_event(server, client, endpoint):
    server.hold_events()
    client.v1.checkout.sessions.expire(client.v1.checkout.sessions.create(params=session_params(server)).id)
    [event] = server.held_events
    assert server.send_event(event["id"], timestamp=int(time.time()) - 301) == 200
    assert server.send_event(event["id"], secret="whsec_forged") == 200
    assert server.send_event(event["id"], payload=b'{"id": "evt_other"}') == 200
    for body, headers in endpoint.received:
        with pytest.raises(stripe.SignatureVerificationError):
            verified(server, body, headers)
    assert server.send_event(event["id"]) == 200
    assert verified(server, *endpoint.received[-1]).id == event["id"]


def test_held_events_are_released_late_out_of_order_and_twice(server, client, endpoint):
    server.hold_events()
    session = client.v1.checkout.sessions.create(params=session_params(server))
    server.pay_session(session.id)
    client.v1.refunds.create(params={"payment_intent": client.v1.checkout.sessions.retrieve(session.id).payment_intent})
    assert endpoint.received == []
    held = [e["type"] for e in server.held_events]
    assert held == ["payment_intent.succeeded", "checkout.session.completed", "refund.created", "charge.refunded"]
    assert server.release_events(order=[3, 1], twice=True) == [200, 200, 200, 200]
    assert [verified(server, *r).type for r in endpoint.received] == [
        "charge.refunded", "charge.refunded", "checkout.session.completed", "checkout.session.completed"]
    # Released: new events go out at once again.
    client.v1.checkout.sessions.expire(client.v1.checkout.sessions.create(params=session_params(server)).id)
    assert server.wait_for_webhooks()
    assert verified(server, *endpoint.received[-1]).type == "checkout.session.expired"


def test_a_callable_endpoint_receives_the_raw_body_and_headers(server, client):
    received = []
    server.webhook_url = lambda body, headers: received.append(verified(server, body, headers).type) or 200
    session = client.v1.checkout.sessions.create(params=session_params(server))
    client.v1.checkout.sessions.expire(session.id)
    assert server.wait_for_webhooks()
    assert received == ["checkout.session.expired"]


# --- the hosted Checkout page ----------------------------------------------------------------------

def test_the_hosted_page_declines_then_approves_and_redirects_to_success_url(server, client):
    session = client.v1.checkout.sessions.create(params=session_params(server))
    status, _, page = fetch("GET", session.url)
    assert status == 200 and "$12.34" in page and "Payment to West Clinic, account 1001" in page
    assert 'href="http://pops.test/pay/cancel"' in page and "TEST MODE" in page
    status, _, page = fetch("POST", session.url, {"number": CARD_NO_FUNDS, "expiry": "12 / 34", "cvc": "123"})
    assert status == 402 and "Your card has insufficient funds." in page
    status, _, page = fetch("POST", session.url, {"number": CARD_DECLINED, "expiry": "12 / 34", "cvc": "123"})
    assert status == 402 and "Your card was declined." in page
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    status, headers, _ = fetch("POST", session.url, {"number": CARD_OK, "expiry": "12 / 34", "cvc": "123"})
    assert status == 303 and headers["Location"] == f"http://pops.test/pay/return?session_id={session.id}"
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent.latest_charge"]})
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.payment_intent.status == "succeeded" and paid.payment_intent.latest_charge.amount == 1234
    assert paid.payment_intent.metadata.to_dict() == {"attempt": "17", "practice": "WEST", "account": "1001"}
    assert type_events(server).count("payment_intent.payment_failed") == 2
    assert len(server.charges()) == 1 and len(server.charges("failed")) == 2
    # Back on the page after paying: sent on to the success URL, never charged twice.
    status, headers, _ = fetch("GET", session.url)
    assert status == 303 and len(server.charges()) == 1


@pytest.mark.parametrize("form, field", [({"number": "4242 4242 4242 4241", "expiry": "12/34", "cvc": "123"},
                                          "number-error"),
                                         ({"number": CARD_OK, "expiry": "01/20", "cvc": "123"}, "expiry-error"),
                                         ({"number": CARD_OK, "expiry": "12/34", "cvc": ""}, "cvc-error")])
def test_the_hosted_page_refuses_a_mistyped_card_and_charges_nothing(server, client, form, field):
    session = client.v1.checkout.sessions.create(params=session_params(server))
    status, _, page = fetch("POST", session.url, form)
    assert status == 422 and f'id="{field}"' in page and "4242 4242" not in page
    assert server.objects("payment_intent") == [] and server.events() == []


def test_an_expired_session_page_says_so_and_cannot_be_paid(server, client):
    session = client.v1.checkout.sessions.create(params=session_params(server))
    server.advance(31 * 60)
    assert type_events(server) == ["checkout.session.expired"]
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    status, _, page = fetch("POST", session.url, {"number": CARD_OK, "expiry": "12/34", "cvc": "123"})
    assert status == 410 and "expired" in page and server.charges() == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)


# --- stored cards and 3-D Secure -------------------------------------------------------------------

def test_a_card_saved_on_checkout_is_attached_to_the_customer_and_can_be_detached(server, client):
    customer = client.v1.customers.create(params={"email": "pat@example.com", "metadata": {"guarantor": "7"}})
    params = session_params(server, customer=customer.id,
                            payment_intent_data={"metadata": {"attempt": "1"}, "setup_future_usage": "off_session"})
    session = client.v1.checkout.sessions.create(params=params)
    status, _, page = fetch("GET", session.url)
    assert 'id=save-card' in page
    assert server.pay_session(session.id, CARD_OK)["paid"]
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent,
        params={"expand": ["customer", "payment_method", "latest_charge"]})
    assert intent.setup_future_usage == "off_session" and intent.customer.email == "pat@example.com"
    assert intent.payment_method.card.last4 == "4242" and intent.latest_charge.paid
    methods = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [m.id for m in methods.data] == [intent.payment_method.id]
    assert client.v1.customers.payment_methods.list(customer.id).data[0].card.brand == "visa"
    client.v1.payment_methods.detach(intent.payment_method.id)
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.detach(intent.payment_method.id)


def test_a_session_without_setup_future_usage_saves_no_card(server, client):
    customer = client.v1.customers.create()
    session = client.v1.checkout.sessions.create(params=session_params(server, customer=customer.id))
    assert "save-card" not in fetch("GET", session.url)[2]
    server.pay_session(session.id, CARD_OK)
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []


def test_a_stored_card_is_charged_with_a_payment_intent(server, client):
    customer = client.v1.customers.create()
    card = server.store_card(customer.id, CARD_OK)
    intent = client.v1.payment_intents.create(params={
        "amount": 7000, "currency": "usd", "customer": customer.id, "payment_method": card, "confirm": True,
        "return_url": "http://pops.test/pay/card-return", "metadata": {"attempt": "5"}})
    assert intent.status == "succeeded" and intent.amount_received == 7000 and intent.id.startswith("pi_")
    assert client.v1.charges.retrieve(intent.latest_charge).payment_method_details.card.last4 == "4242"
    assert type_events(server) == ["payment_intent.succeeded"]


def test_3d_secure_on_a_stored_card_goes_through_the_bank_page_on_its_own_origin(server, client):
    customer = client.v1.customers.create()
    card = server.store_card(customer.id, CARD_3DS)
    intent = client.v1.payment_intents.create(params={
        "amount": 7000, "currency": "usd", "customer": customer.id, "payment_method": card, "confirm": True,
        "return_url": "http://pops.test/pay/card-return?key=abc"})
    assert intent.status == "requires_action" and intent.next_action.type == "redirect_to_url"
    url = intent.next_action.redirect_to_url.url
    assert url.startswith(server.three_ds_origin + "/") and server.three_ds_origin != server.checkout_origin
    status, _, page = fetch("GET", url)
    assert status == 200 and "$70.00" in page and "Complete authentication" in page
    status, headers, _ = fetch("POST", url, {"action": "approve"})
    back = urlsplit(headers["Location"])
    assert status == 303 and back.netloc == "pops.test" and back.path == "/pay/card-return"
    assert parse_qs(back.query) == {"key": ["abc"], "payment_intent": [intent.id],
                                    "payment_intent_client_secret": [intent.client_secret],
                                    "redirect_status": ["succeeded"]}
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded" and len(server.charges()) == 1


def test_3d_secure_failed_leaves_the_payment_intent_unpaid(server, client):
    customer = client.v1.customers.create()
    card = server.store_card(customer.id, CARD_3DS)
    intent = client.v1.payment_intents.create(params={
        "amount": 7000, "currency": "usd", "customer": customer.id, "payment_method": card, "confirm": True,
        "return_url": "http://pops.test/back"})
    status, headers, _ = fetch("POST", intent.next_action.redirect_to_url.url, {"action": "fail"})
    assert status == 303 and "redirect_status=failed" in headers["Location"]
    again = client.v1.payment_intents.retrieve(intent.id)
    assert again.status == "requires_payment_method"
    assert again.last_payment_error.code == "payment_intent_authentication_failure"
    assert type_events(server) == ["payment_intent.payment_failed"] and server.charges() == []
    # The patient may confirm again with the card: the bank asks again.
    retried = client.v1.payment_intents.confirm(intent.id, params={"payment_method": card,
                                                                   "return_url": "http://pops.test/back"})
    assert retried.status == "requires_action"
    assert server.authenticate(intent.id).startswith("http://pops.test/back?")
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_off_session_with_a_3d_secure_card_is_authentication_required(server, client):
    customer = client.v1.customers.create()
    card = server.store_card(customer.id, CARD_3DS)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(params={"amount": 7000, "currency": "usd", "customer": customer.id,
                                                 "payment_method": card, "confirm": True, "off_session": True})
    assert caught.value.code == "authentication_required"
    assert caught.value.error.payment_intent.status == "requires_payment_method"


def test_a_card_of_another_customer_is_refused(server, client):
    mine, theirs = client.v1.customers.create(), client.v1.customers.create()
    card = server.store_card(theirs.id, CARD_OK)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create(params={"amount": 900, "currency": "usd", "customer": mine.id,
                                                 "payment_method": card, "confirm": True})
    assert caught.value.param == "payment_method" and server.charges() == []


# --- refunds and disputes --------------------------------------------------------------------------

def paid_intent(server, client, amount=5000) -> str:
    session = client.v1.checkout.sessions.create(params=session_params(server, amount=amount))
    server.pay_session(session.id, CARD_OK)
    return client.v1.checkout.sessions.retrieve(session.id).payment_intent


def test_refunds_partial_then_the_rest_then_none_left(server, client):
    intent = paid_intent(server, client)
    first = client.v1.refunds.create(params={"payment_intent": intent, "amount": 1500, "metadata": {"refund": "1"}},
                                     options={"idempotency_key": "refund-1"})
    assert (first.status, first.amount, first.metadata.to_dict()) == ("succeeded", 1500, {"refund": "1"})
    assert first.id.startswith("re_")
    replay = client.v1.refunds.create(params={"payment_intent": intent, "amount": 1500, "metadata": {"refund": "1"}},
                                      options={"idempotency_key": "refund-1"})
    assert replay.id == first.id and len(server.objects("refund")) == 1
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent, "amount": 3501})
    assert caught.value.param == "amount"
    charge = client.v1.charges.retrieve(client.v1.refunds.create(params={"charge": first.charge}).charge)
    assert charge.refunded and charge.amount_refunded == 5000
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent})
    assert caught.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list(params={"payment_intent": intent})
    assert [r.amount for r in listed.data] == [3500, 1500]
    assert client.v1.refunds.retrieve(first.id, params={"expand": ["charge"]}).charge.amount_refunded == 5000


def test_a_dashboard_refund_and_a_refund_that_fails_later_send_their_events(server, client, endpoint):
    intent = paid_intent(server, client)
    refund = server.dashboard_refund(intent, amount=2000)
    assert refund["metadata"] == {} and refund["status"] == "succeeded"
    server.fail_refund(refund["id"])
    assert server.wait_for_webhooks()
    events = [verified(server, *r) for r in endpoint.received][-4:]
    assert [e.type for e in events] == ["refund.created", "charge.refunded", "refund.updated", "refund.failed"]
    assert events[1].data.object.amount_refunded == 2000
    assert events[3].data.object.status == "failed" and events[3].data.object.failure_reason == "lost_or_stolen_card"
    assert events[2].data.previous_attributes.status == "succeeded"
    charge = client.v1.charges.retrieve(events[1].data.object.id)
    assert charge.amount_refunded == 0 and not charge.refunded


def test_a_dispute_opens_and_closes(server, client):
    intent = paid_intent(server, client)
    dispute = server.open_dispute(intent, reason="fraudulent")
    assert dispute["id"].startswith("dp_") and dispute["status"] == "needs_response" and dispute["amount"] == 5000
    fetched = client.v1.disputes.retrieve(dispute["id"], params={"expand": ["charge"]})
    assert fetched.charge.disputed and fetched.payment_intent == intent
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent})
    assert caught.value.code == "charge_disputed"
    server.close_dispute(dispute["id"], "lost")
    assert type_events(server)[-2:] == ["charge.dispute.created", "charge.dispute.closed"]
    assert client.v1.disputes.retrieve(dispute["id"]).status == "lost"


# --- expand, lists, async payments -----------------------------------------------------------------

def test_expand_follows_ids_and_refuses_what_is_not_expandable(server, client):
    customer = client.v1.customers.create()
    session = client.v1.checkout.sessions.create(params=session_params(server, customer=customer.id))
    server.pay_session(session.id, CARD_OK)
    found = client.v1.checkout.sessions.retrieve(session.id, params={"expand": [
        "customer", "payment_intent", "payment_intent.latest_charge", "payment_intent.payment_method"]})
    assert found.customer.id == customer.id
    assert found.payment_intent.latest_charge.object == "charge"
    assert found.payment_intent.payment_method.object == "payment_method"
    listed = client.v1.checkout.sessions.list(params={"payment_intent": found.payment_intent.id,
                                                      "expand": ["data.payment_intent"]})
    assert [s.id for s in listed.data] == [session.id] and listed.data[0].payment_intent.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["mode"]})
    assert caught.value.param == "expand"


def test_an_asynchronous_payment_completes_unpaid_then_succeeds_or_fails(server, client):
    sessions = [client.v1.checkout.sessions.create(params=session_params(server)) for _ in range(2)]
    for session in sessions:
        server.pay_session(session.id, CARD_OK, async_payment=True)
        assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"
    server.settle_async(sessions[0].id, succeeded=True)
    server.settle_async(sessions[1].id, succeeded=False)
    assert client.v1.checkout.sessions.retrieve(sessions[0].id).payment_status == "paid"
    assert [t for t in type_events(server) if t.startswith("checkout.")] == [
        "checkout.session.completed", "checkout.session.completed",
        "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed"]
    assert len(server.charges()) == 1


def test_every_object_has_the_fields_of_stripes_published_example(server, client):
    intent = paid_intent(server, client)
    refund = client.v1.refunds.create(params={"payment_intent": intent, "amount": 100})
    found = client.v1.payment_intents.retrieve(intent)
    shown = {
        "payment_intent": found,
        "charge": client.v1.charges.retrieve(found.latest_charge),
        "payment_method": client.v1.payment_methods.retrieve(found.payment_method),
        "refund": refund,
        "customer": client.v1.customers.create(),
        "event": client.v1.events.retrieve(server.events()[-1]["id"]),
    }
    for kind, obj in shown.items():
        missing = set(template(kind)) - set(obj.to_dict())
        assert not missing, (kind, missing)
        assert obj.object == kind and obj.to_dict().get("livemode", False) is False


def test_events_name_the_request_and_key_that_caused_them(server, client):
    session = client.v1.checkout.sessions.create(params=session_params(server))
    expired = client.v1.checkout.sessions.expire(session.id, options={"idempotency_key": "expire-1"})
    [event] = server.events("checkout.session.expired")
    assert event["request"] == {"id": expired.last_response.request_id, "idempotency_key": "expire-1"}
    assert event["data"]["object"]["status"] == "expired" and event["api_version"]


def test_an_idempotency_key_is_forgotten_after_24_hours(server, client):
    params = {"email": "a@example.com"}
    first = client.v1.customers.create(params=params, options={"idempotency_key": "customer-1"})
    server.advance(24 * 3600)
    second = client.v1.customers.create(params=params, options={"idempotency_key": "customer-1"})
    assert second.id != first.id and "Idempotent-Replayed" not in second.last_response.headers


@pytest.mark.parametrize("extra, param", [({"client_reference": "x"}, "client_reference"),
                                          ({"payment_intent_data": {"setup_future_usag": "off_session"}},
                                           "payment_intent_data[setup_future_usag]")])
def test_an_unknown_parameter_is_refused_as_stripe_refuses_it(server, client, extra, param):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(server, **extra))
    assert caught.value.param == param and caught.value.user_message == f"Received unknown parameter: {param}"
    assert server.objects("checkout.session") == []


def test_metadata_is_kept_as_given(server, client):
    customer = client.v1.customers.create(params={"metadata": {"_private": "1", "guarantor": "G-7"}})
    assert client.v1.customers.retrieve(customer.id).metadata.to_dict() == {"_private": "1", "guarantor": "G-7"}
    updated = client.v1.customers.create(params={"metadata": {"a": ""}})
    assert updated.metadata.to_dict() == {}


def test_a_setup_intent_confirms_a_card_for_later_or_is_declined(server, client):
    customer = client.v1.customers.create()
    good, bad = server.store_card(customer.id, CARD_OK), server.store_card(customer.id, CARD_DECLINED)
    intent = client.v1.setup_intents.create(params={"customer": customer.id, "payment_method": good,
                                                    "confirm": True, "usage": "off_session"})
    assert intent.id.startswith("seti_") and intent.status == "succeeded"
    assert client.v1.setup_intents.retrieve(intent.id).payment_method == good
    with pytest.raises(stripe.CardError) as caught:
        client.v1.setup_intents.create(params={"customer": customer.id, "payment_method": bad, "confirm": True})
    assert caught.value.error.setup_intent.status == "requires_payment_method"
    assert type_events(server) == ["setup_intent.succeeded", "setup_intent.setup_failed"]
