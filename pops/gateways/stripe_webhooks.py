"""Stripe's webhook events: the signature checked on the raw body, then each event acted on once.

Each event id is recorded in the same transaction as its effect, so a second delivery changes nothing.
The effects agree with the patient's return and the settle job: a session event asks Stripe about the
attempt's session as it is now and settles it (a conditional UPDATE: whoever is first wins), so events
arriving late, twice or out of order end the same. An event about nothing POPS made is answered 200
and ignored.
"""
from __future__ import annotations

import json
from typing import Callable

import stripe
from peewee import IntegrityError

from ..audit import POPS, audit
from ..db import database
from ..models import PaymentAttempt, Receipt, Transaction
from . import InvalidResult
from .stripe_objects import charge_details, dollars, field, ident, patient_message, when
from .stripe_tables import StripeEvent

TOLERANCE_SECONDS = 300
DONE, DUPLICATE, IGNORED = "done", "duplicate", "ignored"


class BadSignature(Exception):
    """The body is not signed with POPS's webhook secret, or its signature is too old."""


def receive(gateway, payload: bytes, signature: str) -> str:
    """Verify and act on one delivery; DONE, DUPLICATE or IGNORED. Raises BadSignature, or
    GatewayUnavailable when Stripe must be asked first and does not answer (Stripe delivers it again)."""
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, gateway.webhook_secret,
                                              TOLERANCE_SECONDS)
        event = json.loads(payload)
        event_id, kind, obj = event["id"], event["type"], event["data"]["object"]
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise BadSignature(str(exc)) from exc
    if StripeEvent.get_or_none(StripeEvent.event_id == event_id) is not None:
        return DUPLICATE
    handler = HANDLERS.get(kind)
    effect = handler(gateway, obj, event) if handler is not None else None
    if effect is None:
        return IGNORED
    with database.atomic():
        try:
            with database.atomic():
                StripeEvent.create(event_id=event_id, type=kind, live=bool(event.get("livemode")))
        except IntegrityError:
            return DUPLICATE  # delivered twice at once: the other delivery acted
        effect()
    return DONE


def _attempt(obj) -> PaymentAttempt | None:
    key = field(obj, "client_reference_id") or field(field(obj, "metadata"), "pops_attempt")
    return PaymentAttempt.get_or_none(PaymentAttempt.key == key) if key else None


def _sale(intent_id: str) -> Transaction | None:
    if not intent_id:
        return None
    return Transaction.get_or_none((Transaction.number == intent_id) & (Transaction.kind == Transaction.SALE)
                                   & (Transaction.status == Transaction.APPROVED))


# --- payments -----------------------------------------------------------------------------------

def session_event(gateway, session, event) -> Callable | None:
    """checkout.session.completed / async_payment_succeeded / async_payment_failed / expired."""
    from ..payments import settle

    attempt = _attempt(session)
    if attempt is None or attempt.gateway != gateway.name or field(session, "client_reference_id") != attempt.key:
        return None
    # A create whose answer was lost: Stripe's signed event names the session the key opened.
    PaymentAttempt.update(gateway_checkout=session["id"]).where(
        (PaymentAttempt.id == attempt.id) & (PaymentAttempt.gateway_checkout == "")).execute()
    try:
        result = gateway.lookup(attempt.key)
    except InvalidResult:
        return None
    if result is None:
        return None
    return lambda: settle(PaymentAttempt.get_by_id(attempt.id), result)


def payment_failed(gateway, intent, event) -> Callable | None:
    """payment_intent.payment_failed: a decline on Stripe's page is a $0.00 Unsuccessful receipt (the
    patient may try another card there); a stored card's decline settles its attempt."""
    from ..payments import settle
    from ..payments.declines import record_decline

    attempt = _attempt(intent)
    if attempt is None or attempt.gateway != gateway.name:
        return None
    if attempt.stored_card_id is not None:
        result = gateway.lookup(attempt.key)
        return (lambda: settle(PaymentAttempt.get_by_id(attempt.id), result)) if result is not None else None
    error = field(intent, "last_payment_error") or {}
    card = field(field(error, "payment_method"), "card")
    details = charge_details({"payment_method_details": {"card": card}})
    charge = ident(field(error, "charge")) or f"{intent['id']}/{event['id']}"
    return lambda: record_decline(attempt, charge, brand=details.brand, last4=details.last4,
                                  message=patient_message(error), at=when(event.get("created")),
                                  live=bool(event.get("livemode")))


# --- refunds ------------------------------------------------------------------------------------

def charge_refunded(gateway, charge, event) -> Callable | None:
    """charge.refunded: a refund made in Stripe's dashboard appears in POPS as a refund, once."""
    from ..payments import refunds

    sale = _sale(ident(field(charge, "payment_intent")))
    if sale is None:
        return None
    listed = gateway._retrieve(gateway.client.v1.refunds.list, {"payment_intent": sale.number, "limit": 100})
    outside = [r for r in listed.data if r.status in ("succeeded", "pending")
               and not field(field(r, "metadata"), "pops_refund")]  # POPS's own are recorded by POPS

    def record():
        receipt = Receipt.get_by_id(sale.receipt_id)
        for refund in outside:
            if Transaction.get_or_none(Transaction.number == refund.id) is not None:
                continue
            amount = dollars(refund.amount)
            if not refunds.claim(receipt, amount):
                audit(None, "refund_not_recorded", receipt.guarantor,
                      f"{receipt.number}: Stripe refund {refund.id} is more than is left to refund", actor=POPS)
                continue
            refunds.record(receipt, refund.id, amount, staff=None, key=None, gateway=sale.gateway,
                           live=bool(field(refund, "livemode") or sale.live))
            audit(None, "refund_from_stripe", receipt.guarantor,
                  f"{receipt.number}: refund {refund.id} made in Stripe's dashboard", actor=POPS)

    return record if outside else None


def refund_changed(gateway, refund, event) -> Callable | None:
    """refund.updated / refund.failed: a refund that fails after it was recorded is undone in POPS."""
    from ..payments import refunds

    if field(refund, "status") not in ("failed", "canceled"):
        return None
    transaction = Transaction.get_or_none((Transaction.number == refund["id"]) & (Transaction.kind == Transaction.REFUND))
    if transaction is None:
        return None
    return lambda: refunds.reverse_failed(transaction)


# --- disputes -----------------------------------------------------------------------------------

def dispute(gateway, obj, event) -> Callable | None:
    """charge.dispute.created / closed: the receipt is flagged (staff see it); no balance changes."""
    intent = ident(field(obj, "payment_intent"))
    if not intent and field(obj, "charge"):  # a dispute naming only its charge: the charge names the payment
        charge = gateway._retrieve(gateway.client.v1.charges.retrieve, ident(field(obj, "charge")))
        intent = ident(field(charge, "payment_intent"))
    sale = _sale(intent)
    if sale is None:
        return None
    status = str(field(obj, "status") or "needs_response")

    def flag():
        receipt = Receipt.get_by_id(sale.receipt_id)
        Receipt.update(dispute_status=status).where(Receipt.id == receipt.id).execute()
        audit(None, "dispute", receipt.guarantor,
              f"{receipt.number}: card dispute {obj['id']} {status.replace('_', ' ')} "
              f"({dollars(field(obj, 'amount') or 0)})", actor=POPS)

    return flag


HANDLERS = {
    "checkout.session.completed": session_event,
    "checkout.session.async_payment_succeeded": session_event,
    "checkout.session.async_payment_failed": session_event,
    "checkout.session.expired": session_event,
    "payment_intent.payment_failed": payment_failed,
    "charge.refunded": charge_refunded,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.dispute.created": dispute,
    "charge.dispute.updated": dispute,
    "charge.dispute.closed": dispute,
}
