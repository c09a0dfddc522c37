"""Reading Stripe's objects (an expanded object or only its id, an absent field) and its money (cents)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ..i18n import N_, coded

DECLINED_MESSAGE = coded("card_declined", N_("Your card was declined."))
# Stripe's decline codes, in words a patient understands (others read as a plain decline).
DECLINE_MESSAGES = {  # kept on the attempt by their codes (pops.i18n.coded), shown in the patient's language
    "insufficient_funds": coded("card_insufficient_funds", N_("Your card has insufficient funds.")),
    "expired_card": coded("card_expired", N_("Your card has expired.")),
    "incorrect_cvc": coded("card_incorrect_cvc", N_("The card's security code is incorrect.")),
    "authentication_required": coded("card_not_confirmed",
                                     N_("Your bank asked to confirm this payment, and it was not confirmed.")),
}
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
          "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay"}
WALLETS = {"google_pay": "google_pay", "apple_pay": "apple_pay"}  # Stripe's wallet types POPS names


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def dollars(amount_in_cents: int) -> Decimal:
    return (Decimal(int(amount_in_cents)) / 100).quantize(Decimal("0.01"))


def field(obj, name: str):
    """`obj[name]`, or None when obj is None, an id string, or lacks the field."""
    if obj is None or isinstance(obj, str):
        return None
    try:
        return obj.get(name)
    except AttributeError:
        return getattr(obj, name, None)


def ident(obj) -> str:
    """The id of an object that may be expanded or only its id."""
    if obj is None:
        return ""
    return obj if isinstance(obj, str) else str(field(obj, "id") or "")


def is_live_key(key: str) -> bool:
    return "_live_" in key


def patient_message(error) -> str:
    """Why a card was declined, from Stripe's error object (a dict, or the PaymentIntent's last_payment_error)."""
    code = field(error, "decline_code") or field(error, "code") or ""
    return DECLINE_MESSAGES.get(code, DECLINED_MESSAGE)


def when(timestamp) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(timestamp), dt.timezone.utc) if timestamp else None


@dataclass(frozen=True)
class CardDetails:
    brand: str = ""
    last4: str = ""
    exp_month: int = 0
    exp_year: int = 0
    wallet: str = ""
    created: dt.datetime | None = None


def charge_details(charge) -> CardDetails:
    """The card (and wallet) a charge was made with, and when."""
    card = field(field(charge, "payment_method_details"), "card")
    wallet = field(field(card, "wallet"), "type") or ""
    brand = str(field(card, "brand") or "")
    return CardDetails(
        brand=BRANDS.get(brand, brand.title()),
        last4=str(field(card, "last4") or ""),
        exp_month=int(field(card, "exp_month") or 0),
        exp_year=int(field(card, "exp_year") or 0),
        wallet=WALLETS.get(wallet, ""),
        created=when(field(charge, "created")),
    )
