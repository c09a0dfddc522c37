"""What a plan tells the patient, and how: a text with their consent (never an amount, only from 8:00
to 21:00 in the group's time), else an email, else the plan page; and the texting consent itself."""
from __future__ import annotations

from .. import clock, language, notify
from ..i18n import N_, gettext
from ..jobs import queue
from ..models import Guarantor, OutboxMessage, PatientSession
from . import rules
from ..texts.tables import stopped
from .tables import PaymentPlan, PlanNotice, TextConsent

CONSENT_QUESTION = N_("Text me reminders and notices about my payment plan at {mobile} (no amounts are ever "
                      "sent by text; reply STOP to end them).")

# Each notice: the text (no amount, no service) and the email's subject and body.
NOTICES = {
    "started": (N_("{sender}: your payment plan is set up. See it at {url}"),
                N_("Your payment plan with {sender}"),
                N_("Your payment plan is set up. See it at {url}")),
    "reminder": (N_("{sender}: a payment plan payment is due in 3 days. Details: {url}"),
                 N_("A payment plan payment is due soon"),
                 N_("Your next payment plan payment is due in 3 days.\n\n{detail}")),
    "paid": (N_("{sender}: your payment plan payment went through. Receipt: {url}"),
             N_("Payment plan payment received"),
             N_("Your payment plan payment went through.\n\n{detail}")),
    "declined": (N_("{sender}: your payment plan payment did not go through. Please update your card: {url}"),
                 N_("Your payment plan payment did not go through"),
                 N_("Your card was declined. We will try once more in 3 days. You can update your card at {url}\n\n{detail}")),
    "past_due": (N_("{sender}: your payment plan is past due. Please update your card or call us: {url}"),
                 N_("Your payment plan is past due"),
                 N_("We could not charge your card. Nothing more will be charged until you act: {url}\n\n{detail}")),
    "on_hold": (N_("{sender}: your payment plan is on hold. Please call us: {url}"),
                N_("Your payment plan is on hold"),
                N_("Money is held on your account, so your plan payment was not charged. Please call {phone}.\n\n{detail}")),
    "confirm": (N_("{sender}: your bank asks you to confirm a payment plan payment: {url}"),
                N_("Please confirm your payment plan payment"),
                N_("Your bank asks you to confirm this payment: {url}\n\n{detail}")),
    "completed": (N_("{sender}: your payment plan is complete. Thank you! {url}"),
                  N_("Your payment plan is complete"),
                  N_("Your payment plan is complete. Thank you!\n\n{detail}")),
    "autopay_upcoming": (N_("{sender}: a statement will be paid automatically with your card on its due date. Details: {url}"),
                         N_("Autopay: your statement will be paid automatically"),
                         N_("As you asked, this is the amount and date of your next automatic payment: {detail}. You can change or stop autopay at {url}")),
    "autopay_reminder": (N_("{sender}: a statement will be paid automatically in 3 days. Details: {url}"),
                         N_("Autopay: a payment in 3 days"),
                         N_("Your statement will be paid automatically in 3 days: {detail}. {url}")),
    "autopay_over_cap": (N_("{sender}: your new statement is above your autopay limit, so it will not be paid automatically. Please pay it: {url}"),
                         N_("Your statement is above your autopay limit"),
                         N_("Your new statement ({detail}) is above your autopay limit, so it will not be paid automatically. Please pay it at {url}")),
    "autopay_paid": (N_("{sender}: your statement was paid automatically. Receipt: {url}"),
                     N_("Autopay: payment received"),
                     N_("Your statement was paid automatically: {detail}.")),
    "autopay_declined": (N_("{sender}: your automatic payment did not go through. Please pay your statement: {url}"),
                         N_("Your automatic payment did not go through"),
                         N_("Your card was declined, so your statement was not paid. Please pay it at {url}. {detail}")),
    "cancelled": (N_("{sender}: your payment plan was cancelled. Details: {url}"),
                  N_("Your payment plan was cancelled"),
                  N_("Your payment plan was cancelled: nothing more will be charged.\n\n{detail}")),
}


AUTHORISATION_SUBJECT = N_("Your authorisation with {sender}")
AUTHORISATION_BODY = N_("Please keep this copy of the authorisation you agreed to:\n\n{text}\n\nYou can read and print it "
                        "at any time at {url}")


def record_consent(session: PatientSession, granted: bool, how: str) -> TextConsent | None:
    """The patient's answer to the texting question, kept with when and how; None without a mobile."""
    return record_text_consent(session.guarantor, granted, how, session=session,
                               wording=CONSENT_QUESTION.format(mobile=session.guarantor.mobile))


def record_text_consent(guarantor: Guarantor, granted: bool, how: str, *, at=None, session: PatientSession | None = None,
                        wording: str = "") -> TextConsent | None:
    """A yes or no to texts at the guarantor's mobile, with when (`at`, else now) and how (plan set-up, Profile,
    the import, a STOP or START reply); the latest is in force. None without a mobile."""
    if not guarantor.mobile:
        return None
    return TextConsent.create(guarantor=guarantor, mobile=guarantor.mobile, granted=granted, how=how[:60],
                              session=session, wording=wording, recorded_at=at or clock.now())


def latest_consent(guarantor: Guarantor) -> TextConsent | None:
    return TextConsent.select().where(TextConsent.guarantor == guarantor).order_by(TextConsent.id.desc()).first()


def has_consent(guarantor: Guarantor) -> bool:
    """A yes in force for the number on file (whatever the opt-out says)."""
    latest = latest_consent(guarantor) if guarantor.mobile else None
    return latest is not None and latest.granted and latest.mobile == guarantor.mobile


def may_text(guarantor: Guarantor) -> bool:
    """A consent in force for the number on file, no opt-out since, and no STOP from that number: the one
    test before any balance text, reminder or plan notice by text (sign-in codes do not ask it)."""
    if not guarantor.mobile or guarantor.sms_opt_out or stopped(guarantor.mobile):
        return False
    return has_consent(guarantor)


def email_authorisation(guarantor: Guarantor, text: str, *, base_url: str, path: str = "/pay/plan/authorisation") -> None:
    """The authorisation's copy, emailed whenever there is an address (a plan never needs one), whatever
    channel the notices take."""
    if not guarantor.email:
        return
    lang = language.of_guarantor(guarantor)
    notify.queue_email(guarantor.email, gettext(lang, AUTHORISATION_SUBJECT, sender=guarantor.group.name),
                       gettext(lang, AUTHORISATION_BODY, text=text, url=f"{base_url.rstrip('/')}{path}"),
                       purpose="plan_authorisation", guarantor=guarantor)


def told(guarantor: Guarantor, kind: str, ref: str) -> bool:
    return PlanNotice.select().where((PlanNotice.guarantor == guarantor) & (PlanNotice.kind == kind)
                                     & (PlanNotice.ref == ref)).exists()


def tell(guarantor: Guarantor, plan: PaymentPlan | None, kind: str, *, base_url: str, detail: str = "",
         ref: str = "", path: str = "/pay/plan") -> PlanNotice:
    """Tell the patient by text (consent, quiet hours, no amount), else email, else on the plan page."""
    group = guarantor.group
    text, subject, body = NOTICES[kind]
    url = f"{base_url.rstrip('/')}{path}"
    values = {"sender": group.sender, "url": url, "phone": group.footer_phone, "detail": detail}
    lang = language.of_guarantor(guarantor)  # what the patient reads is in their language
    if may_text(guarantor):
        channel = OutboxMessage.SMS
        local = clock.local_now(group.timezone)
        at = rules.next_text_time(local)
        message = OutboxMessage.create(
            channel=channel, recipient=guarantor.mobile, body=gettext(lang, text, **values), purpose=f"plan_{kind}",
            guarantor=guarantor, next_attempt_at=None if at == local else at)
        queue.defer_message(message.id, at=message.next_attempt_at)
    elif guarantor.email:
        channel = OutboxMessage.EMAIL
        notify.queue_email(guarantor.email, gettext(lang, subject, **values), gettext(lang, body, **values),
                           purpose=f"plan_{kind}", guarantor=guarantor)
    else:
        channel = "page"
    return PlanNotice.create(guarantor=guarantor, plan=plan, kind=kind, channel=channel, ref=ref)
