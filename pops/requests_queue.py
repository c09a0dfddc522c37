"""The requests queue: patients' Register / Modify a Patient requests and portal contact changes, for staff to handle.

A contact change has no handled column of its own (its `cleared_at` belongs to the import: set,
it lets the PM system's value win again), so a staff member marking one handled is recorded as an
append-only audit row, and the queue reads those rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from . import clock
from .audit import audit
from .db import database
from .models import AuditLog, ContactChange, Group, Guarantor, PatientRequest, Staff

CONTACT_HANDLED = "contact_change_handled"
REQUEST_HANDLED = "request_handled"
KIND_LABELS = {"register_patient": "Register a Patient", "modify_patient": "Modify a Patient"}
FIELD_LABELS = {"preferred_name": "Preferred name", "email": "Email", "mobile": "Mobile"}


def _marker(change_id: int) -> str:
    return f"contact_change:{change_id}"


@dataclass(frozen=True)
class RequestItem:
    request: PatientRequest

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.request.kind, self.request.kind)

    @property
    def fields(self) -> list[tuple[str, str]]:
        """What the patient filled in, as (label, value) pairs."""
        try:
            detail = json.loads(self.request.detail or "{}")
        except ValueError:
            return [("Detail", self.request.detail)]
        if not isinstance(detail, dict):
            return [("Detail", str(detail))]
        return [(str(k).replace("_", " ").capitalize(), "" if v is None else str(v)) for k, v in detail.items()]


@dataclass(frozen=True)
class ContactItem:
    change: ContactChange
    handled: AuditLog | None  # who marked it handled, and when

    @property
    def field_label(self) -> str:
        return FIELD_LABELS.get(self.change.field, self.change.field)


def patient_requests(*, include_handled: bool = False) -> list[RequestItem]:
    """Requests oldest first (the queue's order); handled ones only when asked."""
    query = PatientRequest.select(PatientRequest, Guarantor, Group).join(Guarantor).join(Group)
    if not include_handled:
        query = query.where(PatientRequest.handled_at.is_null())
    return [RequestItem(r) for r in query.order_by(PatientRequest.created_at, PatientRequest.id)]


def contact_items(*, include_handled: bool = False) -> list[ContactItem]:
    """Contact changes the PM system does not carry yet, oldest first, with who handled them."""
    changes = list(ContactChange.select(ContactChange, Guarantor, Group).join(Guarantor).join(Group)
                   .where(ContactChange.cleared_at.is_null())
                   .order_by(ContactChange.changed_at, ContactChange.id))
    marks: dict[str, AuditLog] = {}
    if changes:
        rows = AuditLog.select().where(
            (AuditLog.action == CONTACT_HANDLED) & AuditLog.detail.in_([_marker(c.id) for c in changes])
        ).order_by(AuditLog.id)
        for row in rows:
            marks.setdefault(row.detail, row)
    items = [ContactItem(c, marks.get(_marker(c.id))) for c in changes]
    return items if include_handled else [i for i in items if i.handled is None]


@dataclass(frozen=True)
class Queue:
    requests: list[RequestItem]
    contacts: list[ContactItem]


def queue(staff: Staff, *, include_handled: bool = False, ip: str = "") -> Queue:
    """The queue staff work through (handled items too when asked); viewing it is recorded."""
    audit(staff, "view_requests", ip=ip)
    return Queue(patient_requests(include_handled=include_handled), contact_items(include_handled=include_handled))


def mark_request_handled(request_id: int, staff: Staff, *, ip: str = "") -> bool:
    """Mark one request handled (once: a second click changes nothing). False if there is no such open request."""
    with database.atomic():
        item = PatientRequest.get_or_none(PatientRequest.id == request_id)
        if item is None:
            return False
        rows = PatientRequest.update(handled_at=clock.now(), handled_by=staff).where(
            (PatientRequest.id == request_id) & PatientRequest.handled_at.is_null()
        ).execute()
        if rows:
            audit(staff, REQUEST_HANDLED, item.guarantor, detail=f"{item.kind} request {item.id}", ip=ip)
    return bool(rows)


def mark_contact_handled(change_id: int, staff: Staff, *, ip: str = "") -> bool:
    """Mark a contact change handled (recorded in the audit log); False if unknown or already handled."""
    with database.atomic():
        change = ContactChange.get_or_none(ContactChange.id == change_id)
        if change is None:
            return False
        marked = AuditLog.select().where(
            (AuditLog.action == CONTACT_HANDLED) & (AuditLog.detail == _marker(change.id))).exists()
        if marked:
            return False
        audit(staff, CONTACT_HANDLED, change.guarantor, detail=_marker(change.id), ip=ip)
    return True
