"""Statement reminders on a schedule (per group, off by default): for the current statement while it is
unpaid, one on statement day (or the first day the job sees it, when that day has passed) and again the
group's N and M days later. Never once it is paid, covered by a payment plan, or while the account holds
escrow or unapplied funds. Each reminder has a fresh link (its session's origin is "reminder"); by text
with consent and only 8:00-21:00 in the group's zone, else by email. The unique (statement, step) row
decides, so two job runners never send the same reminder."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import JOIN, IntegrityError

from .. import clock, language, ledger, links, notify
from ..audit import POPS, audit
from ..db import database
from ..i18n import N_, gettext
from ..models import Group, Guarantor, Link, OutboxMessage, Statement
from ..plans import rules
from ..plans.notices import may_text
from ..plans.tables import PaymentPlan
from . import content
from .tables import Reminder

SUBJECT = N_("A reminder about your statement from {sender}")
EMAIL = N_("Hello {name},\n\nThis is a reminder about your statement of {date} from {group}: the amount due is {due}.\n"
           "You can see it and pay securely here:\n{url}\n")
STEPS = (0, 1, 2)


@dataclass(frozen=True)
class Sent:
    """A reminder as staff read it on the dashboard."""

    sent_at: dt.datetime
    statement: Statement
    step: int
    channel: str
    recipient: str
    opened: bool


def sent_to(guarantor: Guarantor, limit: int = 30) -> list[Sent]:
    """The reminders sent to the guarantor, newest first, each with whether its link was opened."""
    rows = (Reminder.select(Reminder, Statement, Link, OutboxMessage).join(Statement)
            .switch(Reminder).join(Link, on=(Reminder.link == Link.id), join_type=JOIN.LEFT_OUTER)
            .switch(Reminder).join(OutboxMessage, on=(Reminder.message == OutboxMessage.id), join_type=JOIN.LEFT_OUTER)
            .where(Reminder.guarantor == guarantor).order_by(Reminder.sent_at.desc(), Reminder.id.desc()).limit(limit))
    return [Sent(r.sent_at, r.statement, r.step, r.channel, r.message.recipient if r.message_id else "",
                 bool(r.link_id and r.link.uses)) for r in rows]


def next_step(group: Group, statement_date: dt.date, sent: dict[int, dt.date], today: dt.date) -> int | None:
    """The reminder due today for a statement, given the days its earlier ones went out; None when none is.

    Step 0 on statement day (or later, the first day it is seen); 1 and 2 the group's N and M days after step 0.
    A step whose day passed unsent (reminders off meanwhile) is skipped for the later one.
    """
    if 0 not in sent:
        return 0 if today >= statement_date else None
    start = sent[0]
    due = [step for step, days in ((1, group.reminder_first_days), (2, group.reminder_second_days))
           if today >= start + dt.timedelta(days=days)]
    step = max(due, default=None)
    return step if step is not None and step > max(sent) else None


def _held_back(guarantor: Guarantor, figures) -> bool:
    """Paid, covered by a live plan, or money held on account: no reminder."""
    if figures.last_statement is None or figures.amount_due <= 0:
        return True
    if figures.escrow > 0 or figures.unapplied > 0:
        return True
    return PaymentPlan.select().where((PaymentPlan.guarantor == guarantor)
                                      & PaymentPlan.status.in_(PaymentPlan.LIVE)).exists()


def send_due(secret_key: str, base_url: str) -> int:
    """The job: every reminder due by pops.clock's today in each group's zone; returns how many were queued."""
    count = 0
    for group in Group.select().where(Group.reminders):
        local = clock.local_now(group.timezone)
        texting_hours = rules.may_text(local)
        guarantors = list(Guarantor.select().where(
            (Guarantor.group == group) & Guarantor.id.in_(_candidates(group, local.date()))))
        accounts = ledger.read_accounts(guarantors)  # a statement per 500 accounts, not one each
        for guarantor in guarantors:
            guarantor.group = group
            figures = ledger.balances_for(guarantor, accounts[guarantor.id])
            count += _remind(guarantor, figures, local.date(), texting_hours, secret_key, base_url)
    return count


def _candidates(group: Group, today: dt.date):
    """The guarantors with a statement that may be due a reminder today: dated by today, without its last
    reminder, and without one in the last few days (the shortest gap between two reminders, less a day:
    nothing is due sooner). A cheap narrowing run every minute; next_step decides."""
    gap = min(group.reminder_first_days, group.reminder_second_days - group.reminder_first_days)
    recent = clock.now() - dt.timedelta(days=max(gap - 1, 0))
    done = Reminder.select(Reminder.statement).where(
        (Reminder.step == STEPS[-1]) | (Reminder.sent_at > recent))
    return (Statement.select(Statement.guarantor)
            .where((Statement.date <= today) & Statement.id.not_in(done)))


def _remind(guarantor: Guarantor, figures, today: dt.date, texting_hours: bool, secret_key: str,
            base_url: str) -> int:
    if _held_back(guarantor, figures):
        return 0
    statement = Statement.get(Statement.number == figures.last_statement.number)
    group = guarantor.group
    sent = {r.step: r.sent_at.astimezone(clock.local_now(group.timezone).tzinfo).date()
            for r in Reminder.select().where(Reminder.statement == statement)}
    step = next_step(group, statement.date, sent, today)
    if step is None:
        return 0
    if may_text(guarantor) and guarantor.notify_balance_text:
        if not texting_hours:
            return 0  # an automatic text waits for 8:00 in the group's zone
        channel = OutboxMessage.SMS
    elif guarantor.email and guarantor.notify_balance_email:
        channel = OutboxMessage.EMAIL
    else:
        return 0
    with database.atomic():
        try:
            with database.atomic():
                reminder = Reminder.create(statement=statement, guarantor=guarantor, step=step, channel=channel,
                                           sent_at=clock.now())
        except IntegrityError:
            return 0  # another runner sent it
        code, link = links.mint(guarantor, "reminder", secret_key, statement=statement)
        url = links.url(base_url, code)
        if channel == OutboxMessage.SMS:
            message = notify.queue_sms(guarantor.mobile, content.statement_text(guarantor, url),
                                       purpose="reminder", guarantor=guarantor)
        else:
            message = _email(guarantor, statement, figures.amount_due, url)
        Reminder.update(link=link, message=message).where(Reminder.id == reminder.id).execute()
        audit(None, "reminder_sent", guarantor, actor=POPS,
              detail=f"statement {statement.number}, reminder {step} by {channel}")
    return 1


def _email(guarantor: Guarantor, statement: Statement, due, url: str) -> OutboxMessage:
    group = guarantor.group
    lang = language.of_guarantor(guarantor)
    body = gettext(lang, EMAIL, name=guarantor.greeting_name, group=group.name, date=statement.date, due=due, url=url)
    if group.footer_phone:
        body += "\n" + gettext(lang, notify.QUESTIONS, phone=group.footer_phone) + "\n"
    return notify.queue_email(guarantor.email, gettext(lang, SUBJECT, sender=group.sender), body,
                              purpose="reminder", guarantor=guarantor)
