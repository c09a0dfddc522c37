"""The built-in sandbox gateway: an API and a hosted card page that behave like a real provider's.

POPS talks to it only through the Gateway interface. Its hosted page is its own small app
(sandbox_page, mounted at MOUNT as if it lived on another host); its records are its own tables
(sandbox_tables). Tests may switch the network off (`unreachable`) or make the next call meet a
fault (`fail_next`): production never sets either.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal

from itsdangerous import BadSignature
from peewee import IntegrityError

from .. import clock, signing
from ..db import database
from ..i18n import N_, coded
from . import (
    ChargeResult,
    Checkout,
    CheckoutOptions,
    GatewayUnavailable,
    InvalidResult,
    RefundResult,
    StoredCardToken,
)
from .sandbox_page import MOUNT, hosted_page_app
from .sandbox_tables import SandboxCardToken, SandboxCharge, SandboxCheckout, SandboxRefund

__all__ = ["ERROR", "FAULTS", "LATE", "MOUNT", "TIMEOUT", "SandboxGateway", "hosted_page_app"]

CHECKOUT_MINUTES = 30
RESULT_MAX_AGE = 3600

# The faults a test can put on the next call (SandboxGateway.fail_next):
TIMEOUT = "timeout"  # no answer, and the gateway did nothing
ERROR = "error"  # the gateway answers with an error: a stored-card charge fails at the processor, a refund is refused
LATE = "late"  # the gateway does what was asked, then the answer is lost (a later lookup by key finds it)
FAULTS = (TIMEOUT, ERROR, LATE)
MSG_CARD_GONE = coded("saved_card_gone", N_("This saved card is no longer available."))


def _result(charge: SandboxCharge) -> ChargeResult:
    stored = None
    if charge.card_token:
        token = SandboxCardToken.get(SandboxCardToken.token == charge.card_token)
        stored = StoredCardToken(token.token, token.brand, token.last4, token.exp_month, token.exp_year)
    return ChargeResult(
        key=charge.idempotency_key,
        status=charge.status,
        amount=charge.amount,
        transaction=charge.transaction,
        brand=charge.brand,
        last4=charge.last4,
        wallet=charge.wallet,
        message=charge.message,
        stored_card=stored,
        charged_at=charge.created_at,
    )


class SandboxGateway:
    """The sandbox provider's API, as POPS calls it (in-process here; over HTTPS for a real one)."""

    name = "sandbox"

    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._signer = signing.serializer(secret_key, "sandbox.result")
        self.unreachable = False  # tests switch the network off
        self.fail_next: str | None = None  # tests: the next call meets this fault (one of FAULTS)

    def _call(self, *, answers_error: bool = False) -> str | None:
        """Reach the gateway, or raise GatewayUnavailable; returns the fault this call meets (ERROR, LATE or None).

        `answers_error`: the call has an error answer (a charge, a refund); others refuse ERROR.
        """
        if self.unreachable:
            raise GatewayUnavailable("the sandbox gateway did not answer")
        fault, self.fail_next = self.fail_next, None
        if fault not in (None, *FAULTS) or (fault == ERROR and not answers_error):
            raise ValueError(f"the sandbox cannot put fault {fault!r} on this call")
        if fault == TIMEOUT:
            raise GatewayUnavailable("the sandbox gateway did not answer")
        return fault

    @staticmethod
    def _answer(fault: str | None, answer):
        """The answer as it reaches POPS: lost on the way back when the call was LATE."""
        if fault == LATE:
            raise GatewayUnavailable("the sandbox gateway acted, but its answer was lost")
        return answer

    # --- API ---------------------------------------------------------------------------

    def create_checkout(self, key, amount, description, return_url, options: CheckoutOptions) -> Checkout:
        fault = self._call()
        with database.atomic():
            checkout = SandboxCheckout.get_or_none(SandboxCheckout.idempotency_key == key)
            if checkout is None:
                try:
                    with database.atomic():
                        checkout = SandboxCheckout.create(
                            token=secrets.token_urlsafe(24),
                            idempotency_key=key,
                            amount=amount,
                            description=description[:200],
                            return_url=return_url,
                            options=json.dumps(options.__dict__),
                            expires_at=clock.now() + dt.timedelta(minutes=CHECKOUT_MINUTES),
                        )
                except IntegrityError:  # the same key at the same moment: one checkout
                    checkout = SandboxCheckout.get(SandboxCheckout.idempotency_key == key)
        return self._answer(fault, Checkout(id=checkout.token, url=f"{self.base_url}{MOUNT}/checkout/{checkout.token}"))

    def confirm(self, result_token: str) -> ChargeResult:
        fault = self._call()
        try:
            token = self._signer.loads(result_token, max_age=RESULT_MAX_AGE)
        except BadSignature as exc:
            raise InvalidResult("the result token is not genuine or has expired") from exc
        with database.atomic():
            checkout = SandboxCheckout.get_or_none(SandboxCheckout.token == token)
            if checkout is None:
                raise InvalidResult("unknown checkout")
            used = SandboxCheckout.update(result_token_used=True).where(
                (SandboxCheckout.id == checkout.id) & (SandboxCheckout.result_token_used == False)  # noqa: E712
            ).execute()
            if not used:
                raise InvalidResult("this result was already confirmed")
            result = self._checkout_result(checkout)
        return self._answer(fault, result)

    @staticmethod
    def _checkout_result(checkout: SandboxCheckout) -> ChargeResult:
        if checkout.charge:
            return _result(SandboxCharge.get(SandboxCharge.transaction == checkout.charge))
        if checkout.status == SandboxCheckout.CANCELED:
            return ChargeResult(key=checkout.idempotency_key, status=ChargeResult.CANCELED, amount=checkout.amount)
        return ChargeResult(key=checkout.idempotency_key, status=ChargeResult.OPEN, amount=checkout.amount)

    def charge_stored(self, key, amount, card_token) -> ChargeResult:
        fault = self._call(answers_error=True)
        existing = SandboxCharge.get_or_none(SandboxCharge.idempotency_key == key)
        if existing is not None:
            return self._answer(fault, _result(existing))
        card = SandboxCardToken.get_or_none(SandboxCardToken.token == card_token)
        if card is None:
            return self._answer(fault, ChargeResult(key=key, status=ChargeResult.DECLINED, amount=amount,
                                                    message=MSG_CARD_GONE))
        behaviour = ERROR if fault == ERROR else card.behaviour  # the processor fails this one charge
        try:
            with database.atomic():
                charge = SandboxCharge.make(key, amount, behaviour, card.brand, card.last4, "", card.token)
        except IntegrityError:
            charge = SandboxCharge.get(SandboxCharge.idempotency_key == key)
        return self._answer(fault, _result(charge))

    def lookup(self, key) -> ChargeResult | None:
        fault = self._call()
        return self._answer(fault, self._lookup(key))

    def _lookup(self, key) -> ChargeResult | None:
        charge = SandboxCharge.get_or_none(SandboxCharge.idempotency_key == key)
        if charge is not None:
            return _result(charge)
        checkout = SandboxCheckout.get_or_none(SandboxCheckout.idempotency_key == key)
        if checkout is None:
            return None
        if checkout.status == SandboxCheckout.OPEN and not checkout.is_open:
            checkout.close()  # expired
            return self._lookup(key)
        result = self._checkout_result(checkout)
        return None if result.status == ChargeResult.CANCELED else result

    def cancel(self, key) -> ChargeResult | None:
        fault = self._call()
        SandboxCheckout.update(status=SandboxCheckout.CANCELED).where(
            (SandboxCheckout.idempotency_key == key) & (SandboxCheckout.status == SandboxCheckout.OPEN)
        ).execute()
        charge = SandboxCharge.get_or_none(SandboxCharge.idempotency_key == key)
        return self._answer(fault, _result(charge) if charge is not None else None)

    def refund(self, key, transaction, amount: Decimal) -> RefundResult:
        fault = self._call(answers_error=True)
        if fault == ERROR:
            return RefundResult(RefundResult.ERROR, message="The card processor had a problem with the refund.")
        with database.atomic():
            done = SandboxRefund.get_or_none(SandboxRefund.idempotency_key == key)
            if done is not None:
                return self._answer(fault, RefundResult(RefundResult.APPROVED, done.transaction))
            charge = SandboxCharge.get_or_none(SandboxCharge.transaction == transaction)
            if charge is None or charge.status != ChargeResult.APPROVED:
                return RefundResult(RefundResult.ERROR, message="There is no approved charge to refund.")
            rows = SandboxCharge.update(refunded=SandboxCharge.refunded + amount).where(
                (SandboxCharge.id == charge.id) & (SandboxCharge.refunded + amount <= SandboxCharge.amount)
            ).execute()
            if not rows:
                return RefundResult(RefundResult.ERROR, message="The refund is more than what is left of the charge.")
            refund = SandboxRefund.create(
                transaction=f"sbx_re_{secrets.token_hex(8)}", charge=transaction, idempotency_key=key, amount=amount
            )
        return self._answer(fault, RefundResult(RefundResult.APPROVED, refund.transaction))

    # --- the hosted page's side ----------------------------------------------------------

    def result_token(self, checkout: SandboxCheckout) -> str:
        """The signed, single-use token the page sends back to the practice."""
        return self._signer.dumps(checkout.token)

    def result_url(self, checkout: SandboxCheckout) -> str:
        separator = "&" if "?" in checkout.return_url else "?"
        return f"{checkout.return_url}{separator}result={self.result_token(checkout)}"
