"""The audit log: one append-only row per staff action. Never card data, codes or passwords."""
from __future__ import annotations

from typing import Any

from peewee import JOIN

from .models import AuditLog, Guarantor, Staff, StaffSession


def audit(
    staff: Staff | StaffSession | None,
    action: str,
    guarantor: Guarantor | None = None,
    detail: str = "",
    request: Any = None,
    *,
    actor: str = "",
) -> AuditLog:
    """Record who (a staff member, or `actor` when no one is signed in) did `action`, from where.

    `request` is anything with `.client.host` (a Starlette request); its address is kept.
    """
    if isinstance(staff, StaffSession):
        staff = staff.staff
    client = getattr(request, "client", None)
    ip = (client.host if client else "") or ""
    return AuditLog.create(
        staff=staff,
        actor=(staff.email if staff is not None else actor)[:254],
        action=action[:64],
        guarantor=guarantor,
        detail=detail,
        ip=ip[:64],
    )


def recent(limit: int = 200, *, before_id: int | None = None) -> list[AuditLog]:
    """The newest rows first (with their staff member and guarantor loaded)."""
    query = (AuditLog.select(AuditLog, Staff, Guarantor)
             .join(Staff, join_type=JOIN.LEFT_OUTER, on=(AuditLog.staff == Staff.id))
             .switch(AuditLog)
             .join(Guarantor, join_type=JOIN.LEFT_OUTER, on=(AuditLog.guarantor == Guarantor.id)))
    if before_id:
        query = query.where(AuditLog.id < before_id)
    return list(query.order_by(AuditLog.id.desc()).limit(limit))
