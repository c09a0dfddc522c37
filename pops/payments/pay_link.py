"""A staff mirror with Stripe takes no card: Pay sends the patient a one-use pay link (SMS or email) instead,
so staff never type a card number on Stripe's page for a patient."""
from __future__ import annotations

from .. import language, links, notify
from ..audit import audit
from ..db import database
from ..i18n import N_, gettext
from ..models import PatientSession
from ..plans import notices

MSG_LINK_TEXTED = N_("A one-use pay link was sent by text to {to}.")
MSG_LINK_EMAILED = N_("A one-use pay link was sent by email to {to}.")
MSG_NO_MOBILE = N_("Not sent: there is no mobile number on this account, or it has opted out of texts.")
MSG_NO_CONSENT = N_("Not sent: no texting consent is recorded for this mobile. Send it by email, or ask the patient "
                    "to agree to texts in Profile.")
MSG_NO_EMAIL = N_("Not sent: there is no email address on this account.")
MSG_MIRROR_NO_CARD = N_("Staff do not take card numbers here: send the patient a pay link instead.")
# What the patient gets, in their language.
LINK_TEXT = N_("{group}: you can pay your bill securely at {url} (this link works once).")
LINK_SUBJECT = N_("Pay your bill with {group}")
LINK_EMAIL = N_("Hello {name},\n\nAs we spoke about, you can pay your bill with {group} securely here (the link works "
                "once):\n{url}\n")


def sends_pay_link(gateway, session: PatientSession) -> bool:
    """In a staff mirror, a gateway whose page the patient must use themselves (Stripe) takes no new card."""
    return session.staff_id is not None and getattr(gateway, "confirms_by_key", False)


def unreachable(guarantor, channel: str):
    """Why a link staff send cannot go to the guarantor by `channel` ("sms", else email): no mobile or opted
    out, no texting consent, no email address; None when it can. The one check for every link staff send."""
    if channel == "sms":
        if not guarantor.mobile or guarantor.sms_opt_out:
            return MSG_NO_MOBILE
        return None if notices.may_text(guarantor) else MSG_NO_CONSENT
    return None if guarantor.email else MSG_NO_EMAIL


def send_pay_link(session: PatientSession, channel: str, *, secret_key: str, base_url: str) -> tuple[bool, str]:
    """Queue a one-use QuickPay link to the guarantor by SMS or email (audited); (sent, what staff read)."""
    guarantor = session.guarantor
    group = guarantor.group
    refused = unreachable(guarantor, channel)
    if refused is not None:
        return False, refused
    channel = "sms" if channel == "sms" else "email"
    with database.atomic():
        code, _ = links.mint(guarantor, channel, secret_key, max_uses=1, created_by=session.staff)
        url = links.url(base_url, code)
        lang = language.of_guarantor(guarantor)
        if channel == "sms":  # never an amount in a text
            notify.queue_sms(guarantor.mobile, gettext(lang, LINK_TEXT, group=group.sender, url=url),
                             purpose="balance", guarantor=guarantor)
        else:
            notify.queue_email(guarantor.email, gettext(lang, LINK_SUBJECT, group=group.name),
                               gettext(lang, LINK_EMAIL, name=guarantor.greeting_name, group=group.name, url=url),
                               purpose="balance", guarantor=guarantor)
        audit(session.staff, "pay_link_sent", guarantor, detail=channel)
    to = guarantor.mobile if channel == "sms" else guarantor.email
    return True, (MSG_LINK_TEXTED if channel == "sms" else MSG_LINK_EMAILED).format(to=to)
