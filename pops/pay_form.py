"""What the pay form offers a patient session: the figures, whether it may pay, the amounts, saved cards.

QuickPay and the portal's Pay page show the same form. Each showing carries a fresh key (a double
click or a retry is one payment), the account's payment sequence (a stale form starts nothing) and
the account it was shown for (the guarantor's: a form shown for another account starts nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ledger, payments
from .balances import Balances, Eligibility, PayOption, pay_options
from .models import Group, Guarantor, PatientSession, StoredCard


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


def for_session(session: PatientSession) -> PayForm:
    """The pay form as this session may use it (saved cards only for a verified patient or a mirror)."""
    guarantor = session.guarantor
    group = session.group
    figures = ledger.balances_for(guarantor)
    eligibility = ledger.eligibility_for(guarantor, figures)
    return PayForm(
        guarantor=guarantor,
        group=group,
        balances=figures,
        eligibility=eligibility,
        options=pay_options(figures, group.show_current_balance) if eligibility.allowed else [],
        cards=(payments.saved_cards(guarantor)
               if group.enable_payment_method_storage and payments.may_use_saved_cards(session) else []),
        can_pay_online=group.offers_online_payment,
        key=payments.new_key(),
        seq=guarantor.payment_seq,
    )
