"""A Stripe-compatible test server: the official `stripe` library talks to it unchanged.

Three origins on 127.0.0.1, each its own port: the API (`server.api_url`), the hosted Checkout
page (`server.checkout_origin`) and the bank's 3-D Secure page (`server.three_ds_origin`), so a
Content-Security-Policy `form-action` needs one entry for each. Objects live in memory and are
shaped as Stripe's published examples (fixtures.json, MIT, Stripe, Inc.).

    from tests.stripe_server import StripeServer

    with StripeServer(webhook_url="http://127.0.0.1:8000/webhooks/stripe") as server:
        client = server.client()  # = stripe.StripeClient(server.api_key, base_addresses={"api": server.api_url})
        session = client.v1.checkout.sessions.create(params={...}, options={"idempotency_key": key})
        server.pay_session(session.id, "4242 4242 4242 4242")  # or open session.url in a browser
    # POPS settings: POPS_STRIPE_SECRET_KEY=server.api_key, POPS_STRIPE_WEBHOOK_SECRET=server.webhook_secret,
    # POPS_STRIPE_API_BASE=server.api_url.

`StripeServer(api_key=API_KEY, webhook_url=None, webhook_secret=None, now=None)`: `webhook_url` is
a URL or a callable `(body: bytes, headers: dict) -> status` (e.g. posting through a Starlette
TestClient); it can be set later (`server.webhook_url = ...`); while it is None events are only
recorded. `now` is a function giving the
server's time in epoch seconds (e.g. `lambda: pops.clock.now().timestamp()`), default real time.
`start()`/`stop()` or a `with` block.

API (form-encoded, bracket notation, `expand[]`, Bearer or Basic auth with `api_key`, else 401):
checkout sessions (create, retrieve, list by payment_intent/customer/status, expire), payment
intents (create with confirm, off_session, return_url; retrieve; confirm), setup intents (create
with confirm; retrieve), customers (create,
retrieve; payment methods of a customer), payment methods (list by customer, retrieve, attach,
detach), refunds (create for payment_intent or charge, retrieve, list), charges, disputes and
events (retrieve; events list). Idempotency-Key: the same key and parameters within 24 hours
replay the first answer with `Idempotent-Replayed: true`; other parameters give a 400
`idempotency_error`. Errors refused before an endpoint runs (400 validation, 404) are not saved;
card errors (402) and an injected 500 with `replayed=True` are, as Stripe does. Amounts under 50
cents: 400 `amount_too_small`. A session's expires_at must be 30 minutes to 24 hours ahead (Stripe's
rule). A POST parameter missing from Stripe's reference for that endpoint (params.py) is refused:
400 "Received unknown parameter: …", so a misspelt name fails instead of being ignored.

Test cards (cards.py), any future expiry, any CVC: 4242 4242 4242 4242 approved · 4000 0000 0000
0002 declined · 4000 0000 0000 9995 insufficient funds · 4000 0000 0000 0119 processing error ·
4000 0027 6000 3184 and 4000 0000 0000 3220 ask for 3-D Secure on a stored-card PaymentIntent
(`requires_action`, `next_action.redirect_to_url.url` on the 3-D Secure origin; with
off_session=true a 402 `authentication_required`). On the Checkout page a decline is shown and
another card may be tried (each decline: a failed charge and `payment_intent.payment_failed`); an
approval completes the session (`payment_intent.succeeded`, `checkout.session.completed`) and
redirects to success_url ({CHECKOUT_SESSION_ID} filled in); "Cancel and return" links to
cancel_url. With payment_intent_data[setup_future_usage] the card is saved on the customer (one is
created when the session had none).

Controls (Python, on the server object):
  fail_next(kind, times=1, status=500, replayed=True)  next creates of kind ("checkout.session",
                                         "payment_intent", "refund", "customer") answer an api_error
                                         and create nothing
  drop_next(kind, times=1, created=True) next creates are never answered (connection reset); with
                                         created the object exists and a replay with the key returns it
  rate_limit_next(times=1)               next API requests answer 429 rate_limit
  advance(seconds=0) / now()             the server's clock; due sessions expire (checkout.session.expired;
                                         also on any request; advance(0) after moving a `now` clock)
  pay_session(session_id, card="4242…", async_payment=False) -> {"paid", "error", "redirect"}
  settle_async(session_id, succeeded=True)   async_payment_succeeded / async_payment_failed
  authenticate(payment_intent_id, approve=True) -> the return_url (as the 3-D Secure page does)
  store_card(customer_id, card="4242…") -> pm_ id attached to the customer
  dashboard_refund(pi_or_ch, amount=None)    a refund made outside POPS (refund.created, charge.refunded)
  fail_refund(refund_id, reason="lost_or_stolen_card")  refund.updated and refund.failed (status failed)
  open_dispute(pi_or_ch, reason="fraudulent") / close_dispute(dp_id, status="won"|"lost")
  hold_events() / held_events / release_events(order=None, twice=False, background=False)
                                         keep events back, then deliver them late, in any order, twice
  send_event(event_id, timestamp=None, secret=None, payload=None) -> status   (re)send one now:
                                         a stale timestamp, a wrong secret, a tampered payload
  wait_for_webhooks(timeout=10)          wait for background deliveries (retried on non-2xx)
  webhooks.deliveries                    every delivery try: event, type, status, error
  events(type=None), get(id), objects(kind), charges(status="succeeded"), requests
"""
from .cards import THREE_D_SECURE
from .server import API_KEY, StripeServer

__all__ = ["API_KEY", "THREE_D_SECURE", "StripeServer"]
