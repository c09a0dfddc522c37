"""Which language a patient reads, decided in one place.

A page: the patient's own choice (Profile or the switch, kept on the guarantor) > this browser's choice
(the switch's cookie, for a visitor without a session) > the import's `language` > Accept-Language >
English. A staff mirror shows the patient's language (their choice, else the import's, else English)
and never saves one. Texts and emails use the guarantor's (`Guarantor.own_language`), English when none.
"""
from __future__ import annotations

from . import i18n
from .audit import audit
from .db import database
from .models import Guarantor, PatientSession


def for_page(session: PatientSession | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a patient page for this session (or none) and this browser."""
    guarantor = session.guarantor if session is not None else None
    if session is not None and session.staff_id is not None:
        return of_guarantor(guarantor)
    if guarantor is not None and guarantor.chosen_language in i18n.LANGUAGES:
        return guarantor.chosen_language
    if cookie in i18n.LANGUAGES:
        return cookie
    if guarantor is not None and guarantor.language in i18n.LANGUAGES:
        return guarantor.language
    return i18n.from_accept_language(accept_language) or i18n.DEFAULT


def of_guarantor(guarantor: Guarantor | None) -> str:
    """The language of what POPS sends the guarantor (texts, emails) and of a staff mirror."""
    return i18n.language(guarantor.own_language if guarantor is not None else None)


def choose(session: PatientSession, lang: str, *, ip: str = "") -> bool:
    """The patient chose `lang`: kept on the guarantor (audited) unless it is a staff mirror, which never
    saves one. False when nothing was saved (a mirror, an unknown language, the same choice)."""
    if session.staff_id is not None or lang not in i18n.LANGUAGES:
        return False
    with database.atomic():
        changed = Guarantor.update(chosen_language=lang).where(
            (Guarantor.id == session.guarantor_id) & (Guarantor.chosen_language != lang)).execute()
        if changed:
            audit(session, "language_chosen", session.guarantor_id, detail=lang, ip=ip)
    return bool(changed)
