"""Setting a plan up: the schedule shown first, the patient's agreement, then the first payment.

The plan is made in the same transaction that records its first payment as paid (`started`, which
settling calls); an abandoned or declined first payment leaves only its offer, never a plan, and
no card is stored for it.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from .. import clock, ledger, payments
from ..audit import POPS, audit
from ..db import database
from ..i18n import N_
from ..models import Guarantor, PatientSession, PaymentAttempt, StoredCard
from ..money import format_money, parse_amount_input
from ..templating import format_date
from . import notices, rules
from .rules import PlanRefused
from .tables import Instalment, PaymentPlan, PlanOffer

AUTHORISATION_VERSION = "plan-en-1"
MSG_AGREE = N_("Please tick the box to agree to the payment plan.")
MSG_MIRROR = N_("The patient agrees to a payment plan on their own device: staff cannot agree for them.")
MSG_NO_PLAN = N_("You have no active payment plan.")
MSG_NOTHING_LEFT = N_("Nothing is left to pay on your plan.")
MSG_CHANGED = N_("Your balance changed since the schedule was shown. Please check the new schedule.")

AUTHORISATION = N_(
    "I authorise {creditor} to charge my {card} for this payment plan: {first} today, then {schedule}. "
    "The total is {total}, the balance of account {account}. There is no interest and there are no fees. "
    "I can cancel this authorisation at any time on the payment plan page ({url}) or by calling {phone}; "
    "payments already made are not refunded by cancelling.")


def limits(group) -> rules.Limits:
    return rules.Limits(group.plan_min_balance, group.plan_min_instalment, group.plan_max_months,
                        group.plan_down_payment_percent)


def live_plan(guarantor: Guarantor) -> PaymentPlan | None:
    return PaymentPlan.select().where(
        (PaymentPlan.guarantor == guarantor) & PaymentPlan.status.in_(PaymentPlan.LIVE)).first()


def _number(text: str, low: int, high: int) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 and low <= int(text) <= high else None


def preview(session: PatientSession, months: str, monthly: str, day: str) -> rules.Schedule:
    """The schedule for what the patient asked (months, or a monthly amount, and a day); PlanRefused says why not."""
    guarantor, group = session.guarantor, session.group
    if not group.offers_plans:
        raise PlanRefused(rules.MSG_OFF.format(group=group.name, phone=group.footer_phone))
    if live_plan(guarantor) is not None:
        raise PlanRefused(rules.MSG_EXISTING)
    figures = ledger.balances_for(guarantor)
    eligibility = ledger.eligibility_for(guarantor, figures)
    if not eligibility.allowed:
        raise PlanRefused(eligibility.message)
    chosen_day = _number(day, 1, 31)
    if chosen_day is None:
        raise PlanRefused(rules.MSG_DAY)
    count = amount = None
    if months.strip():
        count = _number(months, 0, 999)
        if count is None:
            raise PlanRefused(rules.MSG_MONTHS.format(most=group.plan_max_months))
    elif monthly.strip():
        try:
            amount = parse_amount_input(monthly)
        except ValueError:
            raise PlanRefused(rules.MSG_MONTHLY.format(minimum=format_money(group.plan_min_instalment))) from None
    return rules.schedule(figures.current_balance, limits(group), clock.today(group.timezone), chosen_day,
                          months=count, monthly=amount)


def authorisation(guarantor: Guarantor, plan: rules.Schedule, *, base_url: str, card: str = "") -> str:
    """The authorisation in plain words (its version: AUTHORISATION_VERSION)."""
    group = guarantor.group
    later = "; ".join(f"{format_money(p.amount)} on {format_date(p.due)}" for p in plan.later)
    return AUTHORISATION.format(
        creditor=group.name, card=card or "card", first=format_money(plan.first.amount), schedule=later,
        total=format_money(plan.total), account=guarantor.account, url=f"{base_url.rstrip('/')}/pay/plan",
        phone=group.footer_phone or group.name)


def _terms(plan: rules.Schedule, base_url: str) -> str:
    return json.dumps({"base_url": base_url, "balance": str(plan.balance), "down_payment": str(plan.down_payment), "months": plan.months,
                       "day": plan.day, "payments": [[p.due.isoformat(), str(p.amount)] for p in plan.payments]})


def start(gateway, session: PatientSession, *, key: str, seq: int, account: str, months: str, monthly: str,
          day: str, balance: str, agreed: bool, texts: bool | None, base_url: str) -> payments.Started:
    """The patient agreed: record the offer and their texting answer, then take the first payment
    (the card kept by the gateway). PlanRefused or payments.PaymentRefused say why not; nothing is charged then."""
    if session.staff_id:
        raise PlanRefused(MSG_MIRROR)
    if not agreed:
        raise PlanRefused(MSG_AGREE)
    existing = PlanOffer.get_or_none(PlanOffer.key == key)
    recorded = []
    if existing is None:
        plan = preview(session, months, monthly, day)
        if balance != str(plan.balance):
            raise PlanRefused(MSG_CHANGED)
        with database.atomic():
            if texts is not None:
                recorded.append(notices.record_consent(session, texts, "plan set-up (portal)"))
            recorded.append(PlanOffer.create(
                key=key, guarantor=session.guarantor, terms=_terms(plan, base_url),
                authorisation=authorisation(session.guarantor, plan, base_url=base_url),
                authorisation_version=AUTHORISATION_VERSION))
        first = plan.first.amount
    else:
        first = Decimal(json.loads(existing.terms)["payments"][0][1])
    try:
        return payments.start_or_resume(
            gateway, session, key=key, seq=seq, account=account, choice=PaymentAttempt.OTHER, other=str(first),
            store_card=True, return_url=f"{base_url.rstrip('/')}/pay/plan/return/{key}")
    except payments.PaymentRefused:
        if recorded and not PaymentAttempt.select().where(PaymentAttempt.key == key).exists():
            for row in recorded:  # refused before any payment began: nothing of this set-up is kept
                if row is not None:
                    row.delete_instance()
        raise


def start_new_card(gateway, session: PatientSession, *, key: str, seq: int, account: str,
                   base_url: str) -> payments.Started:
    """The patient pays their next instalment on the gateway's page with another card, which becomes the
    plan's card (how a declined card is fixed, and a past-due plan starts again)."""
    if session.staff_id:
        raise PlanRefused(MSG_MIRROR)
    existing = PlanOffer.get_or_none(PlanOffer.key == key)
    if existing is None:
        plan = live_plan(session.guarantor)
        if plan is None:
            raise PlanRefused(MSG_NO_PLAN)
        instalment = plan.instalments.where(Instalment.status == Instalment.SCHEDULED).order_by(Instalment.number).first()
        if instalment is None:
            raise PlanRefused(MSG_NOTHING_LEFT)
        amount = min(instalment.amount, ledger.balances_for(session.guarantor).current_balance)
        PlanOffer.create(key=key, guarantor=session.guarantor, terms=json.dumps({
            "base_url": base_url, "card_for_plan": plan.id, "instalment": instalment.id,
            "payments": [[clock.today(session.group.timezone).isoformat(), str(amount)]]}),
            authorisation=plan.offer.authorisation, authorisation_version=plan.offer.authorisation_version)
    else:
        amount = Decimal(json.loads(existing.terms)["payments"][0][1])
    return payments.start_or_resume(
        gateway, session, key=key, seq=seq, account=account, choice=PaymentAttempt.OTHER, other=str(amount),
        store_card=True, return_url=f"{base_url.rstrip('/')}/pay/plan/return/{key}")


def _new_card(offer: PlanOffer, attempt: PaymentAttempt, card: StoredCard | None) -> PaymentPlan | None:
    """A paid instalment on another card: the instalment is paid, the card is the plan's from now on."""
    terms = json.loads(offer.terms)
    plan = PaymentPlan.get_or_none(PaymentPlan.id == terms["card_for_plan"])
    if plan is None:
        return None
    Instalment.update(status=Instalment.PAID, paid_at=clock.now(), amount=attempt.amount, attempt=attempt).where(
        (Instalment.id == terms["instalment"]) & (Instalment.status == Instalment.SCHEDULED)).execute()
    if card is not None:
        PaymentPlan.update(stored_card=card, status=PaymentPlan.ACTIVE).where(
            (PaymentPlan.id == plan.id) & PaymentPlan.status.in_(PaymentPlan.LIVE)).execute()
    audit(None, "plan_card_changed", attempt.guarantor, f"plan {plan.id}: " + (
        f"{card.brand} ••{card.last4}" if card else "paid, no card kept"), actor=POPS)
    return plan


def started(attempt: PaymentAttempt, stored_card_token: str | None) -> PaymentPlan | None:
    """Called as the first payment is recorded paid (inside its transaction): the offer becomes a plan.

    Without a kept card, or with a plan already live, no plan is made (the payment stands, recorded).
    """
    offer = PlanOffer.get_or_none(PlanOffer.key == attempt.key)
    if offer is None:
        return None
    guarantor = attempt.guarantor
    card = StoredCard.get_or_none(StoredCard.gateway_token == stored_card_token) if stored_card_token else None
    if "card_for_plan" in offer.terms:
        return _new_card(offer, attempt, card)
    if card is None or live_plan(guarantor) is not None:
        audit(None, "plan_not_started", guarantor, f"{attempt.key[:12]}: " + ("no card kept" if card is None else
              "a plan is already live"), actor=POPS)
        return None
    terms = json.loads(offer.terms)
    plan = PaymentPlan.create(
        guarantor=guarantor, offer=offer, key=offer.key, balance=Decimal(terms["balance"]),
        down_payment=Decimal(terms["down_payment"]), months=terms["months"], day_of_month=terms["day"],
        stored_card=card, first_attempt=attempt)
    for number, (due, amount) in enumerate(terms["payments"][1:], start=1):
        Instalment.create(plan=plan, number=number, due_date=dt.date.fromisoformat(due), amount=Decimal(amount))
    audit(None, "plan_started", guarantor, f"plan {plan.id}: {format_money(plan.balance)}, first payment "
          f"{format_money(attempt.amount)}, {len(terms['payments']) - 1} more", actor=POPS)
    notices.tell(guarantor, plan, "started", base_url=terms["base_url"])
    notices.email_authorisation(guarantor, offer.authorisation, base_url=terms["base_url"])
    return plan
