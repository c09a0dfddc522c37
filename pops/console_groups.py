"""POPS Management: a new group, made by an admin, its options starting where an import's would.

The options are checked by the same rule as the group's page (console.group_changes).
"""
from __future__ import annotations

import re

from peewee import IntegrityError, fn

from . import console
from .audit import audit
from .db import database
from .models import GROUP_DEFAULTS, Group, Staff

CODE = re.compile(r"[A-Z0-9-]{2,32}")
BAD_CODE = "Use 2 to 32 characters: capital letters A–Z, digits 0–9 and hyphens (like RFM or WEST-2)."
TAKEN = "A group with this code already exists."


def new_values() -> dict[str, object]:
    """The new-group form as it opens: no code, no name, every option at its default."""
    return {"code": "", **console.group_values(Group(name=""))}


def submitted_values(form: dict[str, str]) -> dict[str, object]:
    """What a refused form shows again."""
    return {"code": str(form.get("code", "")).strip()[:32], **console.submitted_values(form)}


def create_group(form: dict[str, str], staff: Staff, *, ip: str) -> tuple[Group | None, dict[str, str]]:
    """A new group from the new-group form, recorded with the options it does not take by default.

    Returns the group, or None and the errors (by field): then nothing is created.
    """
    code = str(form.get("code", "")).strip()
    group = Group(code=code)
    changes, errors = console.group_changes(group, form)
    if not CODE.fullmatch(code):
        errors = {"code": BAD_CODE, **errors}
    elif Group.select().where(fn.UPPER(Group.code) == code).exists():
        errors = {"code": TAKEN, **errors}
    if errors:
        return None, errors
    for field, value in changes.items():
        setattr(group, field, value)
    chosen = ", ".join(f"{k}={v!r}" for k, v in changes.items() if k != "name" and v != GROUP_DEFAULTS[k])
    try:
        with database.atomic():
            group.save(force_insert=True)
            audit(staff, "group_create", detail=f"{code} {group.name!r}" + (f": {chosen}" if chosen else ""), ip=ip)
    except IntegrityError:  # the same code, created a moment ago by someone else
        return None, {"code": TAKEN}
    return group, {}
