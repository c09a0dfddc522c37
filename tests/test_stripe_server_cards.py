"""The Stripe test server's money: stored cards and 3-D Secure on the bank's origin, SetupIntents,
refunds (and those made in the dashboard or failing later), disputes, asynchronous payments."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from tests.stripe_server.testing import (
    CARD_3DS, CARD_DECLINED, CARD_OK, client, endpoint, fetch, paid_intent, server, session_params, type_events,
    verified,
)

__all__ = ["client", "endpoint", "server"]  # fixtures


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
