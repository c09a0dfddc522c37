"""The audit log: one append-only row per action worth answering for. Never card data, codes or passwords."""
from __future__ import annotations

from typing import Any

from peewee import JOIN

from .models import AuditLog, Guarantor, PatientSession, Staff, StaffSession

PATIENT = "patient"  # the actor of a patient's own action
POPS = "POPS"  # the actor of what POPS does by itself (a job, a rule)


def audit(
    who: Staff | StaffSession | PatientSession | None,
    action: str,
    guarantor: Guarantor | int | None = None,
    detail: str = "",
    request: Any = None,
    *,
    actor: str = "",
    ip: str = "",
) -> AuditLog:
    """Record who did `action`, to which guarantor, from where.

    `who` is a staff member (or their session), a patient session (the patient, or the staff
    member mirroring them), or None with `actor` naming who it was ("patient", "POPS", an email
    typed at sign-in). The address is `ip`, or taken from `request` (anything with `.client.host`).
    """
    staff = who.staff if isinstance(who, StaffSession) else who
    if isinstance(who, PatientSession):
        staff = who.staff if who.staff_id else None
        guarantor = guarantor if guarantor is not None else who.guarantor_id
        actor = actor or PATIENT
    if not ip:
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
