"""The Stripe test server's wire protocol, driven by the official `stripe` library and over plain HTTP:
bracket notation, authentication, errors, Idempotency-Key replay, lost answers, webhooks, the hosted page."""
from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import pytest
import stripe

from tests.stripe_server.objects import template
from tests.stripe_server.testing import (
    CARD_DECLINED, CARD_NO_FUNDS, CARD_OK, client, endpoint, fetch, paid_intent, server, session_params, type_events,
    verified,
)
from tests.stripe_server.wire import StripeError, parse_form

__all__ = ["client", "endpoint", "server"]  # fixtures


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


# --- expand, lists, shapes, parameters ------------------------------------------------------------

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
