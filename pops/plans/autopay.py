"""Autopay: each new statement's Amount Due charged on its due date with the stored card, up to the
patient's cap, only the part no active plan covers. Its own authorisation (ticked, stored with its
version, emailed when there is an address); notices 10 days before (each charge, or only a
statement above the cap, as the patient chose) and 3 days before, by the channels plans use.
"""
from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from .. import clock, ledger, payments
from ..audit import audit
from ..db import database
from ..i18n import N_
from ..models import Guarantor, PatientSession, PaymentAttempt, Statement, StoredCard
from ..money import ZERO, format_money, parse_amount_input
from ..templating import format_date
from . import notices, rules
from .tables import Autopay, Instalment, PaymentPlan

AUTOPAY = "autopay"  # the entrance of its payment attempts
AUTHORISATION_VERSION = "autopay-en-1"
ADVANCE = dt.timedelta(days=10)
REMIND = dt.timedelta(days=3)
PATH = "/pay/autopay"

MSG_OFF = N_("{group} does not offer autopay online. Please call {phone}.")
MSG_CARD = N_("Please choose a saved card for autopay.")
MSG_CAP = N_("Please give a limit from $1.00 to {most}.")
MSG_NOTICE = N_("Please choose when we tell you about each automatic payment.")
MSG_AGREE = N_("Please tick the box to agree to autopay.")
MSG_MIRROR = N_("The patient agrees to autopay on their own device: staff cannot agree for them.")
MSG_ACTIVE = N_("Autopay is already on for this account.")
MSG_NOT_ACTIVE = N_("Autopay is not on for this account.")

AUTHORISATION = N_(
    "I authorise {creditor} to charge my {card} for the Amount Due of each new statement of account {account}, "
    "on its due date, up to {cap} a statement. A statement above {cap} is not charged, and I am told so. "
    "Only the part of a statement that no active payment plan covers is charged. {notice} I am also reminded "
    "3 days before each charge. There is no fee. I can stop autopay at any time at {url} or by calling {phone}.")
NOTICE_WORDS = {
    Autopay.EACH: N_("I am sent each charge's amount and date 10 days before it."),
    Autopay.OVER_CAP: N_("I am told 10 days before only when a statement is above {cap}."),
}


class AutopayRefused(Exception):
    """Autopay cannot be set up or stopped as asked; the message says why."""


def active(guarantor: Guarantor) -> Autopay | None:
    return Autopay.select().where((Autopay.guarantor == guarantor) & Autopay.ended_at.is_null()).first()


def latest(guarantor: Guarantor) -> Autopay | None:
    """The guarantor's autopay in force, else the latest one stopped."""
    return (Autopay.select().where(Autopay.guarantor == guarantor)
            .order_by(Autopay.ended_at.is_null().desc(), Autopay.id.desc()).first())


def authorisation(guarantor: Guarantor, cap: Decimal, notice: str, card: StoredCard | None, *, base_url: str) -> str:
    group = guarantor.group
    return AUTHORISATION.format(
        creditor=group.name, card=f"{card.brand} ending in {card.last4}" if card else "card", account=guarantor.account,
        cap=format_money(cap), notice=NOTICE_WORDS.get(notice, NOTICE_WORDS[Autopay.EACH]).format(cap=format_money(cap)),
        url=f"{base_url.rstrip('/')}{PATH}", phone=group.footer_phone or group.name)


def check(session: PatientSession, cap_text: str, notice: str, card_id: int | None) -> tuple[Decimal, StoredCard]:
    """The cap and card asked for, checked; AutopayRefused says why not."""
    guarantor, group = session.guarantor, session.group
    if not (group.autopay and group.enable_payment_method_storage):
        raise AutopayRefused(MSG_OFF.format(group=group.name, phone=group.footer_phone))
    if active(guarantor) is not None:
        raise AutopayRefused(MSG_ACTIVE)
    cards = {c.id: c for c in payments.saved_cards(guarantor)} if payments.may_use_saved_cards(session) else {}
    if card_id not in cards:
        raise AutopayRefused(MSG_CARD)
    try:
        cap = parse_amount_input(cap_text)
    except ValueError:
        cap = ZERO
    most = max(group.autopay_cap * 10, Decimal("100.00"))
    if not Decimal("1.00") <= cap <= most:
        raise AutopayRefused(MSG_CAP.format(most=format_money(most)))
    if notice not in Autopay.NOTICES:
        raise AutopayRefused(MSG_NOTICE)
    return cap, cards[card_id]


def turn_on(session: PatientSession, cap_text: str, notice: str, card_id: int | None, *, agreed: bool,
            base_url: str) -> Autopay:
    """The patient agreed: autopay on, its authorisation kept with its version and emailed (when there is an address)."""
    if session.staff_id:
        raise AutopayRefused(MSG_MIRROR)
    cap, card = check(session, cap_text, notice, card_id)
    if not agreed:
        raise AutopayRefused(MSG_AGREE)
    guarantor = session.guarantor
    text = authorisation(guarantor, cap, notice, card, base_url=base_url)
    with database.atomic():
        autopay = Autopay.create(guarantor=guarantor, key=f"autopay-{secrets.token_urlsafe(18)}", cap=cap,
                                 notice=notice, stored_card=card, authorisation=text,
                                 authorisation_version=AUTHORISATION_VERSION, session=session)
        audit(session, "autopay_on", guarantor, f"cap {format_money(cap)}, card ••{card.last4}, notice {notice}")
        notices.email_authorisation(guarantor, text, base_url=base_url, path=f"{PATH}")
    return autopay


def turn_off(guarantor: Guarantor, who) -> None:
    with database.atomic():
        if not Autopay.update(ended_at=clock.now()).where(
                (Autopay.guarantor == guarantor) & Autopay.ended_at.is_null()).execute():
            raise AutopayRefused(MSG_NOT_ACTIVE)
        audit(who, "autopay_off", guarantor)


def plan_covers(guarantor: Guarantor, amount_due: Decimal) -> Decimal:
    """The part of the Amount Due an active plan will pay (its unpaid instalments)."""
    plan = PaymentPlan.select().where(
        (PaymentPlan.guarantor == guarantor) & PaymentPlan.status.in_(PaymentPlan.LIVE)).first()
    if plan is None:
        return ZERO
    unpaid = sum((i.amount for i in plan.instalments.where(Instalment.status == Instalment.SCHEDULED)), ZERO)
    return min(unpaid, amount_due)


def to_charge(guarantor: Guarantor) -> Decimal:
    """What autopay would charge now: the Amount Due less what a plan covers."""
    figures = ledger.balances_for(guarantor)
    return figures.amount_due - plan_covers(guarantor, figures.amount_due)


def _latest_new_statement(autopay: Autopay) -> Statement | None:
    created = autopay.created_at.astimezone(clock.local_now(autopay.guarantor.group.timezone).tzinfo).date()
    return (Statement.select().where((Statement.guarantor == autopay.guarantor_id) & (Statement.date >= created))
            .order_by(Statement.date.desc(), Statement.id.desc()).first())


def run_one(gateway, autopay: Autopay, base_url: str) -> str:
    """Autopay's day for one guarantor: notices before a statement's due date, the charge on it."""
    from .charging import charge_stored_card  # the guarded stored-card charge the plans use

    guarantor: Guarantor = autopay.guarantor
    today = clock.today(guarantor.group.timezone)
    statement = _latest_new_statement(autopay)
    if statement is None or statement.due_date < today - dt.timedelta(days=3):
        return "nothing_due"
    ref = f"s{statement.id}"
    amount = to_charge(guarantor)
    detail = f"{format_money(amount)} on {format_date(statement.due_date)}"
    told = {"base_url": base_url, "ref": ref, "path": PATH, "detail": detail}
    if amount > autopay.cap:
        if not notices.told(guarantor, "autopay_over_cap", ref):
            notices.tell(guarantor, None, "autopay_over_cap", **told)
        return "over_cap"
    if today < statement.due_date:
        if (autopay.notice == Autopay.EACH and today >= statement.due_date - ADVANCE and amount >= rules.COMPLETE_UNDER
                and not notices.told(guarantor, "autopay_upcoming", ref)):
            notices.tell(guarantor, None, "autopay_upcoming", **told)
        if today >= statement.due_date - REMIND and amount >= rules.COMPLETE_UNDER \
                and not notices.told(guarantor, "autopay_reminder", ref):
            notices.tell(guarantor, None, "autopay_reminder", **told)
        return "waiting"
    key = f"{autopay.key[:40]}-{ref}"
    if amount < rules.COMPLETE_UNDER or PaymentAttempt.select().where(PaymentAttempt.key == key).exists():
        return "nothing_due"
    if not ledger.eligibility_for(guarantor).allowed:
        return "held"
    card = autopay.stored_card
    if card is None or card.removed_at is not None or card.gateway != gateway.name:
        return "no_card"
    outcome, attempt = charge_stored_card(gateway, guarantor, card, key, amount, AUTOPAY)
    if attempt is None or outcome != "settled":
        return outcome
    if attempt.status == PaymentAttempt.PAID:
        notices.tell(guarantor, None, "autopay_paid", **told)
        return "charged"
    notices.tell(guarantor, None, "autopay_declined", **{**told, "detail": attempt.message})
    return "declined"


def run(gateway, base_url: str = "") -> dict[str, int]:
    counts: dict[str, int] = {}
    for autopay in Autopay.select().where(Autopay.ended_at.is_null()).order_by(Autopay.id):
        outcome = run_one(gateway, autopay, base_url)
        if outcome not in ("nothing_due", "waiting"):
            counts[f"autopay_{outcome}"] = counts.get(f"autopay_{outcome}", 0) + 1
    return counts
