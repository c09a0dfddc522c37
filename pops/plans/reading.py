"""What the patient's plan page and the staff's plan page show, and cancelling a plan."""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from .. import clock
from ..audit import audit
from ..db import database
from ..i18n import N_
from ..models import AuditLog, Guarantor, PaymentAttempt
from ..money import ZERO
from . import notices
from .tables import Instalment, PaymentPlan, PlanNotice, PlanOffer

MSG_NOT_LIVE = N_("There is no active payment plan to cancel.")
# What the patient is told after paying the next instalment now (charging.pay_next_now's outcomes)
EARLY_OUTCOMES = {
    "charged": N_("Your payment went through. Thank you!"),
    "declined": N_("Your card was declined. Nothing was charged. Please call us or try again later."),
    "held": N_("Your plan is on hold while money is held on your account. Please call us."),
    "busy": N_("A payment on this account is still being processed. Please wait a minute, then check your receipts."),
    "pending": N_("Your payment is being confirmed. Please check your receipts in a few minutes."),
    "lost_race": N_("A payment on this account is still being processed. Please wait a minute, then check your receipts."),
    "nothing_due": N_("Nothing is left to pay on your plan."),
    "no_card": N_("The card for your plan is no longer available. Please call us."),
    "no_plan": N_("You have no active payment plan."),
}
MSG_PREPARED = N_("We prepared this plan with you: see the schedule, and agree to it if it suits you.")
MSG_NOTHING_TO_CONFIRM = N_("There is no payment waiting for your bank's confirmation.")
MSG_REASON = "Give a reason for cancelling (it is kept in the audit log)."


@dataclass(frozen=True)
class PlanView:
    plan: PaymentPlan
    instalments: list[Instalment]
    first_payment: Decimal
    paid: Decimal  # the first payment and every instalment paid
    remaining: Decimal
    next: Instalment | None
    authorisation: str
    notices: list[PlanNotice]
    awaiting_bank: bool = False  # an instalment's charge waits for the patient's bank (3-D Secure)


def view(plan: PaymentPlan) -> PlanView:
    instalments = list(plan.instalments.order_by(Instalment.number))
    first = plan.first_attempt.amount if plan.first_attempt_id else Decimal(json.loads(plan.offer.terms)["payments"][0][1])
    paid = first + sum((i.amount for i in instalments if i.status == Instalment.PAID), ZERO)
    scheduled = [i for i in instalments if i.status == Instalment.SCHEDULED]
    kinds = list(PlanNotice.select().where(PlanNotice.plan == plan).order_by(PlanNotice.id.desc()).limit(20))
    out = [i.attempt_id for i in scheduled if i.attempt_id is not None]
    awaiting = bool(out) and PaymentAttempt.select().where(
        PaymentAttempt.id.in_(out) & PaymentAttempt.status.in_(PaymentAttempt.OPEN)).exists()
    return PlanView(plan, instalments, first, paid, sum((i.amount for i in scheduled), ZERO),
                    scheduled[0] if scheduled and plan.status in PaymentPlan.LIVE else None,
                    plan.offer.authorisation, kinds, awaiting and bool(kinds) and kinds[0].kind == "confirm")


def latest(guarantor: Guarantor) -> PlanView | None:
    """The guarantor's live plan, else their latest one."""
    plan = (PaymentPlan.select().where(PaymentPlan.guarantor == guarantor)
            .order_by(PaymentPlan.status.in_(PaymentPlan.LIVE).desc(), PaymentPlan.id.desc()).first())
    return view(plan) if plan is not None else None


def history(guarantor: Guarantor) -> list[AuditLog]:
    """The plan and autopay rows of the audit log: started, on hold, past due, completed, cancelled, autopay on/off."""
    return list(AuditLog.select().where((AuditLog.guarantor == guarantor) & (
        AuditLog.action.startswith("plan_") | AuditLog.action.startswith("autopay_")))
                .order_by(AuditLog.id.desc()).limit(50))


def offer_for(key: str, guarantor: Guarantor) -> tuple[PlanOffer | None, PaymentPlan | None, PaymentAttempt | None]:
    """A set-up's offer, the plan it became (if its first payment was paid) and that payment's attempt."""
    offer = PlanOffer.get_or_none((PlanOffer.key == key) & (PlanOffer.guarantor == guarantor))
    if offer is None:
        return None, None, None
    attempt = PaymentAttempt.get_or_none(PaymentAttempt.key == key)
    card_for = json.loads(offer.terms).get("card_for_plan")
    if card_for is not None:  # a new card for a plan: the plan, once its payment is paid
        paid = attempt is not None and attempt.status == PaymentAttempt.PAID
        return offer, PaymentPlan.get_or_none(PaymentPlan.id == card_for) if paid else None, attempt
    return offer, PaymentPlan.get_or_none(PaymentPlan.offer == offer), attempt


def is_new_card(offer: PlanOffer) -> bool:
    return "card_for_plan" in json.loads(offer.terms)


def cancel(guarantor: Guarantor, who, reason: str, *, ip: str = "", base_url: str = "") -> str | None:
    """Cancel the guarantor's live plan (by the patient, or by staff with a reason), audited;
    returns why not, or None. Nothing more is charged; payments made stay."""
    reason = (reason or "").strip()[:300]
    plan = PaymentPlan.select().where(
        (PaymentPlan.guarantor == guarantor) & PaymentPlan.status.in_(PaymentPlan.LIVE)).first()
    if plan is None:
        return MSG_NOT_LIVE
    staff = getattr(who, "staff", None) if not hasattr(who, "email") else who
    if staff is not None and not reason:
        return MSG_REASON
    with database.atomic():
        if not PaymentPlan.update(status=PaymentPlan.CANCELLED, ended_at=clock.now(), cancel_reason=reason,
                                  cancelled_by=staff).where(
                (PaymentPlan.id == plan.id) & PaymentPlan.status.in_(PaymentPlan.LIVE)).execute():
            return MSG_NOT_LIVE
        Instalment.update(status=Instalment.SKIPPED).where(
            (Instalment.plan == plan) & (Instalment.status == Instalment.SCHEDULED)).execute()
        audit(who, "plan_cancelled", guarantor, f"plan {plan.id}" + (f": {reason}" if reason else ""), ip=ip)
        notices.tell(guarantor, plan, "cancelled", base_url=base_url or json.loads(plan.offer.terms).get("base_url", ""))
    return None
