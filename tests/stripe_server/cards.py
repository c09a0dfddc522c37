"""Test card numbers: the POPS sandbox's (PRODUCT.md) plus Stripe's 3-D Secure cards.

4242 4242 4242 4242 approved · 4000 0000 0000 0002 declined · 4000 0000 0000 9995 insufficient
funds · 4000 0000 0000 0119 processing error · 4000 0027 6000 3184 and 4000 0000 0000 3220 need
3-D Secure (every time, stored or not) · any other number passing the Luhn check is approved.
"""
from __future__ import annotations

import hashlib
import re

APPROVE, DECLINE, AUTHENTICATE = "approve", "decline", "authenticate"

DECLINES = {  # number -> (code, decline_code, message)
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000000119": ("processing_error", None,
                         "An error occurred while processing your card. Try again in a little bit."),
}
THREE_D_SECURE = {"4000002760003184", "4000000000003220"}
APPROVED = {"status": "succeeded", "network_status": "approved_by_network", "type": "authorized",
            "seller_message": "Payment complete."}


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if re.match(r"5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720)", number):
        return "mastercard"
    if re.match(r"3[47]", number):
        return "amex"
    if re.match(r"6011|65|64[4-9]", number):
        return "discover"
    return "unknown"


def read_card(number: str, expiry: str, cvc: str, today: tuple[int, int], name: str = "") -> tuple[dict, dict]:
    """(card, errors): the card typed on the hosted page, or the message for each field that is wrong.

    expiry is "MM / YY" (or MM/YY, MMYY); today is (year, month).
    """
    errors = {}
    digits = re.sub(r"[\s-]", "", number or "")
    if not re.fullmatch(r"[0-9]{12,19}", digits, re.ASCII):
        errors["number"] = "Your card number is incomplete."
    elif not luhn_ok(digits):
        errors["number"] = "Your card number is invalid."
    match = re.fullmatch(r"\s*([0-9]{1,2})\s*/?\s*([0-9]{2}|[0-9]{4})\s*", expiry or "", re.ASCII)
    month = year = 0
    if not match or not 1 <= int(match.group(1)) <= 12:
        errors["expiry"] = "Your card's expiration date is incomplete."
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        if (year, month) < today:
            errors["expiry"] = "Your card's expiration year is in the past."
    if not re.fullmatch(r"[0-9]{3,4}", (cvc or "").strip(), re.ASCII):
        errors["cvc"] = "Your card's security code is incomplete."
    if errors:
        return {}, errors
    return card(digits, month, year, cvc=True, name=name or None), {}


def card(number: str, exp_month: int = 12, exp_year: int = 2034, cvc: bool = True, name: str | None = None) -> dict:
    return {"number": number, "brand": brand(number), "last4": number[-4:], "exp_month": exp_month,
            "exp_year": exp_year, "cvc": cvc, "name": name,
            "fingerprint": hashlib.sha256(number.encode()).hexdigest()[:16]}


def behaviour(number: str) -> str:
    if number in DECLINES:
        return DECLINE
    if number in THREE_D_SECURE:
        return AUTHENTICATE
    return APPROVE


def declined_outcome(number: str) -> dict:
    code, decline_code, message = DECLINES[number]
    return {"status": "failed", "network_status": "declined_by_network", "type": "issuer_declined",
            "reason": decline_code or code, "seller_message": "The bank did not return any further details with this decline.",
            "failure_code": code, "failure_message": message, "decline_code": decline_code}
