"""What a balance text says: never an amount, a service or a diagnosis; the group's Text sender name,
the link, and how to opt out, in the guarantor's language."""
from __future__ import annotations

from .. import language
from ..i18n import N_, gettext
from ..models import Guarantor

STATEMENT_TEXT = N_("{sender}: you have a new statement. View and pay securely: {link} Reply STOP to opt out.")
NO_CONSENT = "No texting consent"  # what staff read instead of the text button


def statement_text(guarantor: Guarantor, link: str) -> str:
    """The balance text (staff's button, a reminder) in the guarantor's language."""
    return gettext(language.of_guarantor(guarantor), STATEMENT_TEXT, sender=guarantor.group.sender, link=link)
