"""The sandbox gateway's hosted card page: its own small Starlette app, mounted apart from the portal
as if it lived on another host. The card is typed here and never reaches POPS.

Test cards (PRODUCT.md), any future expiry, any CVC: 4242 4242 4242 4242 approved ·
4000 0000 0000 0002 declined · 4000 0000 0000 9995 insufficient funds · 4000 0000 0000 0119
processing error. Other numbers that pass the Luhn check are approved.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import clock
from ..db import database
from ..i18n import N_, from_accept_language, language
from ..templating import environment, rendering
from . import CheckoutOptions
from .sandbox_tables import APPROVE, SandboxCheckout

MOUNT = "/sandbox-gateway"

TEST_CARDS = {  # number -> behaviour (sandbox_tables.BEHAVIOURS)
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000119": "error",
}
WALLET_CARD = ("Visa", "4242")
WALLET_NAMES = {"google_pay": "Google Pay", "apple_pay": "Apple Pay"}

_env = environment()

MSG_NUMBER = N_("Enter the card number (12 to 19 digits).")
MSG_NUMBER_INVALID = N_("That card number is not valid. Please check it.")
MSG_EXPIRY = N_("Enter the expiry date as MM/YY.")
MSG_EXPIRED = N_("This card has expired.")
MSG_CVC = N_("The security code is the 3 or 4 digits on the card.")
MSG_CVC_MISSING = N_("Enter the card's security code (3 or 4 digits).")
MSG_NO_WALLET = N_("That payment method is not available.")
MSG_NO_CARD = N_("Card payments are not available.")


class ReturnSigner(Protocol):
    """The gateway's side the page needs: the signed way back to the practice."""

    def result_url(self, checkout: SandboxCheckout) -> str: ...


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
    if not (digits.isascii() and digits.isdigit()) or not 12 <= len(digits) <= 19:
        errors["number"] = MSG_NUMBER
    elif not luhn_ok(digits):
        errors["number"] = MSG_NUMBER_INVALID
    month = year = 0
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", expiry or "")
    if not match or not 1 <= int(match.group(1)) <= 12:
        errors["expiry"] = MSG_EXPIRY
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year += 2000 if year < 100 else 0
        if (year, month) < (today.year, today.month):
            errors["expiry"] = MSG_EXPIRED
    cvc = (cvc or "").strip()
    if cvc and not re.fullmatch(r"\d{3,4}", cvc):
        errors["cvc"] = MSG_CVC
    elif require_cvv and not cvc:
        errors["cvc"] = MSG_CVC_MISSING
    return errors, (None if errors else (digits, month, year))


def card_behaviour(digits: str) -> str:
    """What charging this card number does: a test card's behaviour, else approved."""
    return TEST_CARDS.get(digits, APPROVE)


def _options(checkout: SandboxCheckout) -> CheckoutOptions:
    return CheckoutOptions(**json.loads(checkout.options))


def _render(template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    with rendering(context.get("lang")):
        return HTMLResponse(_env.get_template(template).render(context), status_code=status_code)


def page_language(request: Request, checkout: SandboxCheckout | None) -> str:
    """The page speaks the guarantor's language as POPS sent it, else the browser's, else English."""
    chosen = _options(checkout).language if checkout is not None else ""
    return language(chosen or from_accept_language(request.headers.get("accept-language")))


def _page(checkout: SandboxCheckout, errors=None, values=None, status_code=200, *, lang: str) -> Response:
    return _render("sandbox/checkout.html", {
        "lang": lang,
        "checkout": checkout,
        "options": _options(checkout),
        "errors": errors or {},
        "values": values or {},
        "wallet_names": WALLET_NAMES,
        "cancel_action": f"{MOUNT}/checkout/{checkout.token}/cancel",
    }, status_code)


def _closed(gateway: ReturnSigner, checkout: SandboxCheckout, lang: str) -> Response:
    if checkout.status in (SandboxCheckout.COMPLETED, SandboxCheckout.CANCELED):
        # Back button or a second click: send the patient back to the practice with the result.
        return RedirectResponse(gateway.result_url(checkout), status_code=303)
    return _render("sandbox/expired.html", {"checkout": checkout, "lang": lang}, 410)


def _on_open_checkout(handler):
    """Load the checkout named in the URL; a missing one is 404, a finished or expired one sends
    the patient back (or says it expired). `handler(gateway, checkout, form, lang)` sees open ones only."""

    def endpoint(request: Request, form=None) -> Response:
        gateway: ReturnSigner = request.app.state.gateway
        with database.connection_context():
            checkout = SandboxCheckout.get_or_none(SandboxCheckout.token == request.path_params["token"])
            if checkout is None:
                return _render("sandbox/expired.html", {"checkout": None, "lang": page_language(request, None)}, 404)
            lang = page_language(request, checkout)
            if not checkout.is_open:
                return _closed(gateway, checkout, lang)
            return handler(gateway, checkout, form, lang)

    return endpoint


@_on_open_checkout
def _show(gateway: ReturnSigner, checkout: SandboxCheckout, form, lang: str) -> Response:
    return _page(checkout, lang=lang)


@_on_open_checkout
def _pay(gateway: ReturnSigner, checkout: SandboxCheckout, form, lang: str) -> Response:
    options = _options(checkout)
    wallet = str(form.get("wallet", ""))
    store = (bool(form.get("store")) or options.keep_card) and options.allow_store
    if wallet:
        if wallet not in WALLET_NAMES or not getattr(options, wallet):
            return _page(checkout, {"form": MSG_NO_WALLET}, status_code=400, lang=lang)
        behaviour, brand, last4, expiry = APPROVE, WALLET_CARD[0], WALLET_CARD[1], None
    else:
        if not options.card:
            return _page(checkout, {"form": MSG_NO_CARD}, status_code=400, lang=lang)
        values = {"number": str(form.get("number", "")), "expiry": str(form.get("expiry", "")),
                  "name": str(form.get("name", ""))}
        errors, card = check_card(values["number"], values["expiry"], str(form.get("cvc", "")),
                                  options.require_cvv, clock.now().date())
        if card is None:
            # The number is typed again: a page never echoes a card number back.
            return _page(checkout, errors, {"expiry": values["expiry"], "name": values["name"]}, 400, lang=lang)
        digits, month, year = card
        behaviour, brand, last4, expiry = card_behaviour(digits), card_brand(digits), digits[-4:], (month, year)
    checkout.pay(behaviour, brand, last4, wallet, expiry, store)
    # Paid now, or by a second click a moment ago: either way the patient goes back with the result.
    return _closed(gateway, SandboxCheckout.get_by_id(checkout.id), lang)


@_on_open_checkout
def _cancel(gateway: ReturnSigner, checkout: SandboxCheckout, form, lang: str) -> Response:
    checkout.close()
    return _closed(gateway, SandboxCheckout.get_by_id(checkout.id), lang)


def _posted(handler):
    async def endpoint(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=20)
        return await run_in_threadpool(handler, request, form)

    return endpoint


def hosted_page_app(gateway: ReturnSigner) -> Starlette:
    """The sandbox's hosted card page, a separate app: mount it at MOUNT."""
    app = Starlette(routes=[
        Route("/checkout/{token}", _show, methods=["GET"]),
        Route("/checkout/{token}", _posted(_pay), methods=["POST"]),
        Route("/checkout/{token}/cancel", _posted(_cancel), methods=["POST"]),
    ])
    app.state.gateway = gateway
    return app
