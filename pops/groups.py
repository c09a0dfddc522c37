"""POPS Groups found by their code (a sign-in address, a stylesheet's name, the console's filters and pages)."""
from __future__ import annotations

from .models import Group


def by_code(code: str | None) -> Group | None:
    """The group with exactly this code, or None (for no code, or one longer than any code can be)."""
    return Group.get_or_none(Group.code == code) if code and len(code) <= 32 else None
