"""A guarantor's email and mobile: read one way (normalized), shown masked, and where a code can go."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Guarantor

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def normalize_mobile(text: str) -> str | None:
    """A mobile number as +1NXXNXXXXXX (10 US digits, with or without 1) or +E.164; None if not one."""
    text = (text or "").strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") and not text.startswith("+1"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and digits[0] not in "01":
        return f"+1{digits}"
    return None


def normalize_email(text: str) -> str | None:
    text = (text or "").strip()
    return text if len(text) <= 254 and _EMAIL.fullmatch(text) else None


def mask_mobile(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return f"•••-•••-{digits[-4:]}"


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


@dataclass(frozen=True)
class Destination:
    """A place a code can be sent, as the patient sees it (masked)."""

    guarantor: Guarantor
    channel: str  # "sms" or "email"
    address: str

    @property
    def masked(self) -> str:
        return mask_mobile(self.address) if self.channel == "sms" else mask_email(self.address)


def destinations(guarantor: Guarantor) -> list[Destination]:
    """The mobile (texts opted out or not: codes are not notifications) and the email on file."""
    found = []
    if re.sub(r"\D", "", guarantor.mobile or ""):
        found.append(Destination(guarantor, "sms", guarantor.mobile))
    if "@" in (guarantor.email or ""):
        found.append(Destination(guarantor, "email", guarantor.email))
    return found
