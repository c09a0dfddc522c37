"""A plan staff prepare in a mirror: POPS sends the patient a one-use, 30-minute link; the patient
reviews and agrees on their own phone (after a code, as for any plan). Staff never agree for them."""
from __future__ import annotations

import datetime as dt
import json
import secrets

from .. import clock, language, links, notify
from ..audit import audit
from ..db import database
from ..i18n import N_, gettext
from ..models import Guarantor, PatientSession
from ..payments.pay_link import unreachable
from . import setup
from .rules import PlanRefused
from .tables import PlanOffer

MINUTES = 30
MSG_STAFF_ONLY = N_("Only staff in a mirror prepare a plan for the patient.")
MSG_SENT = N_("The plan was sent to {to}: a link that works once, for 30 minutes.")
TEXT = N_("{group}: please review the payment plan we prepared with you and agree to it if it suits you: {url} "
          "(this link works once, for 30 minutes).")
SUBJECT = N_("Your payment plan with {group}: please review it")
EMAIL = N_("Hello {name},\n\nAs we spoke about, we prepared a payment plan with you: {detail}.\nPlease review it and "
           "agree to it on your own phone or computer (the link works once, for 30 minutes; you will be asked for a "
           "code):\n{url}\n")


def send(session: PatientSession, months: str, monthly: str, day: str, channel: str, *, secret_key: str,
         base_url: str) -> str:
    """Check the plan as the patient would see it, then send them the link; returns what staff read.
    PlanRefused says why not (nothing is sent then)."""
    if not session.staff_id:
        raise PlanRefused(MSG_STAFF_ONLY)
    plan = setup.preview(session, months, monthly, day)  # the practice's rules, as for the patient
    guarantor: Guarantor = session.guarantor
    group = guarantor.group
    refused = unreachable(guarantor, channel)  # as for a pay link: a mobile with texting consent, or an email
    if refused is not None:
        raise PlanRefused(refused)
    channel = "sms" if channel == "sms" else "email"
    with database.atomic():
        code, link = links.mint(guarantor, channel, secret_key, max_uses=1, days=0, minutes=MINUTES,
                                created_by=session.staff)
        url = links.url(base_url, code)
        PlanOffer.create(key=f"prep-{secrets.token_urlsafe(18)}", guarantor=guarantor, terms=json.dumps({
            "prepared": {"months": months, "monthly": monthly, "day": day}, "by": session.staff_id,
            "until": (clock.now() + dt.timedelta(minutes=MINUTES)).isoformat()}),
            authorisation="", authorisation_version="")
        lang = language.of_guarantor(guarantor)  # what the patient reads is in their language
        if channel == "sms":  # never an amount in a text
            notify.queue_sms(guarantor.mobile, gettext(lang, TEXT, group=group.sender, url=url), purpose="plan_prepared",
                             guarantor=guarantor)
        else:
            detail = f"{len(plan.payments)} payments, {plan.first.amount} today"
            notify.queue_email(guarantor.email, gettext(lang, SUBJECT, group=group.name),
                               gettext(lang, EMAIL, name=guarantor.greeting_name, detail=detail, url=url),
                               purpose="plan_prepared", guarantor=guarantor)
        audit(session.staff, "plan_prepared", guarantor, detail=f"{channel}; {plan.months} months, day {plan.day}")
    return MSG_SENT.format(to=guarantor.mobile if channel == "sms" else guarantor.email)


def waiting(guarantor: Guarantor) -> dict | None:
    """The choices staff prepared for this patient in the last 30 minutes (months, monthly, day), or None."""
    offer = (PlanOffer.select().where((PlanOffer.guarantor == guarantor) & PlanOffer.key.startswith("prep-"))
             .order_by(PlanOffer.id.desc()).first())
    if offer is None:
        return None
    terms = json.loads(offer.terms)
    if dt.datetime.fromisoformat(terms["until"]) < clock.now():
        return None
    return terms["prepared"]
