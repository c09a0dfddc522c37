"""POPS Groups as the patient side finds them: by the code in a link, a sign-in address or a stylesheet's name."""
from __future__ import annotations

from .models import Group


def by_code(code: str | None) -> Group | None:
    """The group with this code (surrounding spaces forgiven), or None."""
    code = (code or "").strip()
    return Group.get_or_none(Group.code == code) if code and len(code) <= 32 else None
