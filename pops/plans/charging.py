"""The job that charges plans: each instalment due by pops.clock's today in the group's time zone,
with the stored card, through the gateway's stored-card charge (the one the Pay page uses), under
the same payment-sequence guard as a patient's payment. Exactly once: each try has its own key,
and a key is recorded as a payment attempt (unique) before the gateway hears of it.
"""
from __future__ import annotations

import datetime as dt

from peewee import IntegrityError

from .. import clock, crash, ledger, payments
from ..payments.attempts import mark_pending
from ..audit import POPS, audit
from ..db import database
from ..gateways import ChargeResult, Gateway, GatewayUnavailable, for_payment
from ..models import Guarantor, PaymentAttempt
from ..money import ZERO, format_money
from ..templating import format_date
from . import notices, rules
from .tables import Instalment, PaymentPlan

PLAN = "plan"  # the entrance of an instalment's payment attempt
RETRY_AFTER = dt.timedelta(days=3)  # a soft decline is tried once more, this much later
REMIND_BEFORE = dt.timedelta(days=3)
HARD_DECLINES = ("lost", "stolen", "closed", "pickup", "pick up", "fraud", "expired")  # no retry


def _unpaid(plan: PaymentPlan) -> list[Instalment]:
    return list(plan.instalments.where(Instalment.status == Instalment.SCHEDULED).order_by(Instalment.number))


def reconcile(plan: PaymentPlan) -> list[Instalment]:
    """Fit the unpaid instalments to what is owed now (payments outside the plan shrink the last ones
    first); complete the plan when less than $1.00 is left. Returns the unpaid instalments left.

    An instalment with a try out is left out of the fitting: its payment may be in the balance already,
    recorded before the run that charged it marks it paid (another run, or one killed in between). The
    balance is read first, so an instalment read afterwards as untried was not paid in it."""
    owed = ledger.balances_for(plan.guarantor).current_balance
    unpaid = _unpaid(plan)
    untried = [i for i in unpaid if i.attempt_id is None]
    left = min(sum((i.amount for i in untried), ZERO), owed)
    if rules.completes(left) and len(untried) == len(unpaid):
        finish(plan, PaymentPlan.COMPLETED, "completed")
        return []
    for instalment, amount in zip(untried, rules.reduce_from_last([i.amount for i in untried], owed)):
        if amount != instalment.amount:
            Instalment.update(amount=amount, status=Instalment.SCHEDULED if amount > 0 else Instalment.SKIPPED).where(
                Instalment.id == instalment.id).execute()
            instalment.amount = amount
    return [i for i in unpaid if i.amount > 0]


def finish(plan: PaymentPlan, status: str, notice: str, *, base_url: str = "") -> bool:
    """End a live plan (completed); True if this call ended it."""
    with database.atomic():
        ended = PaymentPlan.update(status=status, ended_at=clock.now()).where(
            (PaymentPlan.id == plan.id) & PaymentPlan.status.in_(PaymentPlan.LIVE)).execute()
        if ended:
            Instalment.update(status=Instalment.SKIPPED).where(
                (Instalment.plan == plan) & (Instalment.status == Instalment.SCHEDULED)).execute()
            audit(None, f"plan_{status}", plan.guarantor_id, f"plan {plan.id}", actor=POPS)
            notices.tell(plan.guarantor, plan, notice, base_url=base_url or _base_url(plan))
    return bool(ended)


def _base_url(plan: PaymentPlan) -> str:
    import json

    return json.loads(plan.offer.terms).get("base_url", "")


def _set_status(plan: PaymentPlan, status: str) -> bool:
    return bool(PaymentPlan.update(status=status).where(
        (PaymentPlan.id == plan.id) & (PaymentPlan.status != status) & PaymentPlan.status.in_(PaymentPlan.LIVE)
    ).execute())


def _record(plan: PaymentPlan, instalment: Instalment, attempt: PaymentAttempt, today: dt.date) -> str:
    """What a settled try means for its instalment and plan; returns the outcome."""
    if attempt.status == PaymentAttempt.PAID:
        rows = Instalment.update(status=Instalment.PAID, paid_at=attempt.settled_at, amount=attempt.amount).where(
            (Instalment.id == instalment.id) & (Instalment.status == Instalment.SCHEDULED)).execute()
        if rows:
            notices.tell(plan.guarantor, plan, "paid", base_url=_base_url(plan),
                         detail=f"{format_money(attempt.amount)}, {format_date(today)}")
            reconcile(plan)
        return "charged"
    if attempt.status == PaymentAttempt.DECLINED:
        hard = any(word in attempt.message.lower() for word in HARD_DECLINES)
        tries = instalment.tries + 1
        past_due = hard or tries >= 2
        rows = Instalment.update(tries=tries, attempt=None, retry_on=None if past_due else today + RETRY_AFTER).where(
            (Instalment.id == instalment.id) & (Instalment.tries == instalment.tries)).execute()
        if rows:
            if past_due and _set_status(plan, PaymentPlan.PAST_DUE):
                audit(None, "plan_past_due", plan.guarantor_id, f"plan {plan.id}: {attempt.message}", actor=POPS)
            notices.tell(plan.guarantor, plan, "past_due" if past_due else "declined", base_url=_base_url(plan))
        return "declined"
    if attempt.status in PaymentAttempt.NOT_CHARGED:  # nothing was charged: the same instalment, a new key
        Instalment.update(tries=instalment.tries + 1, attempt=None).where(
            (Instalment.id == instalment.id) & (Instalment.tries == instalment.tries)).execute()
        return "not_charged"
    return "pending"


def charge_one(gateway: Gateway, plan: PaymentPlan, today: dt.date, *, early: bool = False) -> str:
    """Charge the plan's earliest due instalment (`early`: the next one, whatever its date: the patient
    asked), or say why not ("held", "busy", "lost_race", ...)."""
    guarantor: Guarantor = plan.guarantor
    earliest = next(iter(_unpaid(plan)), None)
    if earliest is not None and earliest.attempt_id is not None:  # a try is out: learn how it ended
        attempt = PaymentAttempt.get_by_id(earliest.attempt_id)
        if attempt.status in PaymentAttempt.OPEN:
            return "pending"
        _record(plan, earliest, attempt, today)
    unpaid = reconcile(plan)
    due = [i for i in unpaid if early or (i.due_date <= today and (i.retry_on is None or i.retry_on <= today))]
    if not due or (plan.status == PaymentPlan.PAST_DUE and not early):
        return "nothing_due"
    instalment = due[0]
    figures = ledger.balances_for(guarantor)
    if not ledger.eligibility_for(guarantor, figures).allowed:  # escrow or unapplied funds held
        if _set_status(plan, PaymentPlan.ON_HOLD):
            audit(None, "plan_on_hold", guarantor, f"plan {plan.id}", actor=POPS)
            notices.tell(guarantor, plan, "on_hold", base_url=_base_url(plan))
        return "held"
    _set_status(plan, PaymentPlan.ACTIVE)
    card = plan.stored_card
    if card is None or card.removed_at is not None or card.gateway != gateway.name:
        if _set_status(plan, PaymentPlan.PAST_DUE):
            notices.tell(guarantor, plan, "past_due", base_url=_base_url(plan))
        return "no_card"

    def taken(attempt: PaymentAttempt) -> bool:
        return bool(Instalment.update(attempt=attempt).where(
            (Instalment.id == instalment.id) & (Instalment.tries == instalment.tries)
            & Instalment.attempt.is_null()).execute())

    outcome, attempt = charge_stored_card(gateway, guarantor, card, instalment.key(plan),
                                          min(instalment.amount, figures.current_balance), PLAN, taken)
    if outcome == "confirm":
        notices.tell(guarantor, plan, "confirm", base_url=_base_url(plan))
    if attempt is None or attempt.status in PaymentAttempt.OPEN:
        return "pending" if outcome == "confirm" else outcome
    return _record(plan, Instalment.get_by_id(instalment.id), attempt, today)


def charge_stored_card(gateway: Gateway, guarantor: Guarantor, card, key: str, amount, entrance: str,
                       taken=None) -> tuple[str, PaymentAttempt | None]:
    """A charge the patient authorised in advance (an instalment, autopay): the stored card through the
    gateway's stored-card charge, under the guarantor's payment sequence like any payment of theirs.

    The attempt under `key` is recorded (with `taken(attempt)` in the same transaction, which may
    refuse) before the gateway hears of it, so two runs never both charge. Returns the outcome
    ("settled", "busy", "lost_race", "pending", "confirm") and the attempt.
    """
    if PaymentAttempt.select().where((PaymentAttempt.guarantor == guarantor) & PaymentAttempt.status.in_(
            PaymentAttempt.OPEN)).exists():
        return "busy", None  # a payment of the patient's is under way: this waits for the next run
    seq = Guarantor.get_by_id(guarantor.id).payment_seq
    try:
        with database.atomic():
            moved = Guarantor.update(payment_seq=Guarantor.payment_seq + 1).where(
                (Guarantor.id == guarantor.id) & (Guarantor.payment_seq == seq)).execute()
            if not moved:
                return "lost_race", None
            attempt = PaymentAttempt.create(
                key=key, guarantor=guarantor, entrance=entrance, amount=amount, amount_choice=PaymentAttempt.OTHER,
                stored_card=card, gateway=gateway.name, live=getattr(gateway, "live", False))
            if taken is not None and not taken(attempt):
                raise IntegrityError("another run took this charge")
    except IntegrityError:
        return "lost_race", None  # another run recorded this try first
    crash.point(crash.AFTER_ATTEMPT)
    try:
        result = gateway.charge_stored(key, amount, card.gateway_token)
    except GatewayUnavailable:
        mark_pending(attempt)  # the settle job asks the gateway about the key later
        return "pending", attempt
    if result.status == ChargeResult.OPEN:  # the bank asks the patient to confirm first
        mark_pending(attempt)
        return "confirm", attempt
    return "settled", payments.settle(attempt, result)


def pay_next_now(gateway: Gateway, guarantor: Guarantor) -> str:
    """The patient pays their next instalment now, with the plan's card (a past-due plan starts again
    when it goes through). Returns the outcome, as the job's."""
    plan = PaymentPlan.select().where(
        (PaymentPlan.guarantor == guarantor) & PaymentPlan.status.in_(PaymentPlan.LIVE)).first()
    if plan is None:
        return "no_plan"
    return charge_one(gateway, plan, clock.today(guarantor.group.timezone), early=True)


def bank_page(gateway: Gateway, guarantor: Guarantor) -> str | None:
    """Where the patient confirms an instalment their bank held for authentication (3-D Secure), or None.

    The gateway is asked now (the patient pressed the button); its page sends them back to POPS's
    return address, and the next run records the instalment.
    """
    plan = PaymentPlan.select().where(
        (PaymentPlan.guarantor == guarantor) & PaymentPlan.status.in_(PaymentPlan.LIVE)).first()
    waiting = plan and next((i for i in _unpaid(plan) if i.attempt_id is not None), None)
    if not waiting:
        return None
    attempt = PaymentAttempt.get_by_id(waiting.attempt_id)
    if attempt.status not in PaymentAttempt.OPEN:
        return None
    taker = for_payment(gateway, attempt.gateway)
    try:
        result = taker.lookup(attempt.key)
    except GatewayUnavailable:
        return None
    if result is None or result.status != ChargeResult.OPEN:
        return None
    if not result.redirect and hasattr(taker, "authenticate"):  # an off-session charge held for the patient
        return taker.authenticate(attempt.key)
    return result.redirect or None


def remind(plan: PaymentPlan, today: dt.date) -> bool:
    """The reminder 3 days before an instalment, once."""
    upcoming = Instalment.update(reminded=True).where(
        (Instalment.plan == plan) & (Instalment.status == Instalment.SCHEDULED) & ~Instalment.reminded
        & (Instalment.due_date > today) & (Instalment.due_date <= today + REMIND_BEFORE)).execute()
    if upcoming:
        notices.tell(plan.guarantor, plan, "reminder", base_url=_base_url(plan))
    return bool(upcoming)


def charge_due(gateway: Gateway, base_url: str = "") -> dict[str, int]:
    """The plans job: reminders, then every live plan's due instalment, then autopay; counts by outcome."""
    from . import autopay

    counts: dict[str, int] = autopay.run(gateway, base_url)
    for plan in PaymentPlan.select().where(PaymentPlan.status.in_(PaymentPlan.LIVE)).order_by(PaymentPlan.id):
        today = clock.today(plan.guarantor.group.timezone)
        if plan.status == PaymentPlan.ACTIVE and remind(plan, today):  # no reminder for a plan on hold or past due
            counts["reminded"] = counts.get("reminded", 0) + 1
        outcome = charge_one(gateway, plan, today)
        if outcome != "nothing_due":
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts
