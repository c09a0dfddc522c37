"""New charges join a live plan only when the patient agrees: what the balance exceeds the plan by, the
new schedule with its Truth in Lending figures and authorisation, and the change itself (one
transaction, audited, the earlier authorisation kept as an earlier offer). Nothing is charged then:
the next instalment keeps its date."""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from peewee import IntegrityError

from .. import ledger
from ..audit import audit
from ..db import database
from ..i18n import N_
from ..models import Guarantor, PatientSession
from ..money import ZERO, format_money
from ..templating import format_date
from . import notices, rules
from .rules import PlanRefused
from .setup import limits, live_plan
from .tables import Instalment, PaymentPlan, PlanOffer

AUTHORISATION_VERSION = "plan-join-en-1"
AUTHORISATION = N_(
    "I authorise {creditor} to charge my {card} for my payment plan, which now includes {added} of new charges: "
    "{schedule}. The total still to pay is {total}, on account {account}. There is no interest and there are no "
    "fees. This replaces my earlier authorisation for this plan. I can cancel this authorisation at any time on the "
    "payment plan page ({url}) or by calling {phone}; payments already made are not refunded by cancelling.")
MSG_NOT_LIVE = N_("You have no active payment plan to add new charges to.")
MSG_NOTHING = N_("Your balance is no longer above what your plan covers, so there is nothing to add.")
MSG_CHANGED = N_("Your balance or your plan changed since the new schedule was shown. Please check it again.")
MSG_BUSY = N_("A payment on your plan is being processed. Please try again in a few minutes.")
MSG_AGREE = N_("Please tick the box to agree to the new schedule.")
MSG_MIRROR = N_("The patient adds new charges to their plan on their own device: staff cannot agree for them.")
MSG_JOINED = N_("The new charges are now part of your payment plan. Nothing was charged today.")


@dataclass(frozen=True)
class Proposal:
    """The plan with the new charges, as the patient sees it before agreeing."""

    plan: PaymentPlan
    added: Decimal  # the new charges
    covered: Decimal  # what the plan's scheduled payments covered before
    paid: Decimal  # paid on the plan so far (its first payment and instalments)
    payments: tuple[rules.Payment, ...]  # the remaining payments, re-spread
    slots: tuple[Instalment, ...]  # the plan's unpaid instalments the payments go on, in order

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def amount_financed(self) -> Decimal:
        return self.total

    @property
    def total_of_payments(self) -> Decimal:
        return self.total  # no finance charge, ever

    @property
    def total_sale_price(self) -> Decimal:
        return self.paid + self.total

    @property
    def version(self) -> str:
        """What the form carries to tell a stale page: the authorisation in force when it was shown."""
        return str(self.plan.offer_id)


def to_add(current_balance: Decimal, plan: ledger.PlanSummary | None) -> Decimal:
    """What Home and Account offer to add to the live plan they show (no query: both are read already)."""
    return rules.uncovered(current_balance, plan.remaining) if plan is not None else ZERO


def offered(guarantor: Guarantor, view) -> Decimal:
    """What the plan page offers to add to the plan it shows (a reading.PlanView), if that plan is live."""
    if view is None or view.plan.status not in PaymentPlan.LIVE:
        return ZERO
    return rules.uncovered(ledger.balances_for(guarantor).current_balance, view.remaining)


def _paid_before(plan: PaymentPlan, instalments: list[Instalment]) -> Decimal:
    first = plan.first_attempt.amount if plan.first_attempt_id else Decimal(json.loads(plan.offer.terms)["payments"][0][1])
    return first + sum((i.amount for i in instalments if i.status == Instalment.PAID), ZERO)


def propose(guarantor: Guarantor) -> Proposal:
    """The live plan with the new charges re-spread over its remaining months; PlanRefused says why not."""
    plan = live_plan(guarantor)
    if plan is None:
        raise PlanRefused(MSG_NOT_LIVE)
    instalments = list(plan.instalments.order_by(Instalment.number))
    last_paid = max((i.number for i in instalments if i.status == Instalment.PAID), default=0)
    slots = tuple(i for i in instalments if i.number > last_paid)
    if any(i.attempt_id is not None for i in slots):  # a charge is out: its amount must not move under it
        raise PlanRefused(MSG_BUSY)
    covered = sum((i.amount for i in slots if i.status == Instalment.SCHEDULED), ZERO)
    added = rules.uncovered(ledger.balances_for(guarantor).current_balance, covered)
    if not added:
        raise PlanRefused(MSG_NOTHING)
    months_before = plan.months - len(slots)
    payments = rules.rejoin([i.due_date for i in slots], covered + added, limits(guarantor.group), months_before)
    return Proposal(plan, added, covered, _paid_before(plan, instalments), payments, slots)


def authorisation(guarantor: Guarantor, proposal: Proposal, *, base_url: str) -> str:
    """The new authorisation in plain words (its version: AUTHORISATION_VERSION)."""
    group, card = guarantor.group, proposal.plan.stored_card
    return AUTHORISATION.format(
        creditor=group.name, card=f"{card.brand} card ending in {card.last4}" if card else "card",
        added=format_money(proposal.added),
        schedule="; ".join(f"{format_money(p.amount)} on {format_date(p.due)}" for p in proposal.payments),
        total=format_money(proposal.total), account=guarantor.account, url=f"{base_url.rstrip('/')}/pay/plan",
        phone=group.footer_phone or group.name)


def join(session: PatientSession, *, version: str, covered: str, added: str, agreed: bool, base_url: str) -> Proposal:
    """The patient agreed to the schedule shown: the plan takes the new charges and the new authorisation
    (the earlier one kept), in one transaction, audited. PlanRefused says why not; nothing changes then."""
    if session.staff_id:
        raise PlanRefused(MSG_MIRROR)
    if not agreed:
        raise PlanRefused(MSG_AGREE)
    guarantor = session.guarantor
    try:
        with database.atomic():
            proposal = propose(guarantor)
            plan = proposal.plan
            if (version, covered, added) != (proposal.version, str(proposal.covered), str(proposal.added)):
                raise PlanRefused(MSG_CHANGED)
            number = versions(plan).count() + 1
            text = authorisation(guarantor, proposal, base_url=base_url)
            earlier = json.loads(plan.offer.terms)
            offer = PlanOffer.create(
                key=f"{plan.key[:40]}-j{number}", guarantor=guarantor, authorisation=text,
                authorisation_version=AUTHORISATION_VERSION, terms=json.dumps({
                    "base_url": earlier.get("base_url", base_url), "joined_plan": plan.id,
                    "added": str(proposal.added), "covered": str(proposal.covered),
                    "balance": str(plan.balance + proposal.added), "down_payment": str(plan.down_payment),
                    "months": plan.months - len(proposal.slots) + len(proposal.payments), "day": plan.day_of_month,
                    "payments": [earlier["payments"][0], *[[p.due.isoformat(), str(p.amount)] for p in proposal.payments]]}))
            if not PaymentPlan.update(offer=offer, balance=PaymentPlan.balance + proposal.added,
                                      months=plan.months - len(proposal.slots) + len(proposal.payments)).where(
                    (PaymentPlan.id == plan.id) & (PaymentPlan.offer == plan.offer_id)
                    & PaymentPlan.status.in_(PaymentPlan.LIVE)).execute():
                raise PlanRefused(MSG_CHANGED)
            amounts = [p.amount for p in proposal.payments]
            for n, slot in enumerate(proposal.slots):
                Instalment.update(amount=amounts[n] if n < len(amounts) else ZERO,
                                  status=Instalment.SCHEDULED if n < len(amounts) else Instalment.SKIPPED).where(
                    (Instalment.id == slot.id) & (Instalment.status != Instalment.PAID)
                    & Instalment.attempt.is_null()).execute()
            audit(session, "plan_changed", guarantor, f"plan {plan.id}: {format_money(proposal.added)} of new charges "
                  f"joined with the patient's agreement (authorisation {number}); {len(amounts)} payments left, "
                  f"{format_money(proposal.total)}")
            notices.email_authorisation(guarantor, text, base_url=earlier.get("base_url", base_url))
    except IntegrityError:  # another tab agreed to the same version first
        raise PlanRefused(MSG_CHANGED) from None
    return proposal


def versions(plan: PaymentPlan):
    """The plan's authorisations, the one in force first: the set-up's and one per change agreed to."""
    return PlanOffer.select().where((PlanOffer.guarantor == plan.guarantor_id) & (
        (PlanOffer.key == plan.key) | PlanOffer.key.startswith(f"{plan.key[:40]}-j"))).order_by(PlanOffer.id.desc())


def earlier(plan: PaymentPlan) -> list[PlanOffer]:
    """The plan's authorisations no longer in force, newest first (kept for the patient and staff)."""
    return [offer for offer in versions(plan) if offer.id != plan.offer_id]
