"""Records: the audit log, the outbox, contact changes and patient requests."""
from __future__ import annotations

import datetime as dt

from peewee import (
    CharField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .access import Staff
from .base import BaseModel, UTCDateTimeField, _now
from .practice import Guarantor


# --- records ------------------------------------------------------------------------------

class AuditLog(BaseModel):
    """Append-only: who did what to which guarantor, when, from where. Never card data or codes."""

    at = UTCDateTimeField(default=_now, index=True)
    staff = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
    actor = CharField(max_length=254, default="")
    action = CharField(max_length=64)
    guarantor = ForeignKeyField(Guarantor, null=True, on_delete="SET NULL")
    detail = TextField(default="")
    ip = CharField(max_length=64, default="")


class OutboxMessage(BaseModel):
    """Every SMS and email POPS sends or would send; without SMTP or an SMS provider it stays here.

    A request only queues it (status `outbox`); the job runner sends it. A try that fails waits
    RETRY_AFTER[n] before the next; after MAX_TRIES it is `failed` until staff retry it. A message
    carrying a code is `expired` instead of sent once `expires_at` has passed.
    """

    SMS = "sms"
    EMAIL = "email"
    OUTBOX = "outbox"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    RETRY_AFTER = tuple(dt.timedelta(minutes=m) for m in (1, 5, 15, 60, 240))
    MAX_TRIES = len(RETRY_AFTER) + 1

    created_at = UTCDateTimeField(default=_now, index=True)
    channel = CharField(max_length=10)  # "sms" or "email"
    recipient = CharField(max_length=254)
    subject = CharField(max_length=300, default="")
    body = TextField()
    purpose = CharField(max_length=30, default="")
    guarantor = ForeignKeyField(Guarantor, null=True, on_delete="SET NULL")
    status = CharField(max_length=10, default=OUTBOX)
    sent_at = UTCDateTimeField(null=True)
    error = CharField(max_length=300, default="")
    attempts = IntegerField(default=0)  # tries so far
    next_attempt_at = UTCDateTimeField(null=True, index=True)  # not before; None: at once
    expires_at = UTCDateTimeField(null=True)  # a code's message is never sent after its code expires

    @property
    def retryable(self) -> bool:
        return self.status == self.FAILED


class JobLease(BaseModel):
    """Which process runs the jobs (`name`) until when: one runner at a time, taken over when it lapses."""

    name = CharField(max_length=30, unique=True)
    holder = CharField(max_length=100, default="")
    until = UTCDateTimeField(null=True)


CONTACT_FIELDS = ("preferred_name", "email", "mobile")


class ContactChange(BaseModel):
    """A contact detail the patient changed in the portal; an import keeps it until it carries the new value."""

    guarantor = ForeignKeyField(Guarantor, backref="contact_changes", on_delete="CASCADE")
    field = CharField(max_length=30)
    old_value = CharField(max_length=254, default="")
    new_value = CharField(max_length=254, default="")
    changed_at = UTCDateTimeField(default=_now)
    cleared_at = UTCDateTimeField(null=True)  # the PM system caught up


REQUEST_KINDS = ("register_patient", "modify_patient")


class PatientRequest(BaseModel):
    """A patient's request the practice reviews: a new dependant, or a change to a patient."""

    guarantor = ForeignKeyField(Guarantor, backref="requests", on_delete="CASCADE")
    kind = CharField(max_length=20)
    detail = TextField()  # JSON: the fields the patient filled in
    created_at = UTCDateTimeField(default=_now, index=True)
    handled_at = UTCDateTimeField(null=True)
    handled_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
