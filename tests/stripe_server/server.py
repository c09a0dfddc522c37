"""StripeServer: the API, the Checkout page and the 3-D Secure page on three origins, and the controls."""
from __future__ import annotations

import secrets

from . import cards, payments, refunds, webhooks
from .api import Api, Faults
from .httpd import Site
from .objects import public
from .state import Account
from .webhooks import Webhooks
from .pages import checkout_site, three_ds_site

API_KEY = "sk_test_pops_stripe_server"


class StripeServer:
    def __init__(self, api_key: str = API_KEY, webhook_url=None, webhook_secret: str | None = None, now=None):
        self.api_key = api_key
        self.webhooks = Webhooks(webhook_secret or "whsec_" + secrets.token_hex(16))
        self.webhooks.endpoint = webhook_url
        self.account = Account(now=now, publish=self.webhooks.publish)
        self.faults = Faults()
        self.api = Api(self.account, api_key, self.faults)
        self._api_site = Site(self.api)
        self._checkout_site = Site(checkout_site(self.account))
        self._three_ds_site = Site(three_ds_site(self.account))
        self.api_url = self._api_site.origin
        self.checkout_origin = self._checkout_site.origin
        self.three_ds_origin = self._three_ds_site.origin
        self.account.checkout_base = self.checkout_origin
        self.account.three_ds_base = self.three_ds_origin
        self._started = False

    # --- running -------------------------------------------------------------------------------

    def start(self) -> StripeServer:
        for site in (self._api_site, self._checkout_site, self._three_ds_site):
            site.start()
        self.webhooks.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.webhooks.stop()
            for site in (self._api_site, self._checkout_site, self._three_ds_site):
                site.stop()
            self._started = False

    def __enter__(self) -> StripeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def webhook_secret(self) -> str:
        return self.webhooks.secret

    @property
    def webhook_url(self):
        return self.webhooks.endpoint

    @webhook_url.setter
    def webhook_url(self, value) -> None:
        self.webhooks.endpoint = value

    def client(self, **options):
        """A StripeClient of the official library pointed at this server (no automatic retries)."""
        import stripe

        options.setdefault("max_network_retries", 0)
        return stripe.StripeClient(self.api_key, base_addresses={"api": self.api_url}, **options)

    # --- faults --------------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, status: int = 500, replayed: bool = True) -> None:
        """The next `times` creates of `kind` ("checkout.session", "payment_intent", "refund",
        "customer") answer `status` with an api_error and create nothing. With `replayed` (Stripe's
        rule once an endpoint has begun) a retry with the same Idempotency-Key gets the same error
        again; without it the error is not saved and the retry runs anew."""
        with self.account.lock:
            self.faults.fail.setdefault(kind, []).extend([(status, replayed)] * times)

    def drop_next(self, kind: str, times: int = 1, created: bool = True) -> None:
        """The next `times` creates of `kind` are never answered (the connection is reset). With
        `created` the object IS created and a replay with the same key returns it; without, the
        request was lost before the server did anything."""
        with self.account.lock:
            self.faults.drop.setdefault(kind, []).extend([created] * times)

    def rate_limit_next(self, times: int = 1) -> None:
        """The next `times` API requests answer 429 (code rate_limit) and do nothing."""
        with self.account.lock:
            self.faults.rate_limited += times

    # --- the clock -----------------------------------------------------------------------------

    def now(self) -> int:
        return self.account.now()

    def advance(self, seconds: int = 0) -> None:
        """Move the server's clock on; open sessions past their expires_at expire (with their events)."""
        with self.account.lock:
            self.account.offset += int(seconds)
            payments.expire_due(self.account)

    # --- the patient, the bank, the dashboard --------------------------------------------------

    def pay_session(self, session_id: str, card: str = "4242 4242 4242 4242", async_payment: bool = False) -> dict:
        """Pay a Checkout Session as its hosted page would, without a browser:
        {"paid": bool, "error": decline message or None, "redirect": the success URL or None}."""
        with self.account.lock:
            return payments.pay_session(self.account, session_id, cards.card(card.replace(" ", "")), async_payment)

    def settle_async(self, session_id: str, succeeded: bool = True) -> dict:
        """Finish a session paid with `async_payment=True` (async_payment_succeeded or _failed)."""
        with self.account.lock:
            return public(payments.settle_async(self.account, session_id, succeeded))

    def authenticate(self, payment_intent_id: str, approve: bool = True) -> str:
        """Answer a PaymentIntent's 3-D Secure as its page would; returns the return_url to follow."""
        with self.account.lock:
            return payments.finish_3ds(self.account, payment_intent_id, approve)

    def store_card(self, customer_id: str, card: str = "4242 4242 4242 4242") -> str:
        """Save a test card for a customer (as a Checkout with setup_future_usage would): its pm_ id."""
        with self.account.lock:
            return refunds.store_card(self.account, customer_id, card)["id"]

    def dashboard_refund(self, payment: str, amount: int | None = None) -> dict:
        """A refund made in Stripe's dashboard (no POPS metadata) of a pi_ or ch_, with its events."""
        with self.account.lock:
            name = "payment_intent" if payment.startswith("pi_") else "charge"
            params = {name: payment, **({"amount": str(amount)} if amount is not None else {})}
            return public(refunds.create_refund(self.account, params))

    def fail_refund(self, refund_id: str, reason: str = "lost_or_stolen_card") -> dict:
        """A refund reported failed later: refund.updated and refund.failed, status failed."""
        with self.account.lock:
            return public(refunds.fail_refund(self.account, refund_id, reason))

    def open_dispute(self, payment: str, reason: str = "fraudulent", amount: int | None = None) -> dict:
        """The cardholder disputes a pi_ or ch_: charge.dispute.created."""
        with self.account.lock:
            return public(refunds.open_dispute(self.account, payment, reason, amount))

    def close_dispute(self, dispute_id: str, status: str = "won") -> dict:
        """charge.dispute.closed, with status won, lost or warning_closed."""
        with self.account.lock:
            return public(refunds.close_dispute(self.account, dispute_id, status))

    # --- webhooks ------------------------------------------------------------------------------

    def hold_events(self) -> None:
        """Keep new events back (until release_events)."""
        self.webhooks.hold()

    @property
    def held_events(self) -> list[dict]:
        return list(self.webhooks.held or [])

    def release_events(self, order: list[int] | None = None, twice: bool = False, background: bool = False):
        """Deliver the held events (in `order`: indexes into held_events; twice each if asked), now
        in this thread unless `background`; stop holding. Returns the endpoint's statuses."""
        return self.webhooks.release(order, twice, background)

    def send_event(self, event_id: str, timestamp: int | None = None, secret: str | None = None,
                   payload: bytes | None = None) -> int:
        """(Re)send an event now, in this thread: the endpoint's status. `timestamp` signs it at another
        time (a stale signature), `secret` with another secret, `payload` sends other bytes under a
        signature of them (with `secret`) or of the event's own body (without)."""
        event = self.account.get(event_id, "event")
        signed = webhooks.body(event) if payload is not None and secret is None else None
        return self.webhooks.send(event, timestamp=timestamp, secret=secret, payload=payload, signed=signed)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until background deliveries (and their retries) are over."""
        return self.webhooks.wait(timeout)

    def events(self, type_: str | None = None) -> list[dict]:
        """Every event so far, oldest first (optionally of one type)."""
        with self.account.lock:
            return [public(e) for e in self.account.all("event") if type_ is None or e["type"] == type_]

    # --- reading what happened -----------------------------------------------------------------

    def get(self, object_id: str) -> dict | None:
        with self.account.lock:
            obj = self.account.find(object_id)
            return public(obj) if obj else None

    def objects(self, kind: str) -> list[dict]:
        """Every object of a kind ("checkout.session", "payment_intent", "charge", "refund", ...)."""
        with self.account.lock:
            return [public(o) for o in self.account.all(kind)]

    def charges(self, status: str = "succeeded") -> list[dict]:
        """The charges with this status (the money actually taken: "succeeded")."""
        return [c for c in self.objects("charge") if c["status"] == status]

    @property
    def requests(self) -> list[dict]:
        """Every API request: method, path, params, idempotency_key, status (0: not answered)."""
        return list(self.api.log)
