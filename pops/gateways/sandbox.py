"""The built-in sandbox gateway: a hosted card page and an API that behave like a real provider's.

Its hosted page is its own small Starlette app (mounted apart from the portal, as if it lived on
another host); its records are its own tables (Sandbox*). POPS talks to it only through the
Gateway interface. Test cards (PRODUCT.md), any future expiry, any CVC:
4242 4242 4242 4242 approved · 4000 0000 0000 0002 declined · 4000 0000 0000 9995 insufficient
funds · 4000 0000 0000 0119 processing error. Other numbers that pass the Luhn check are approved.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from decimal import Decimal

from itsdangerous import BadSignature
from peewee import IntegrityError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import clock, signing
from ..db import database
from .sandbox_tables import SandboxCardToken, SandboxCharge, SandboxCheckout, SandboxRefund
from . import (
    ChargeResult,
    Checkout,
    CheckoutOptions,
    GatewayUnavailable,
    InvalidResult,
    RefundResult,
    StoredCardToken,
)

CHECKOUT_MINUTES = 30
RESULT_MAX_AGE = 3600
MOUNT = "/sandbox-gateway"

# number -> (behaviour, what the patient is told)
TEST_CARDS = {
    "4000000000000002": ("declined", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
    "4000000000000119": ("error", "The card processor had a problem, so the payment did not go through."),
}
WALLET_CARD = ("Visa", "4242")
WALLET_NAMES = {"google_pay": "Google Pay", "apple_pay": "Apple Pay"}


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if re.match(r"5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720)", number):
        return "Mastercard"
    if re.match(r"3[47]", number):
        return "American Express"
    if re.match(r"6011|65|64[4-9]", number):
        return "Discover"
    return "Card"


def check_card(number: str, expiry: str, cvc: str, require_cvv: bool, today: dt.date) -> tuple[dict[str, str], tuple[str, int, int] | None]:
    """Validate what was typed on the hosted page: errors by field, or (digits, month, year)."""
    errors: dict[str, str] = {}
    digits = re.sub(r"[\s-]", "", number or "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        errors["number"] = "Enter the card number (12 to 19 digits)."
    elif not luhn_ok(digits):
        errors["number"] = "That card number is not valid. Please check it."
    month = year = 0
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", expiry or "")
    if not match or not 1 <= int(match.group(1)) <= 12:
        errors["expiry"] = "Enter the expiry date as MM/YY."
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year += 2000 if year < 100 else 0
        if (year, month) < (today.year, today.month):
            errors["expiry"] = "This card has expired."
    cvc = (cvc or "").strip()
    if cvc and not re.fullmatch(r"\d{3,4}", cvc):
        errors["cvc"] = "The security code is the 3 or 4 digits on the card."
    elif require_cvv and not cvc:
        errors["cvc"] = "Enter the card's security code (3 or 4 digits)."
    return errors, (None if errors else (digits, month, year))


def _options(checkout: SandboxCheckout) -> CheckoutOptions:
    return CheckoutOptions(**json.loads(checkout.options))


def _result(charge: SandboxCharge, message: str = "") -> ChargeResult:
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
        message=message or _message(charge),
        stored_card=stored,
        charged_at=charge.created_at,
    )


def _message(charge: SandboxCharge) -> str:
    for behaviour, text in TEST_CARDS.values():
        if behaviour == charge.decline_code:
            return text
    return ""


class SandboxGateway:
    """The sandbox provider's API, as POPS calls it (in-process here; over HTTPS for a real one)."""

    name = "sandbox"

    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._signer = signing.serializer(secret_key, "sandbox.result")
        self.unreachable = False  # tests switch the network off

    def _call(self) -> None:
        if self.unreachable:
            raise GatewayUnavailable("the sandbox gateway did not answer")

    # --- API ---------------------------------------------------------------------------

    def create_checkout(self, key, amount, description, return_url, options: CheckoutOptions) -> Checkout:
        self._call()
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
        return Checkout(id=checkout.token, url=f"{self.base_url}{MOUNT}/checkout/{checkout.token}")

    def confirm(self, result_token: str) -> ChargeResult:
        self._call()
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
            return self._checkout_result(checkout)

    def _checkout_result(self, checkout: SandboxCheckout) -> ChargeResult | None:
        if checkout.charge:
            return _result(SandboxCharge.get(SandboxCharge.transaction == checkout.charge))
        if checkout.status == "canceled":
            return ChargeResult(key=checkout.idempotency_key, status="canceled", amount=checkout.amount)
        return ChargeResult(key=checkout.idempotency_key, status="open", amount=checkout.amount)

    def charge_stored(self, key, amount, card_token) -> ChargeResult:
        self._call()
        existing = SandboxCharge.get_or_none(SandboxCharge.idempotency_key == key)
        if existing is not None:
            return _result(existing)
        card = SandboxCardToken.get_or_none(SandboxCardToken.token == card_token)
        if card is None:
            return ChargeResult(key=key, status="declined", amount=amount, message="This saved card is no longer available.")
        try:
            with database.atomic():
                charge = _make_charge(key, amount, card.behaviour, card.brand, card.last4, "", card.token)
        except IntegrityError:
            charge = SandboxCharge.get(SandboxCharge.idempotency_key == key)
        return _result(charge)

    def lookup(self, key) -> ChargeResult | None:
        self._call()
        charge = SandboxCharge.get_or_none(SandboxCharge.idempotency_key == key)
        if charge is not None:
            return _result(charge)
        checkout = SandboxCheckout.get_or_none(SandboxCheckout.idempotency_key == key)
        if checkout is None:
            return None
        if checkout.status == "open" and clock.now() >= checkout.expires_at:
            SandboxCheckout.update(status="canceled").where(
                (SandboxCheckout.id == checkout.id) & (SandboxCheckout.status == "open")
            ).execute()
            return self.lookup(key)
        result = self._checkout_result(checkout)
        return None if result.status == "canceled" else result

    def cancel(self, key) -> ChargeResult | None:
        self._call()
        SandboxCheckout.update(status="canceled").where(
            (SandboxCheckout.idempotency_key == key) & (SandboxCheckout.status == "open")
        ).execute()
        charge = SandboxCharge.get_or_none(SandboxCharge.idempotency_key == key)
        return _result(charge) if charge is not None else None

    def refund(self, key, transaction, amount: Decimal) -> RefundResult:
        self._call()
        with database.atomic():
            done = SandboxRefund.get_or_none(SandboxRefund.idempotency_key == key)
            if done is not None:
                return RefundResult("approved", done.transaction)
            charge = SandboxCharge.get_or_none(SandboxCharge.transaction == transaction)
            if charge is None or charge.status != "approved":
                return RefundResult("error", message="There is no approved charge to refund.")
            rows = SandboxCharge.update(refunded=SandboxCharge.refunded + amount).where(
                (SandboxCharge.id == charge.id) & (SandboxCharge.refunded + amount <= SandboxCharge.amount)
            ).execute()
            if not rows:
                return RefundResult("error", message="The refund is more than what is left of the charge.")
            refund = SandboxRefund.create(
                transaction=f"sbx_re_{secrets.token_hex(8)}", charge=transaction, idempotency_key=key, amount=amount
            )
        return RefundResult("approved", refund.transaction)

    # --- the hosted page's side ----------------------------------------------------------

    def result_url(self, checkout: SandboxCheckout) -> str:
        separator = "&" if "?" in checkout.return_url else "?"
        return f"{checkout.return_url}{separator}result={self._signer.dumps(checkout.token)}"


def _make_charge(key, amount, behaviour, brand, last4, wallet, card_token) -> SandboxCharge:
    status = {"declined": "declined", "insufficient_funds": "declined", "error": "error"}.get(behaviour, "approved")
    return SandboxCharge.create(
        transaction=f"sbx_ch_{secrets.token_hex(8)}",
        idempotency_key=key,
        amount=amount if status == "approved" else Decimal("0.00"),
        status=status,
        decline_code=behaviour if status != "approved" else "",
        brand=brand,
        last4=last4,
        wallet=wallet,
        card_token=card_token,
    )


# --- the hosted page -------------------------------------------------------------------------

def _render(template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    from ..web.templating import env

    return HTMLResponse(env.get_template(template).render(context), status_code=status_code)


def _load(token: str) -> SandboxCheckout | None:
    return SandboxCheckout.get_or_none(SandboxCheckout.token == token)


def _page(gateway: SandboxGateway, checkout: SandboxCheckout, errors=None, values=None, status_code=200) -> Response:
    options = _options(checkout)
    return _render("sandbox/checkout.html", {
        "checkout": checkout,
        "options": options,
        "errors": errors or {},
        "values": values or {},
        "wallet_names": WALLET_NAMES,
        "cancel_action": f"{MOUNT}/checkout/{checkout.token}/cancel",
    }, status_code)


def _closed(gateway: SandboxGateway, checkout: SandboxCheckout) -> Response:
    if checkout.status in ("completed", "canceled"):
        # Back button or a second click: send the patient back to the practice with the result.
        return RedirectResponse(gateway.result_url(checkout), status_code=303)
    return _render("sandbox/expired.html", {"checkout": checkout}, 410)


def _on_open_checkout(handler):
    """Load the checkout named in the URL; a missing one is 404, a finished or expired one sends
    the patient back (or says it expired). `handler(gateway, checkout, form)` sees open ones only."""

    def endpoint(request: Request, form=None) -> Response:
        gateway: SandboxGateway = request.app.state.gateway
        with database.connection_context():
            checkout = _load(request.path_params["token"])
            if checkout is None:
                return _render("sandbox/expired.html", {"checkout": None}, 404)
            if checkout.status != "open" or clock.now() >= checkout.expires_at:
                return _closed(gateway, checkout)
            return handler(gateway, checkout, form)

    return endpoint


@_on_open_checkout
def _show(gateway: SandboxGateway, checkout: SandboxCheckout, form) -> Response:
    return _page(gateway, checkout)


@_on_open_checkout
def _pay(gateway: SandboxGateway, checkout: SandboxCheckout, form) -> Response:
    options = _options(checkout)
    wallet = str(form.get("wallet", ""))
    store = bool(form.get("store")) and options.allow_store
    if wallet:
        if wallet not in WALLET_NAMES or not getattr(options, wallet):
            return _page(gateway, checkout, {"form": "That payment method is not available."}, status_code=400)
        behaviour, brand, last4, exp = "approve", WALLET_CARD[0], WALLET_CARD[1], None
    else:
        if not options.card:
            return _page(gateway, checkout, {"form": "Card payments are not available."}, status_code=400)
        values = {"number": str(form.get("number", "")), "expiry": str(form.get("expiry", "")),
                  "name": str(form.get("name", ""))}
        errors, card = check_card(values["number"], values["expiry"], str(form.get("cvc", "")),
                                  options.require_cvv, clock.now().date())
        if card is None:
            # The number is typed again: a page never echoes a card number back.
            return _page(gateway, checkout, errors, {"expiry": values["expiry"], "name": values["name"]}, 400)
        digits, month, year = card
        behaviour = TEST_CARDS.get(digits, ("approve", ""))[0]
        brand, last4, exp = card_brand(digits), digits[-4:], (month, year)
    with database.atomic():
        moved = SandboxCheckout.update(status="completed").where(
            (SandboxCheckout.id == checkout.id) & (SandboxCheckout.status == "open")
        ).execute()
        if not moved:
            return _closed(gateway, SandboxCheckout.get_by_id(checkout.id))
        card_token = ""
        if store and exp is not None and behaviour == "approve":
            card_token = SandboxCardToken.create(
                token=f"sbx_card_{secrets.token_hex(8)}", brand=brand, last4=last4,
                exp_month=exp[0], exp_year=exp[1], behaviour=behaviour,
            ).token
        charge = _make_charge(checkout.idempotency_key, checkout.amount, behaviour, brand, last4, wallet, card_token)
        SandboxCheckout.update(charge=charge.transaction).where(SandboxCheckout.id == checkout.id).execute()
        checkout = SandboxCheckout.get_by_id(checkout.id)
    return RedirectResponse(gateway.result_url(checkout), status_code=303)


@_on_open_checkout
def _cancel(gateway: SandboxGateway, checkout: SandboxCheckout, form) -> Response:
    SandboxCheckout.update(status="canceled").where(
        (SandboxCheckout.id == checkout.id) & (SandboxCheckout.status == "open")
    ).execute()
    return _closed(gateway, SandboxCheckout.get_by_id(checkout.id))


def _posted(handler):
    async def endpoint(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=20)
        return await run_in_threadpool(handler, request, form)

    return endpoint


def hosted_page_app(gateway: SandboxGateway) -> Starlette:
    """The sandbox's hosted card page, a separate app: mount it at MOUNT."""
    app = Starlette(routes=[
        Route("/checkout/{token}", _show, methods=["GET"]),
        Route("/checkout/{token}", _posted(_pay), methods=["POST"]),
        Route("/checkout/{token}/cancel", _posted(_cancel), methods=["POST"]),
    ])
    app.state.gateway = gateway
    return app
