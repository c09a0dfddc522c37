"""Refunds and disputes, customers and their payment methods."""
from __future__ import annotations

from . import cards, objects
from .state import Account
from .wire import integer, invalid, metadata, text

REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def _charge_of(acct: Account, params: dict) -> dict:
    charge_id, intent_id = text(params, "charge"), text(params, "payment_intent")
    if bool(charge_id) == bool(intent_id):
        raise invalid("You must pass either a charge or a payment_intent (not both).", param="charge"
                      if charge_id else "payment_intent", code="parameter_missing" if not charge_id else None)
    if charge_id:
        return acct.get(charge_id, "charge", "charge")
    intent = acct.get(intent_id, "payment_intent", "payment_intent")
    charge = acct.find(intent["latest_charge"])
    if intent["status"] != "succeeded" or charge is None:
        raise invalid(f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                      param="payment_intent", code="charge_not_refundable")
    return charge


def create_refund(acct: Account, params: dict) -> dict:
    charge = _charge_of(acct, params)
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} cannot be refunded: it did not succeed.", param="charge")
    if charge["disputed"]:
        raise invalid(f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                      param="charge", code="charge_disputed")
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = integer(params, "amount")
    if amount is None:
        amount = left
    if amount <= 0:
        raise invalid("Invalid positive integer", param="amount")
    if amount > left:
        raise invalid(f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge "
                      f"(${left / 100:.2f})", param="amount")
    reason = text(params, "reason")
    if reason and reason not in REFUND_REASONS:
        raise invalid(f"Invalid reason: must be one of {', '.join(sorted(REFUND_REASONS))}", param="reason")
    refund = acct.add(objects.refund(acct.now(), charge, amount, metadata=metadata(params), reason=reason,
                                     customer=charge["customer"]))
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, objects.public(refund))
    acct.emit("refund.created", refund)
    acct.emit("charge.refunded", charge)
    return refund


def fail_refund(acct: Account, refund_id: str, reason: str = "lost_or_stolen_card") -> dict:
    """A refund that succeeded is reported failed later (the card was closed): Stripe's events."""
    refund = acct.get(refund_id, "refund")
    if refund["status"] == "failed":
        raise ValueError(f"{refund_id} has already failed")
    previous = {"status": refund["status"], "failure_reason": None}
    refund.update(status="failed", failure_reason=reason, failure_balance_transaction=objects.new_id("txn_3"))
    charge = acct.get(refund["charge"], "charge")
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    charge["refunds"]["data"] = [objects.public(acct.get(r["id"], "refund")) for r in charge["refunds"]["data"]]
    acct.emit("refund.updated", refund, previous=previous)
    acct.emit("refund.failed", refund, previous=previous)
    return refund


def list_refunds(acct: Account, params: dict) -> list[dict]:
    result = acct.all("refund")
    for name in ("charge", "payment_intent"):
        if params.get(name):
            result = [r for r in result if r[name] == params[name]]
    return result


def _paid_charge(acct: Account, object_id: str) -> dict:
    obj = acct.find(object_id)
    if obj and obj["object"] == "payment_intent":
        obj = acct.find(obj["latest_charge"])
    if not obj or obj["object"] != "charge" or obj["status"] != "succeeded":
        raise ValueError(f"{object_id} is not a succeeded charge or PaymentIntent")
    return obj


def open_dispute(acct: Account, object_id: str, reason: str = "fraudulent", amount: int | None = None) -> dict:
    charge = _paid_charge(acct, object_id)
    dispute = acct.add(objects.dispute(acct.now(), charge, reason, amount))
    charge["disputed"] = True
    acct.emit("charge.dispute.created", dispute)
    return dispute


def close_dispute(acct: Account, dispute_id: str, status: str = "won") -> dict:
    if status not in ("won", "lost", "warning_closed"):
        raise ValueError("a dispute closes as won, lost or warning_closed")
    dispute = acct.get(dispute_id, "dispute")
    previous = {"status": dispute["status"]}
    dispute["status"] = status
    acct.emit("charge.dispute.closed", dispute, previous=previous)
    return dispute


def create_customer(acct: Account, params: dict) -> dict:
    fields = {name: text(params, name) for name in ("email", "name", "phone", "description")}
    return acct.add(objects.customer(acct.now(), metadata=metadata(params), **fields))


def store_card(acct: Account, customer_id: str, number: str) -> dict:
    """A card saved for a customer as a past Checkout with setup_future_usage would have saved it."""
    acct.get(customer_id, "customer", "customer")
    return acct.add(objects.payment_method(acct.now(), cards.card(number.replace(" ", "")), customer=customer_id,
                                           allow_redisplay="limited"))


def list_methods(acct: Account, params: dict, customer_id: str | None = None) -> list[dict]:
    customer_id = customer_id or text(params, "customer")
    if customer_id:
        acct.get(customer_id, "customer", "customer")
    kind = text(params, "type")
    return [m for m in acct.all("payment_method")
            if m["customer"] and (customer_id is None or m["customer"] == customer_id)
            and (kind is None or m["type"] == kind)]


def detach_method(acct: Account, method_id: str) -> dict:
    method = acct.get(method_id, "payment_method", "payment_method")
    if method["customer"] is None:
        raise invalid("The payment method you provided is not attached to a customer so detachment is impossible.",
                      param="payment_method")
    method["customer"] = None
    method["_used"] = True  # a detached method may not be used again
    return method


def attach_method(acct: Account, method_id: str, params: dict) -> dict:
    method = acct.get(method_id, "payment_method", "payment_method")
    customer = acct.get(text(params, "customer", required=True), "customer", "customer")
    if method["customer"] or method.get("_used"):
        raise invalid("This PaymentMethod was previously used without being attached to a Customer or was "
                      "detached from a Customer, and may not be used again.", param="payment_method")
    method["customer"] = customer["id"]
    return method
