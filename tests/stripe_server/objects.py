"""Stripe objects built from Stripe's own published examples (fixtures.json, MIT, Stripe, Inc.).

Each builder takes the fixture as its template and fills what this server knows; fields the
server has no use for keep the fixture's neutral values (nulls, empty lists) or are reset to them.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from .wire import new_id

_FIXTURES = json.loads((Path(__file__).with_name("fixtures.json")).read_text())["resources"]
API_VERSION = "2026-10-28.endive"


def template(kind: str) -> dict:
    return copy.deepcopy(_FIXTURES[kind])


def checkout_session(now: int, url_base: str, **fields) -> dict:
    obj = template("checkout.session")
    session_id = new_id("cs_test_a1", 56)
    obj.update(
        id=session_id, created=now, url=f"{url_base}/c/pay/{session_id}", livemode=False,
        adaptive_pricing={"enabled": False}, after_expiration=None, amount_subtotal=0, amount_total=0,
        automatic_tax={"enabled": False, "liability": None, "provider": None, "status": None},
        collected_information=None, consent=None, consent_collection=None, currency_conversion=None,
        custom_text={"after_submit": None, "shipping_address": None, "submit": None,
                     "terms_of_service_acceptance": None},
        customer_details=None, invoice_creation={"enabled": False, "invoice_data": obj["invoice_creation"]["invoice_data"]},
        managed_payments={"enabled": False}, payment_intent=None, payment_method_configuration_details=None,
        payment_method_options={"card": {"request_three_d_secure": "automatic"}}, payment_status="unpaid",
        shipping_address_collection=None, shipping_cost=None, status="open",
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}, ui_mode="hosted",
        customer_creation="if_required", payment_method_collection="if_required", currency="usd",
    )
    obj.update(fields)
    return obj


def payment_intent(now: int, **fields) -> dict:
    obj = template("payment_intent")
    pi_id = new_id("pi_3")
    obj.update(
        id=pi_id, created=now, client_secret=f"{pi_id}_secret_{new_id('', 25)}", canceled_at=None,
        last_payment_error=None, next_action=None, processing=None, shipping=None, transfer_data=None,
        automatic_payment_methods=None, payment_method_configuration_details=None,
        managed_payments={"enabled": False}, payment_method_options={"card": {"request_three_d_secure": "automatic"}},
    )
    obj.update(fields)
    return obj


def card_details(card: dict) -> dict:
    """The `card` hash of a payment method for a test card (see cards.py)."""
    obj = template("payment_method")["card"]
    obj.update(brand=card["brand"], display_brand=card["brand"], last4=card["last4"],
               exp_month=card["exp_month"], exp_year=card["exp_year"], fingerprint=card["fingerprint"],
               networks={"available": [card["brand"]], "preferred": None}, wallet=None,
               checks={"address_line1_check": None, "address_postal_code_check": None,
                       "cvc_check": "pass" if card.get("cvc") else None})
    return obj


def payment_method(now: int, card: dict, customer: str | None = None, **fields) -> dict:
    obj = template("payment_method")
    obj.update(id=new_id("pm_1"), created=now, customer=customer, card=card_details(card), metadata={},
               billing_details={"address": {"city": None, "country": None, "line1": None, "line2": None,
                                            "postal_code": None, "state": None},
                                "email": None, "name": card.get("name"), "phone": None, "tax_id": None})
    obj["_number"] = card["number"]  # private: which test card this is (stripped from answers)
    obj.update(fields)
    return obj


def charge(now: int, intent: dict, method: dict, outcome: dict) -> dict:
    obj = template("charge")
    charge_id = new_id("ch_3")
    succeeded = outcome["status"] == "succeeded"
    details = template("charge")["payment_method_details"]
    card = method["card"]
    details["card"].update(brand=card["brand"], last4=card["last4"], exp_month=card["exp_month"],
                           exp_year=card["exp_year"], fingerprint=card["fingerprint"], network=card["brand"],
                           wallet=None, amount_authorized=intent["amount"] if succeeded else None)
    details["card"]["checks"]["cvc_check"] = card["checks"]["cvc_check"]
    obj.update(
        id=charge_id, created=now, amount=intent["amount"], currency=intent["currency"],
        amount_captured=intent["amount"] if succeeded else 0, captured=succeeded, paid=succeeded,
        status=outcome["status"], failure_code=outcome.get("failure_code"),
        failure_message=outcome.get("failure_message"), customer=intent["customer"],
        description=intent["description"], metadata=dict(intent["metadata"]), payment_intent=intent["id"],
        payment_method=method["id"], payment_method_details=details, source=None, transfer_data=None,
        balance_transaction=new_id("txn_3") if succeeded else None, billing_details=method["billing_details"],
        outcome={"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                 "network_status": outcome["network_status"], "reason": outcome.get("reason"),
                 "risk_level": "normal", "seller_message": outcome["seller_message"], "type": outcome["type"]},
        receipt_url=f"https://pay.stripe.com/receipts/payment/{charge_id}",
        refunds={"data": [], "has_more": False, "object": "list", "url": f"/v1/charges/{charge_id}/refunds"},
        shipping=None,
    )
    return obj


def refund(now: int, charge_obj: dict, amount: int, **fields) -> dict:
    obj = template("refund")
    obj.update(id=new_id("re_3"), created=now, amount=amount, charge=charge_obj["id"],
               currency=charge_obj["currency"], payment_intent=charge_obj["payment_intent"],
               payment_method=charge_obj["payment_method"], status="succeeded", metadata={},
               balance_transaction=new_id("txn_3"), destination_details={"card": {
                   "reference": None, "reference_status": "pending", "reference_type": "acquirer_reference_number",
                   "type": "refund"}, "type": "card"})
    obj.update(fields)
    return obj


def customer(now: int, **fields) -> dict:
    obj = template("customer")
    obj.update(id=new_id("cus_", 14), created=now, discount=None, shipping=None, currency=None,
               invoice_prefix=new_id("", 8).upper(), metadata={})
    obj.update(fields)
    return obj


def dispute(now: int, charge_obj: dict, reason: str, amount: int | None = None) -> dict:
    """No dispute is among the published fixtures: this follows the Dispute object's reference."""
    return {
        "id": new_id("dp_1"), "object": "dispute", "amount": charge_obj["amount"] if amount is None else amount,
        "balance_transactions": [], "charge": charge_obj["id"], "created": now, "currency": charge_obj["currency"],
        "evidence": {}, "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False,
                                              "past_due": False, "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {},
        "payment_intent": charge_obj["payment_intent"], "reason": reason, "status": "needs_response",
    }


def event(now: int, type_: str, obj: dict, request_id: str | None, idempotency_key: str | None,
          previous: dict | None = None) -> dict:
    result = template("event")
    data = {"object": copy.deepcopy(obj)}
    if previous:
        data["previous_attributes"] = previous
    result.update(id=new_id("evt_3"), created=now, type=type_, data=data, api_version=API_VERSION,
                  livemode=False, pending_webhooks=1,
                  request={"id": request_id, "idempotency_key": idempotency_key})
    return result


def public(obj):
    """An object as answered: private fields (a leading underscore) removed, recursively (metadata as is)."""
    if isinstance(obj, dict):
        return {k: v if k == "metadata" else public(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj
