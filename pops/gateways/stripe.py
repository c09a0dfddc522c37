"""The Stripe gateway: a Checkout Session per attempt (Stripe's hosted page), a PaymentIntent for a stored
card, Refunds; through the official library's StripeClient (POPS_STRIPE_API_BASE points it at a test server).

POPS's side of Stripe: it reads the attempt a key names, because every parameter sent under a key is
derived from the attempt's stored fields (so a replay sends the same request), and the session or
PaymentIntent id Stripe answered is stored on the attempt and the only one ever asked about.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import stripe

from .. import clock
from ..i18n import N_, gettext, stripe_locale
from ..models import Guarantor, PaymentAttempt
from . import (
    ChargeResult,
    Checkout,
    CheckoutOptions,
    GatewayRefused,
    GatewayUnavailable,
    InvalidResult,
    RefundResult,
    StoredCardToken,
)
from .stripe_objects import (
    DECLINED_MESSAGE,
    charge_details,
    cents,
    dollars,
    field,
    ident,
    is_live_key,
    patient_message,
)
from .stripe_tables import StripeCustomer

SESSION_MINUTES = 31  # Stripe's shortest session is 30 minutes from its creation; POPS counts from the attempt's
PRODUCT = N_("Payment to {group}, account {account}")  # the line on Stripe's page, in the guarantor's language
REPLAY_WINDOW = dt.timedelta(hours=24)  # how long Stripe keeps an Idempotency-Key's answer
# Charges POPS makes while the patient is away (a plan's instalment, autopay): off-session PaymentIntents.
# A bank that wants the patient answers `authentication_required`; the charge waits, open, until the
# patient confirms it on session (authenticate).
OFF_SESSION_ENTRANCES = ("plan", "autopay")
AUTHENTICATION_REQUIRED = "authentication_required"
MINIMUM = Decimal("0.50")  # Stripe's smallest charge in USD
TIMEOUT_SECONDS = 20
# Where POPS's pay form may send the browser: Checkout, and redirect_to_url's 3-D Secure page (CSP form-action).
FORM_TARGETS = ("https://checkout.stripe.com", "https://hooks.stripe.com")


class StripeGateway:
    """Stripe as POPS calls it. `others` holds the gateways that took older payments (the sandbox)."""

    name = "stripe"
    minimum = MINIMUM
    confirms_by_key = True  # no result token comes back: POPS asks about the attempt's stored session

    def __init__(self, client: stripe.StripeClient, *, webhook_secret: str, base_url: str, live: bool,
                 others: dict | None = None, test_origins: tuple[str, ...] = ()):
        self.client = client
        self.form_targets = (*FORM_TARGETS, *test_origins)
        self.webhook_secret = webhook_secret
        self.base_url = base_url.rstrip("/")
        self.live = live
        self.others = others or {}

    @classmethod
    def from_settings(cls, settings, *, sandbox=None) -> "StripeGateway":
        from ..settings import SettingsError

        key, secret = settings.stripe_secret_key, settings.stripe_webhook_secret
        missing = [name for name, value in (("POPS_STRIPE_SECRET_KEY", key), ("POPS_STRIPE_WEBHOOK_SECRET", secret))
                   if not value]
        if missing:
            raise SettingsError(f"POPS_GATEWAY=stripe needs {' and '.join(missing)}: the secret key (sk_live_… or "
                                "sk_test_…) from the Stripe dashboard's API keys, and the signing secret (whsec_…) "
                                "of the webhook endpoint pointing at /webhooks/stripe")
        if not key.startswith(("sk_", "rk_")):
            raise SettingsError("POPS_STRIPE_SECRET_KEY is not a Stripe secret key: it starts with sk_live_ or sk_test_")
        if not secret.startswith("whsec_"):
            raise SettingsError("POPS_STRIPE_WEBHOOK_SECRET is not a webhook signing secret: it starts with whsec_")
        bases = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        client = stripe.StripeClient(key, base_addresses=bases, max_network_retries=0,
                                     http_client=stripe.new_default_http_client(timeout=TIMEOUT_SECONDS))
        return cls(client, webhook_secret=secret, base_url=settings.base_url, live=is_live_key(key),
                   others={"sandbox": sandbox} if sandbox is not None else {},
                   test_origins=settings.stripe_test_origins if settings.stripe_api_base else ())

    # --- the calls ------------------------------------------------------------------------

    def _retrieve(self, method, *args, **kwargs):
        """A look-up by id: an object Stripe does not know is GatewayUnavailable too (asked again later), never a crash."""
        try:
            return self._call(method, *args, **kwargs)
        except stripe.InvalidRequestError as exc:
            raise GatewayUnavailable(f"Stripe could not find it: {exc.user_message or exc}") from exc

    def _call(self, method, *args, **kwargs):
        """One API call; no answer (or a rate limit, or Stripe's own trouble) is GatewayUnavailable."""
        try:
            return method(*args, **kwargs)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise GatewayUnavailable(f"Stripe did not answer: {exc.user_message or exc}") from exc
        except stripe.AuthenticationError as exc:
            raise GatewayUnavailable("Stripe refused POPS's secret key (POPS_STRIPE_SECRET_KEY)") from exc

    def _attempt(self, key: str) -> PaymentAttempt | None:
        return PaymentAttempt.get_or_none(PaymentAttempt.key == key)

    @staticmethod
    def _metadata(attempt: PaymentAttempt) -> dict[str, str]:
        guarantor = attempt.guarantor
        return {"pops_attempt": attempt.key, "pops_practice": guarantor.group.code, "pops_account": guarantor.account}

    def _return_url(self, attempt: PaymentAttempt) -> str:
        return f"{self.base_url}/pay/return/{attempt.key}"

    def session_params(self, attempt: PaymentAttempt) -> dict:
        """The Checkout Session for an attempt, from its stored fields only (a replay sends the same)."""
        guarantor = attempt.guarantor
        metadata = self._metadata(attempt)
        intent = {"metadata": metadata}
        params = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [{"quantity": 1, "price_data": {
                "currency": "usd", "unit_amount": cents(attempt.amount),
                "product_data": {"name": gettext(guarantor.own_language, PRODUCT, group=guarantor.group.name,
                                                 account=guarantor.account)},
            }}],
            "client_reference_id": attempt.key,
            "metadata": metadata,
            "expires_at": int((attempt.created_at + dt.timedelta(minutes=SESSION_MINUTES)).timestamp()),
            "locale": stripe_locale(guarantor.own_language),  # Spanish: es-419; none known: the browser's
            "success_url": f"{self._return_url(attempt)}?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{self._return_url(attempt)}?canceled=1",
        }
        if attempt.store_card:
            intent["setup_future_usage"] = "off_session"  # what the payment plans charge later
            params["customer"] = self.customer_for(guarantor)  # created once, then stored: a replay sends the same
        params["payment_intent_data"] = intent
        return params

    def _create_session(self, attempt: PaymentAttempt):
        """Create (or, under the same key, replay) the attempt's Checkout Session and store its id.

        Stripe's 500 is kept under the key and replayed, and a replay refused for its expires_at never
        ran: either way nothing can ever be charged under this key (GatewayRefused).
        """
        try:
            session = self._call(self.client.v1.checkout.sessions.create, self.session_params(attempt),
                                 {"idempotency_key": attempt.key})
        except (stripe.APIError, stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
            raise GatewayRefused(f"Stripe did not open a checkout: {exc.user_message or exc}") from exc
        PaymentAttempt.update(gateway_checkout=session.id).where(
            (PaymentAttempt.id == attempt.id) & (PaymentAttempt.gateway_checkout == "")
        ).execute()
        return session

    # --- the Gateway interface -------------------------------------------------------------

    def create_checkout(self, key, amount, description, return_url, options: CheckoutOptions) -> Checkout:
        attempt = self._attempt(key)
        if attempt is None or attempt.amount != amount:
            raise ValueError("a Stripe checkout is opened for a recorded attempt, for its amount")
        session = self._create_session(attempt)
        return Checkout(id=session.id, url=session.url)

    def confirm(self, result_token: str) -> ChargeResult:
        raise InvalidResult("Stripe's page sends no result token: POPS asks Stripe about the stored session")

    def lookup(self, key) -> ChargeResult | None:
        """What Stripe says about the attempt's stored session (or PaymentIntent). An attempt whose create
        was never answered replays it within 24 hours; after that it is marked for staff review (OPEN)."""
        attempt = self._attempt(key)
        if attempt is None:
            return None
        if attempt.live != self.live:  # made with the other mode's key (test before live): this key cannot see it
            PaymentAttempt.update(needs_review=True).where(PaymentAttempt.id == attempt.id).execute()
            return ChargeResult(key=key, status=ChargeResult.OPEN, amount=attempt.amount)
        if not attempt.gateway_checkout:
            if clock.now() - attempt.created_at > REPLAY_WINDOW:  # Stripe has forgotten the key: a replay would charge anew
                PaymentAttempt.update(needs_review=True).where(PaymentAttempt.id == attempt.id).execute()
                return ChargeResult(key=key, status=ChargeResult.OPEN, amount=attempt.amount)
            if attempt.stored_card_id is not None:
                return self._charge_stored(attempt)
            try:
                self._create_session(attempt)
            except GatewayRefused as refused:
                return ChargeResult(key=key, status=ChargeResult.ERROR, amount=attempt.amount, message=str(refused))
            attempt = self._attempt(key)
        if attempt.gateway_checkout.startswith("pi_"):
            return self._intent_result(attempt, self._intent(attempt.gateway_checkout))
        session = self._retrieve(self.client.v1.checkout.sessions.retrieve, attempt.gateway_checkout,
                             {"expand": ["payment_intent", "payment_intent.latest_charge"]})
        return self._session_result(attempt, session)

    def cancel(self, key) -> ChargeResult | None:
        """Expire the attempt's open session, so it can no longer be paid; then what Stripe says about it."""
        attempt = self._attempt(key)
        if attempt is None:
            return None
        if not attempt.gateway_checkout and attempt.stored_card_id is None:
            result = self.lookup(key)  # a lost create is replayed, so that session is expired too
            if result is None or result.status != ChargeResult.OPEN:
                return result
            attempt = self._attempt(key)
        if attempt.gateway_checkout.startswith("cs_"):
            try:
                self._call(self.client.v1.checkout.sessions.expire, attempt.gateway_checkout)
            except stripe.InvalidRequestError:
                pass  # no longer open: paid, or expired already
        return self.lookup(key)

    def charge_stored(self, key, amount, card_token) -> ChargeResult:
        attempt = self._attempt(key)
        if attempt is None or attempt.amount != amount:
            raise ValueError("a stored card is charged for a recorded attempt, for its amount")
        return self._charge_stored(attempt)

    def refund(self, key, transaction, amount: Decimal) -> RefundResult:
        try:
            refund = self._call(self.client.v1.refunds.create, {
                "payment_intent": transaction, "amount": cents(amount), "metadata": {"pops_refund": key},
            }, {"idempotency_key": f"refund-{key}"})
        except stripe.StripeError as exc:
            return RefundResult(RefundResult.ERROR, message=exc.user_message or "Stripe refused the refund.")
        if refund.status in ("failed", "canceled"):
            return RefundResult(RefundResult.ERROR, refund.id, "Stripe could not make the refund.")
        return RefundResult(RefundResult.APPROVED, refund.id)

    # --- stored cards ------------------------------------------------------------------------

    def customer_for(self, guarantor: Guarantor) -> str:
        """The guarantor's Stripe Customer (created once, with a key that survives a retry)."""
        known = StripeCustomer.get_or_none((StripeCustomer.guarantor == guarantor) & (StripeCustomer.live == self.live))
        if known is not None:
            return known.customer
        customer = self._call(self.client.v1.customers.create, {
            "name": f"{guarantor.first_name} {guarantor.last_name}",
            "metadata": {"pops_practice": guarantor.group.code, "pops_account": guarantor.account},
        }, {"idempotency_key": f"customer-{guarantor.group.code}-{guarantor.account}-{int(self.live)}"})
        StripeCustomer.insert(guarantor=guarantor, customer=customer.id, live=self.live).on_conflict_ignore().execute()
        return customer.id

    def _charge_stored(self, attempt: PaymentAttempt) -> ChargeResult:
        """Confirm a PaymentIntent on the stored card; the bank may ask for 3-D Secure (OPEN with a redirect)."""
        params = {
            "amount": cents(attempt.amount), "currency": "usd", "payment_method_types": ["card"],
            "customer": self.customer_for(attempt.guarantor), "payment_method": attempt.stored_card.gateway_token,
            "confirm": True, "return_url": self._return_url(attempt), "metadata": self._metadata(attempt),
            "description": f"Payment to {attempt.guarantor.group.name}, account {attempt.guarantor.account}",
            "expand": ["latest_charge"],
        }
        if _off_session(attempt):
            params["off_session"] = True
            del params["return_url"]
        try:
            intent = self._call(self.client.v1.payment_intents.create, params, {"idempotency_key": attempt.key})
        except stripe.CardError as exc:
            error = (exc.json_body or {}).get("error", {})
            intent_id = ident(error.get("payment_intent"))
            if intent_id:
                self._store_intent(attempt, intent_id)
            if intent_id and _waits_for_patient(attempt, error):
                return ChargeResult(key=attempt.key, status=ChargeResult.OPEN, amount=attempt.amount,
                                    transaction=intent_id, live=self.live)
            return ChargeResult(key=attempt.key, status=ChargeResult.DECLINED, amount=attempt.amount,
                                transaction=ident(error.get("charge")) or intent_id, message=patient_message(error),
                                live=self.live)
        except (stripe.APIError, stripe.InvalidRequestError) as exc:
            return ChargeResult(key=attempt.key, status=ChargeResult.ERROR, amount=attempt.amount,
                                message=exc.user_message or "")
        self._store_intent(attempt, intent.id)
        return self._intent_result(attempt, intent)

    def authenticate(self, key: str) -> str | None:
        """An off-session charge the bank held for the patient, confirmed again on session (the patient
        pressed Confirm): the bank's 3-D Secure page to send them to, or None."""
        attempt = self._attempt(key)
        if attempt is None or attempt.stored_card_id is None or not attempt.gateway_checkout.startswith("pi_"):
            return None
        try:
            intent = self._call(self.client.v1.payment_intents.confirm, attempt.gateway_checkout, {
                "payment_method": attempt.stored_card.gateway_token, "return_url": self._return_url(attempt)})
        except stripe.StripeError:
            return None
        result = self._intent_result(attempt, intent)
        return result.redirect if result.status == ChargeResult.OPEN and result.redirect else None

    @staticmethod
    def _store_intent(attempt: PaymentAttempt, intent_id: str) -> None:
        PaymentAttempt.update(gateway_checkout=intent_id).where(
            (PaymentAttempt.id == attempt.id) & (PaymentAttempt.gateway_checkout == "")).execute()

    def detach(self, card_token: str) -> None:
        """A removed card is detached from its Customer: Stripe can no longer charge it."""
        try:
            self._call(self.client.v1.payment_methods.detach, card_token)
        except stripe.InvalidRequestError:
            pass  # detached already, or never attached

    # --- reading Stripe's objects ------------------------------------------------------------

    def _intent(self, intent):
        """A PaymentIntent with its latest charge expanded (retrieved when `intent` is only its id)."""
        if isinstance(intent, str) or not isinstance(field(intent, "latest_charge"), (dict, type(None))):
            intent = self._retrieve(self.client.v1.payment_intents.retrieve, ident(intent), {"expand": ["latest_charge"]})
        return intent

    def _session_result(self, attempt: PaymentAttempt, session) -> ChargeResult:
        if session.client_reference_id != attempt.key:
            raise InvalidResult("the stored session belongs to another attempt")
        base = {"key": attempt.key, "amount": attempt.amount, "live": bool(field(session, "livemode"))}
        if session.status == "expired":
            return ChargeResult(status=ChargeResult.CANCELED, **base)
        if session.status != "complete" or not field(session, "payment_intent"):
            return ChargeResult(status=ChargeResult.OPEN, **base)
        return self._intent_result(attempt, self._intent(session.payment_intent))

    def _intent_result(self, attempt: PaymentAttempt, intent) -> ChargeResult:
        base = {"key": attempt.key, "transaction": intent.id, "live": bool(field(intent, "livemode"))}
        status = intent.status
        if status == "succeeded":
            charge = field(intent, "latest_charge")
            if isinstance(charge, str):
                charge = self._retrieve(self.client.v1.charges.retrieve, charge)
            card = charge_details(charge)
            stored = None
            method = ident(field(intent, "payment_method"))
            if field(intent, "setup_future_usage") and method and attempt.store_card:
                stored = StoredCardToken(method, card.brand, card.last4, card.exp_month, card.exp_year)
            return ChargeResult(status=ChargeResult.APPROVED, amount=dollars(field(intent, "amount_received")
                                                                             or intent.amount),
                                brand=card.brand, last4=card.last4, wallet=card.wallet, stored_card=stored,
                                charged_at=card.created, **base)
        if status == "requires_action":
            action = field(intent, "next_action") or {}
            url = field(field(action, "redirect_to_url") or {}, "url") or ""
            return ChargeResult(status=ChargeResult.OPEN, amount=attempt.amount, redirect=url, **base)
        if status == "requires_payment_method" and field(intent, "last_payment_error"):
            error = field(intent, "last_payment_error")
            if _waits_for_patient(attempt, error):
                return ChargeResult(status=ChargeResult.OPEN, amount=attempt.amount, **base)
            # the declined charge's id: the same decline seen from its webhook is recorded once
            base["transaction"] = ident(field(error, "charge")) or intent.id
            return ChargeResult(status=ChargeResult.DECLINED, amount=attempt.amount,
                                message=patient_message(error) or DECLINED_MESSAGE, **base)
        if status == "canceled":
            return ChargeResult(status=ChargeResult.CANCELED, amount=attempt.amount, **base)
        return ChargeResult(status=ChargeResult.OPEN, amount=attempt.amount, **base)


def _off_session(attempt: PaymentAttempt) -> bool:
    return attempt.entrance in OFF_SESSION_ENTRANCES


def _waits_for_patient(attempt: PaymentAttempt, error) -> bool:
    """An off-session charge the bank will take only with the patient there: not a decline, it waits."""
    return _off_session(attempt) and field(error, "code") == AUTHENTICATION_REQUIRED
