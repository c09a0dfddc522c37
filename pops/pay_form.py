"""What the pay form offers a patient session: the figures, whether it may pay, the amounts, saved cards.

QuickPay and the portal's Pay page show the same form. Each showing carries a fresh key (a double
click or a retry is one payment), the account's payment sequence (a stale form starts nothing) and
the account it was shown for (the guarantor's: a form shown for another account starts nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ledger, payments
from .balances import MSG_UNDER_MINIMUM, Balances, Eligibility, PayOption, pay_options
from .models import Group, Guarantor, PatientSession, StoredCard
from .payments.pay_link import sends_pay_link


@dataclass(frozen=True)
class PayForm:
    guarantor: Guarantor
    group: Group
    balances: Balances
    eligibility: Eligibility
    options: list[PayOption]  # [] when the account may not pay
    cards: list[StoredCard]  # saved cards this session may charge
    can_pay_online: bool
    key: str
    seq: int
    store_offer: bool = False  # "store this card" is asked on POPS's form (a gateway whose page does not ask)
    send_link: bool = False  # a staff mirror with Stripe: Pay sends the patient a one-use pay link instead


def for_session(session: PatientSession, gateway=None) -> PayForm:
    """The pay form as this session may use it (saved cards only for a verified patient or a mirror).

    With a `gateway`: only the cards it keeps are offered, and no amount under its minimum (Stripe's $0.50).
    """
    guarantor = session.guarantor
    group = session.group
    figures = ledger.balances_for(guarantor)
    eligibility = ledger.eligibility_for(guarantor, figures)
    options = pay_options(figures, group.show_current_balance) if eligibility.allowed else []
    minimum = getattr(gateway, "minimum", None)
    if minimum is not None and options:
        options = [o for o in options if o.amount is None or o.amount >= minimum]
        if not options:
            eligibility = Eligibility(allowed=False, reason="under_minimum",
                                      message=MSG_UNDER_MINIMUM.format(group=group.name))
    cards = (payments.saved_cards(guarantor)
             if group.enable_payment_method_storage and payments.may_use_saved_cards(session) else [])
    if gateway is not None:
        cards = [card for card in cards if card.gateway == gateway.name]
    return PayForm(
        guarantor=guarantor,
        group=group,
        balances=figures,
        eligibility=eligibility,
        options=options,
        cards=cards,
        can_pay_online=group.offers_online_payment,
        key=payments.new_key(),
        seq=guarantor.payment_seq,
        store_offer=getattr(gateway, "confirms_by_key", False) and group.enable_payment_method_storage,
        send_link=sends_pay_link(gateway, session),
    )
