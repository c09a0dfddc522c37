"""Checkout Sessions and PaymentIntents: create, pay with a test card, 3-D Secure, expire."""
from __future__ import annotations

from urllib.parse import urlencode

from . import cards, objects
from .state import Account
from .wire import StripeError, as_list, boolean, integer, invalid, metadata, text

MINIMUM = {"usd": 50}  # Stripe's minimum charge, in cents
MIN_EXPIRY, MAX_EXPIRY = 30 * 60, 24 * 3600
LOCALES = {"auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA",
           "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro",
           "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW"}
SETUP_FUTURE_USAGE = {"on_session", "off_session"}


def _too_small(amount: int, currency: str, param: str) -> None:
    if amount < MINIMUM.get(currency, 50):
        raise invalid(f"Amount must be at least $0.50 {currency}", param=param, code="amount_too_small")


def _currency(params: dict, name: str, label: str) -> str:
    value = text(params, name, required=True, label=label).lower()
    if value != "usd":
        raise invalid(f"Invalid currency: {value}. This test server knows usd only.", param=label)
    return value


def _line_items(params: dict) -> list[dict]:
    items = as_list(params.get("line_items"))
    if not items:
        raise invalid("Missing required param: line_items.", param="line_items", code="parameter_missing")
    result = []
    for i, item in enumerate(items):
        where = f"line_items[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("price_data"), dict):
            raise invalid(f"Missing required param: {where}[price_data].", param=f"{where}[price_data]",
                          code="parameter_missing")
        price = item["price_data"]
        product = price.get("product_data")
        if not isinstance(product, dict) or not text(product, "name"):
            raise invalid(f"Missing required param: {where}[price_data][product_data][name].",
                          param=f"{where}[price_data][product_data][name]", code="parameter_missing")
        unit = integer(price, "unit_amount", required=True, label=f"{where}[price_data][unit_amount]")
        quantity = integer(item, "quantity", required=True, label=f"{where}[quantity]")
        if unit < 0 or quantity < 1:
            raise invalid("Invalid positive integer", param=f"{where}[price_data][unit_amount]")
        result.append({"name": product["name"], "unit_amount": unit, "quantity": quantity,
                       "currency": _currency(price, "currency", f"{where}[price_data][currency]")})
    return result


def create_session(acct: Account, params: dict) -> dict:
    if params.get("mode") != "payment":
        raise invalid("This test server supports mode=payment only.", param="mode")
    items = _line_items(params)
    total = sum(i["unit_amount"] * i["quantity"] for i in items)
    if total < MINIMUM["usd"]:
        raise invalid("The Checkout Session's total amount due must add up to at least $0.50 usd",
                      param="line_items", code="amount_too_small")
    now = acct.now()
    expires_at = integer(params, "expires_at")
    if expires_at is None:
        expires_at = now + MAX_EXPIRY
    elif expires_at < now + MIN_EXPIRY:
        raise invalid("The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                      param="expires_at")
    elif expires_at > now + MAX_EXPIRY:
        raise invalid("The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                      param="expires_at")
    customer = text(params, "customer")
    if customer:
        acct.get(customer, "customer", "customer")
    locale = text(params, "locale")
    if locale and locale not in LOCALES:
        raise invalid(f"Invalid locale: {locale}", param="locale")
    reference = text(params, "client_reference_id")
    if reference and len(reference) > 200:
        raise invalid("client_reference_id must be at most 200 characters.", param="client_reference_id")
    pi_data = params.get("payment_intent_data") or {}
    if not isinstance(pi_data, dict):
        raise invalid("Invalid hash", param="payment_intent_data")
    usage = text(pi_data, "setup_future_usage", label="payment_intent_data[setup_future_usage]")
    if usage and usage not in SETUP_FUTURE_USAGE:
        raise invalid(f"Invalid payment_intent_data[setup_future_usage]: {usage}",
                      param="payment_intent_data[setup_future_usage]")
    types = as_list(params.get("payment_method_types")) or ["card"]
    if types != ["card"]:
        raise invalid("This test server takes payment_method_types=[card] only.", param="payment_method_types")
    session = objects.checkout_session(
        now, acct.checkout_base, amount_subtotal=total, amount_total=total, currency=items[0]["currency"],
        cancel_url=text(params, "cancel_url"), success_url=text(params, "success_url"),
        client_reference_id=reference, customer=customer, customer_email=text(params, "customer_email"),
        expires_at=expires_at, locale=locale, metadata=metadata(params), payment_method_types=types,
        submit_type=text(params, "submit_type"), mode="payment",
    )
    session["_line_items"] = items
    session["_payment_intent_data"] = {
        "metadata": metadata(pi_data), "setup_future_usage": usage,
        "description": text(pi_data, "description") or items[0]["name"],
    }
    return acct.add(session)


def expire_due(acct: Account) -> None:
    """Expire every open session past its expires_at (Stripe does it within moments)."""
    with acct.lock:
        now = acct.now()
        for session in acct.all("checkout.session"):
            if session["status"] == "open" and session["expires_at"] <= now:
                _expire(acct, session)


def expire_session(acct: Account, session_id: str) -> dict:
    session = acct.get(session_id, "checkout.session", "session")
    if session["status"] != "open":
        raise invalid('Only Checkout Sessions with a status in ["open"] can be expired.', param="session")
    return _expire(acct, session)


def _expire(acct: Account, session: dict) -> dict:
    session.update(status="expired", url=None)
    intent = acct.find(session["payment_intent"])
    if intent and intent["status"] not in ("succeeded", "canceled"):
        intent.update(status="canceled", canceled_at=acct.now(), cancellation_reason="abandoned")
    acct.emit("checkout.session.expired", session)
    return session


def list_sessions(acct: Account, params: dict) -> list[dict]:
    result = acct.all("checkout.session")
    for name in ("payment_intent", "customer", "status"):
        if params.get(name):
            result = [s for s in result if s[name] == params[name]]
    return result


def pay_session(acct: Account, session_id: str, card: dict, async_payment: bool = False) -> dict:
    """The patient pays on the hosted page: {"paid": bool, "error": message, "redirect": url}."""
    session = acct.get(session_id, "checkout.session", "session")
    expire_due(acct)
    if session["status"] != "open":
        return {"paid": False, "error": "This Checkout Session is no longer active.", "redirect": None}
    data = session["_payment_intent_data"]
    intent = acct.find(session["payment_intent"])
    if intent is None:
        intent = acct.add(objects.payment_intent(
            acct.now(), amount=session["amount_total"], currency=session["currency"], customer=session["customer"],
            metadata=dict(data["metadata"]), setup_future_usage=data["setup_future_usage"],
            description=data["description"], status="requires_payment_method", payment_method_types=["card"]))
        session["payment_intent"] = intent["id"]
    method = acct.add(objects.payment_method(acct.now(), card))
    if async_payment:
        intent.update(status="processing", payment_method=method["id"])
        _complete(acct, session, intent, "unpaid")
        return {"paid": False, "error": None, "redirect": success_url(session)}
    outcome = charge(acct, intent, method, in_checkout=True)
    if outcome["status"] != "succeeded":
        return {"paid": False, "error": outcome["failure_message"], "redirect": None}
    _complete(acct, session, intent, "paid")
    return {"paid": True, "error": None, "redirect": success_url(session)}


def settle_async(acct: Account, session_id: str, succeeded: bool) -> dict:
    session = acct.get(session_id, "checkout.session", "session")
    intent = acct.get(session["payment_intent"], "payment_intent")
    if session["status"] != "complete" or intent["status"] != "processing":
        raise ValueError(f"{session_id} has no asynchronous payment in progress")
    method = acct.get(intent["payment_method"], "payment_method")
    if succeeded:
        _succeed(acct, intent, method)
        session["payment_status"] = "paid"
        acct.emit("checkout.session.async_payment_succeeded", session)
    else:
        _fail(acct, intent, method, cards.declined_outcome("4000000000000002"))
        acct.emit("checkout.session.async_payment_failed", session)
    return session


def _complete(acct: Account, session: dict, intent: dict, payment_status: str) -> None:
    session.update(status="complete", payment_status=payment_status, customer=intent["customer"], url=None,
                   customer_details={"address": None, "business_name": None, "email": session["customer_email"],
                                     "individual_name": None, "name": None, "phone": None,
                                     "tax_exempt": "none", "tax_ids": []})
    acct.emit("checkout.session.completed", session)


def success_url(session: dict) -> str | None:
    url = session["success_url"]
    return url.replace("{CHECKOUT_SESSION_ID}", session["id"]) if url else None


def charge(acct: Account, intent: dict, method: dict, in_checkout: bool = False, off_session: bool = False,
           return_url: str | None = None, authenticated: bool = False) -> dict:
    """Confirm intent with method: succeeded, failed (declined) or requires_action (3-D Secure)."""
    number = method["_number"]
    kind = cards.behaviour(number)
    if kind == cards.AUTHENTICATE and not in_checkout and not authenticated:
        intent["payment_method"] = method["id"]
        if off_session:
            outcome = {"failure_code": "authentication_required", "decline_code": "authentication_required",
                       "failure_message": "Your card was declined. This transaction requires authentication."}
            _fail(acct, intent, method, outcome, with_charge=False)
            return {"status": "failed", **outcome}
        intent.update(status="requires_action", next_action=_next_action(acct, intent, return_url))
        return {"status": "requires_action"}
    if kind == cards.DECLINE:
        outcome = cards.declined_outcome(number)
        _fail(acct, intent, method, outcome)
        return outcome
    _succeed(acct, intent, method)
    return cards.APPROVED


def _next_action(acct: Account, intent: dict, return_url: str | None) -> dict:
    if not return_url:  # Stripe asks its own JavaScript to authenticate
        return {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
    intent["_return_url"] = return_url
    return {"type": "redirect_to_url", "redirect_to_url": {
        "return_url": return_url, "url": f"{acct.three_ds_base}/3ds/{intent['id']}"}}


def _succeed(acct: Account, intent: dict, method: dict) -> None:
    if intent["setup_future_usage"] and method["customer"] is None:
        if intent["customer"] is None:
            intent["customer"] = acct.add(objects.customer(acct.now()))["id"]
        method.update(customer=intent["customer"], allow_redisplay="limited")
    paid = acct.add(objects.charge(acct.now(), intent, method, cards.APPROVED))
    intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=paid["id"],
                  payment_method=method["id"], last_payment_error=None, next_action=None)
    acct.emit("payment_intent.succeeded", intent)


def _fail(acct: Account, intent: dict, method: dict, outcome: dict, with_charge: bool = True) -> None:
    failed = acct.add(objects.charge(acct.now(), intent, method, outcome)) if with_charge else None
    error = {"type": "card_error", "code": outcome["failure_code"], "message": outcome["failure_message"],
             "decline_code": outcome.get("decline_code"), "charge": failed and failed["id"],
             "payment_method": objects.public(method),
             "doc_url": f"https://stripe.com/docs/error-codes/{outcome['failure_code'].replace('_', '-')}"}
    intent.update(status="requires_payment_method", payment_method=None, next_action=None,
                  last_payment_error={k: v for k, v in error.items() if v is not None},
                  latest_charge=failed["id"] if failed else intent["latest_charge"])
    acct.emit("payment_intent.payment_failed", intent)


def card_error(intent: dict) -> StripeError:
    """The 402 a confirm answers when the card was declined: Stripe's error, with the PaymentIntent."""
    e = intent["last_payment_error"]
    return StripeError(402, "card_error", e["message"], code=e["code"], decline_code=e.get("decline_code"),
                       charge=e.get("charge"), payment_intent=objects.public(intent),
                       payment_method=e.get("payment_method"))


def create_intent(acct: Account, params: dict) -> dict:
    amount = integer(params, "amount", required=True)
    currency = _currency(params, "currency", "currency")
    _too_small(amount, currency, "amount")
    customer = text(params, "customer")
    if customer:
        acct.get(customer, "customer", "customer")
    usage = text(params, "setup_future_usage")
    if usage and usage not in SETUP_FUTURE_USAGE:
        raise invalid(f"Invalid setup_future_usage: {usage}", param="setup_future_usage")
    if boolean(params, "off_session") and not boolean(params, "confirm"):
        raise invalid("off_session may only be used with confirm=true.", param="off_session")
    method = _method(acct, params, customer)
    intent = acct.add(objects.payment_intent(
        acct.now(), amount=amount, currency=currency, customer=customer, metadata=metadata(params),
        description=text(params, "description"), setup_future_usage=usage,
        payment_method=method and method["id"], payment_method_types=as_list(params.get("payment_method_types")) or ["card"],
        status="requires_confirmation" if method else "requires_payment_method"))
    if boolean(params, "confirm"):
        return _confirm(acct, intent, params)
    return intent


def confirm_intent(acct: Account, intent_id: str, params: dict) -> dict:
    intent = acct.get(intent_id, "payment_intent", "intent")
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise invalid(f"You cannot confirm this PaymentIntent because it has a status of {intent['status']}.",
                      param="intent", code="payment_intent_unexpected_state")
    method = _method(acct, params, intent["customer"])
    if method:
        intent["payment_method"] = method["id"]
    return _confirm(acct, intent, params)


def _method(acct: Account, params: dict, customer: str | None) -> dict | None:
    method_id = text(params, "payment_method")
    if not method_id:
        return None
    method = acct.get(method_id, "payment_method", "payment_method")
    if method["customer"] and method["customer"] != customer:
        raise invalid(f"The provided PaymentMethod {method_id} belongs to a different Customer.",
                      param="payment_method")
    if method["customer"] is None and method.get("_used"):
        raise invalid(f"The provided PaymentMethod {method_id} was previously used without being attached "
                      "to a Customer. It may not be used again.", param="payment_method")
    return method


def _confirm(acct: Account, intent: dict, params: dict) -> dict:
    method = acct.find(intent["payment_method"])
    if method is None:
        raise invalid("You cannot confirm this PaymentIntent because it's missing a payment method.",
                      param="payment_method", code="payment_intent_unexpected_state")
    method["_used"] = True
    result = charge(acct, intent, method, off_session=boolean(params, "off_session"),
                    return_url=text(params, "return_url"))
    if result["status"] == "failed":
        raise card_error(intent)
    return intent


def finish_3ds(acct: Account, intent_id: str, approve: bool) -> str:
    """The bank's 3-D Secure page answered: the PaymentIntent's outcome, and where the browser goes."""
    intent = acct.get(intent_id, "payment_intent", "intent")
    return_url = intent.get("_return_url")
    if intent["status"] == "requires_action":
        method = acct.get(intent["payment_method"], "payment_method")
        if approve:
            charge(acct, intent, method, authenticated=True)
        else:
            intent.update(status="requires_payment_method", payment_method=None, next_action=None,
                          last_payment_error={
                              "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
                              "message": "The provided PaymentMethod has failed authentication. You can provide "
                                         "payment_method_data or a new PaymentMethod to attempt to fulfill this "
                                         "PaymentIntent again.", "payment_method": objects.public(method)})
            acct.emit("payment_intent.payment_failed", intent)
    status = "succeeded" if intent["status"] == "succeeded" else "failed"
    query = urlencode({"payment_intent": intent["id"], "payment_intent_client_secret": intent["client_secret"],
                       "redirect_status": status})
    return f"{return_url}{'&' if '?' in (return_url or '') else '?'}{query}"
