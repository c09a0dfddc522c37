"""A text a patient sends back: STOP (and its synonyms, Spanish too) opts the number out for every
guarantor with it, START opts it back in, HELP answers with the practice's name and phone, anything
else gets one fixed answer a day. Every answer goes through the outbox; every change is audited and
a contact change (the PM system's export)."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from peewee import IntegrityError

from .. import clock, language, notify
from ..audit import audit
from ..contacts import normalize_mobile
from ..db import database
from ..i18n import N_, gettext
from ..models import ContactChange, Group, Guarantor, OutboxMessage
from ..plans.notices import record_text_consent
from .tables import SmsInbound, SmsNumber

STOP, START, HELP = "stop", "start", "help"
# A reply is read in capitals, accents and punctuation dropped ("¡Alto!" is ALTO, "Sí" is SI).
KEYWORDS = {
    STOP: ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT", "OPTOUT",
           "PARAR", "ALTO", "CANCELAR", "DETENER"),
    START: ("START", "UNSTOP", "YES", "SI", "COMENZAR"),
    HELP: ("HELP", "INFO", "AYUDA"),
}
SPANISH = {"PARAR", "ALTO", "CANCELAR", "DETENER", "SI", "COMENZAR", "AYUDA"}
ANSWER_EVERY = dt.timedelta(hours=24)  # anything else: at most one fixed answer per number in this time

STOPPED_TEXT = N_("{sender}: you will get no more texts from us. Reply START to get them again.")
STARTED_TEXT = N_("{sender}: you will get texts from us again. Reply STOP to opt out.")
HELP_TEXT = N_("{sender}: for help with your bill, call {phone}. Reply STOP to opt out.")
HELP_TEXT_NO_PHONE = N_("{sender}: for help with your bill, please call our office. Reply STOP to opt out.")
FIXED_TEXT = N_("{sender}: we cannot read replies to this number. Reply HELP for help or STOP to opt out.")
POPS = "POPS"  # the sender when no practice has ever texted the number


@dataclass(frozen=True)
class Reply:
    sender: str  # the patient's number, as the provider gave it
    to: str
    body: str


def keyword(body: str) -> tuple[str, bool]:
    """What a reply asks (STOP, START, HELP, or "" for anything else) and whether it asked in Spanish.

    A STOP counts at the start of a longer reply too ("Stop texting me"): an opt-out by any reasonable means.
    """
    plain = unicodedata.normalize("NFKD", body or "")
    plain = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    words = re.sub(r"[^A-Z0-9]+", " ", plain).split()
    text = " ".join(words)
    for kind, forms in KEYWORDS.items():
        if text in forms:
            return kind, text in SPANISH
    for form in KEYWORDS[STOP]:
        if text.startswith(form + " "):
            return STOP, form in SPANISH
    return "", False


def guarantors_at(number: str) -> list[Guarantor]:
    """Every guarantor whose mobile is this number, however the import wrote it."""
    digits = re.sub(r"\D", "", number)[-4:]  # "(555) 555-0123" and "+15555550123" both end 0123
    if len(digits) < 4:
        return []
    found = Guarantor.select(Guarantor, Group).join(Group).where(Guarantor.mobile.contains(digits))
    return [g for g in found if (normalize_mobile(g.mobile) or g.mobile) == number]


def last_texted(number: str) -> Guarantor | None:
    """The guarantor of the last text POPS sent to this number (its practice answers HELP)."""
    message = (OutboxMessage.select().where((OutboxMessage.channel == OutboxMessage.SMS)
                                            & (OutboxMessage.recipient == number)
                                            & OutboxMessage.guarantor.is_null(False))
               .order_by(OutboxMessage.id.desc()).first())
    if message is not None:
        return message.guarantor
    everyone = guarantors_at(number)
    return everyone[0] if everyone else None


def _number_row(number: str) -> SmsNumber:
    """The number's row, made on its first reply (two replies at once: one makes it, both use it)."""
    row = SmsNumber.get_or_none(SmsNumber.mobile == number)
    if row is not None:
        return row
    try:
        with database.atomic():
            return SmsNumber.create(mobile=number)
    except IntegrityError:
        return SmsNumber.get(SmsNumber.mobile == number)


def _claim_answer(number: str) -> bool:
    """True for the one reply in 24 hours that gets the fixed answer: decided by one conditional UPDATE."""
    _number_row(number)
    now = clock.now()
    return bool(SmsNumber.update(answered_at=now).where(
        (SmsNumber.mobile == number)
        & (SmsNumber.answered_at.is_null() | (SmsNumber.answered_at <= now - ANSWER_EVERY))).execute())


def _set_opt_out(number: str, out: bool) -> list[Guarantor]:
    """The number stopped (or started) for every guarantor with it; each change audited, exported and kept
    as a consent row. Returns the guarantors whose opt-out changed."""
    row = _number_row(number)
    SmsNumber.update(stopped=out, changed_at=clock.now()).where(SmsNumber.id == row.id).execute()
    changed = []
    how = "reply STOP" if out else "reply START"
    for guarantor in guarantors_at(number):
        if guarantor.sms_opt_out != out:
            Guarantor.update(sms_opt_out=out).where(Guarantor.id == guarantor.id).execute()
            ContactChange.create(guarantor=guarantor, field="sms_opt_out", old_value=_flag(not out), new_value=_flag(out))
            guarantor.sms_opt_out = out
            changed.append(guarantor)
        record_text_consent(guarantor, not out, f"{how} from {number}")
        audit(None, "sms_stop" if out else "sms_start", guarantor, detail=f"{how} from {number}", actor="patient (text)")
    return changed


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _answer(number: str, message, about: Guarantor | None, spanish: bool) -> OutboxMessage:
    group = about.group if about is not None else None
    lang = "es" if spanish else language.of_guarantor(about)
    sender = group.sender if group is not None else POPS
    if message is HELP_TEXT:  # HELP names the practice itself, whatever its texts are signed with
        sender = group.name if group is not None else POPS
        if not (group and group.footer_phone):
            message = HELP_TEXT_NO_PHONE
    body = gettext(lang, message, sender=sender, phone=group.footer_phone if group else "")
    return notify.queue_sms(number, body, purpose="sms_reply", guarantor=about)


def receive(reply: Reply) -> str:
    """Act on a reply (one transaction): the keyword it was ("stop", "start", "help" or ""), its answer queued."""
    number = normalize_mobile(reply.sender) or reply.sender.strip()[:32]
    kind, spanish = keyword(reply.body)
    with database.atomic():
        about = last_texted(number)
        answered = True
        if kind == STOP:
            _set_opt_out(number, True)
            _answer(number, STOPPED_TEXT, about, spanish)
        elif kind == START:
            _set_opt_out(number, False)
            _answer(number, STARTED_TEXT, about, spanish)
        elif kind == HELP:
            _answer(number, HELP_TEXT, about, spanish)
        elif _claim_answer(number):
            _answer(number, FIXED_TEXT, about, spanish)
        else:
            answered = False
        SmsInbound.create(sender=number, to=reply.to[:32], body=reply.body[:1600], keyword=kind, answered=answered)
    return kind
