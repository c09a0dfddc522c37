"""SetupIntents: save a card for later without a payment (create, with confirm; retrieve)."""
from __future__ import annotations

from . import cards, objects
from .payments import _method
from .state import Account
from .wire import StripeError, as_list, boolean, invalid, metadata, new_id, text

USAGES = {"on_session", "off_session"}


def create_setup_intent(acct: Account, params: dict) -> dict:
    customer = text(params, "customer")
    if customer:
        acct.get(customer, "customer", "customer")
    usage = text(params, "usage") or "off_session"
    if usage not in USAGES:
        raise invalid(f"Invalid usage: {usage}", param="usage")
    method = _method(acct, params, customer)
    intent = objects.template("setup_intent")
    intent_id = new_id("seti_1")
    intent.update(
        id=intent_id, created=acct.now(), client_secret=f"{intent_id}_secret_{new_id('', 25)}", customer=customer,
        description=text(params, "description"), last_setup_error=None, next_action=None,
        metadata=metadata(params), payment_method=method and method["id"], usage=usage,
        automatic_payment_methods=None, payment_method_configuration_details=None,
        payment_method_types=as_list(params.get("payment_method_types")) or ["card"],
        status="requires_confirmation" if method else "requires_payment_method")
    acct.add(intent)
    if boolean(params, "confirm"):
        if method is None:
            raise invalid("You cannot confirm this SetupIntent because it's missing a payment method.",
                          param="payment_method", code="setup_intent_unexpected_state")
        _confirm(acct, intent, method)
    return intent


def _confirm(acct: Account, intent: dict, method: dict) -> None:
    """A declined card fails (402 with the SetupIntent); any other is saved (3-D Secure taken as done)."""
    number = method["_number"]
    if cards.behaviour(number) == cards.DECLINE:
        code, decline_code, message = cards.DECLINES[number]
        intent.update(status="requires_payment_method", payment_method=None,
                      last_setup_error={"type": "card_error", "code": code, "decline_code": decline_code,
                                        "message": message, "payment_method": objects.public(method)})
        acct.emit("setup_intent.setup_failed", intent)
        raise StripeError(402, "card_error", message, code=code, decline_code=decline_code,
                          setup_intent=objects.public(intent))
    if intent["customer"] and method["customer"] is None:
        method.update(customer=intent["customer"], allow_redisplay="limited")
    intent.update(status="succeeded", last_setup_error=None)
    acct.emit("setup_intent.succeeded", intent)
