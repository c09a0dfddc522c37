"""The payment gateway interface: POPS never sees a card number, only the gateway's answers.

A gateway takes card data on its own hosted page (PCI DSS SAQ A): POPS opens a checkout, sends
the patient there, and gets them back with a single-use result token that it confirms
server-to-server. Every call that could move money carries an idempotency key: the same key
twice returns the first answer and charges once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


class GatewayUnavailable(Exception):
    """The gateway could not be reached or did not answer in time; nothing is known yet."""


class GatewayRefused(Exception):
    """The gateway answered that it did nothing under this key, and never will: nothing was charged."""


class InvalidResult(Exception):
    """A result token that is forged, unknown, or already used."""


@dataclass(frozen=True)
class CheckoutOptions:
    card: bool = True
    google_pay: bool = False
    apple_pay: bool = False
    require_cvv: bool = True
    allow_store: bool = False
    keep_card: bool = False  # the patient asked POPS to keep the card (a payment plan): the page keeps it, no tick asked
    language: str = ""  # the guarantor's language ("en", "es"); "" lets the page follow the browser's


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True)
class StoredCardToken:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway says happened to one idempotency key's charge."""

    APPROVED = "approved"
    DECLINED = "declined"
    ERROR = "error"
    CANCELED = "canceled"  # the patient left the hosted page
    OPEN = "open"  # the hosted page may still be paid on

    key: str
    status: str
    amount: Decimal
    transaction: str = ""
    brand: str = ""
    last4: str = ""
    wallet: str = ""  # "", "google_pay", "apple_pay"
    message: str = ""  # why it was declined or failed, in words a patient understands
    stored_card: StoredCardToken | None = None
    charged_at: dt.datetime | None = None  # when the gateway made the charge
    redirect: str = ""  # OPEN: the bank asks the patient to confirm (3-D Secure) at this address first
    live: bool = False  # a live-mode charge (Stripe's livemode); the sandbox's are never live


@dataclass(frozen=True)
class RefundResult:
    APPROVED = "approved"
    ERROR = "error"

    status: str
    transaction: str = ""
    message: str = ""


class Gateway(Protocol):
    name: str

    def create_checkout(
        self, key: str, amount: Decimal, description: str, return_url: str, options: CheckoutOptions
    ) -> Checkout:
        """Open (or, for a key seen before, return) a hosted-page checkout."""

    def confirm(self, result_token: str) -> ChargeResult:
        """Server-to-server: what the hosted page's result token stands for. Single use."""

    def charge_stored(self, key: str, amount: Decimal, card_token: str) -> ChargeResult:
        """A sale on a stored card, without the hosted page."""

    def lookup(self, key: str) -> ChargeResult | None:
        """The charge made under `key`, or None when there is none and none can be made any more.

        Raises GatewayUnavailable; returns a result with status OPEN while the patient may still
        pay on the hosted page.
        """

    def cancel(self, key: str) -> ChargeResult | None:
        """Close the checkout under `key` so it can no longer be paid; the charge if it already was."""

    def refund(self, key: str, transaction: str, amount: Decimal) -> RefundResult:
        """Refund part or all of a charge. The same key twice refunds once."""


def from_settings(settings, *, serving: bool = True) -> Gateway:
    """The gateway the settings name (POPS_GATEWAY), or a SettingsError saying what is missing.

    Production serves patients only with a gateway named; a command that takes no payment (`pops
    payments settle`) then works with the sandbox's payments. A Stripe gateway also holds the sandbox,
    for refunds and look-ups of payments the sandbox took.
    """
    from ..settings import SettingsError
    from .sandbox import SandboxGateway

    if not settings.gateway and serving:
        raise SettingsError(
            "POPS_GATEWAY is not set. In production name the payment gateway: POPS_GATEWAY=stripe (with "
            "POPS_STRIPE_SECRET_KEY and POPS_STRIPE_WEBHOOK_SECRET), or POPS_GATEWAY=sandbox for test payments "
            "only (every payment page and receipt then says TEST MODE)")
    sandbox = SandboxGateway(settings.secret_key, settings.base_url)
    if settings.gateway != "stripe":
        return sandbox
    from .stripe import StripeGateway

    return StripeGateway.from_settings(settings, sandbox=sandbox)


def for_payment(gateway: Gateway, name: str) -> Gateway:
    """The gateway that took a payment (its `gateway` column): refunds and look-ups go there."""
    if not name or name == gateway.name:
        return gateway
    return getattr(gateway, "others", {}).get(name, gateway)
