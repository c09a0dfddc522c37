"""The ledger as Peewee models: what the PM system imports, and what POPS itself records.

One module per area; import from here (`from pops.models import Receipt`). The sandbox
gateway's tables live beside the sandbox (pops.gateways.sandbox_tables); pops.schema lists both.
"""
from .access import (
    CODE_PURPOSES,
    LINK_PURPOSES,
    SESSION_ORIGINS,
    Link,
    OneTimeCode,
    PatientSession,
    SessionBase,
    SessionPage,
    Staff,
    StaffSession,
)
from .base import BaseModel, MoneyField, UTCDateTimeField
from .limits import Throttle
from .payments import (
    PAYMENT_STATUSES,
    RECEIPT_SOURCES,
    RECEIPT_STATUSES,
    PaymentAttempt,
    Receipt,
    ReceiptApplication,
    ReferenceBatch,
    StoredCard,
    Transaction,
)
from .practice import (
    COLOUR,
    GROUP_DEFAULTS,
    LINE_KINDS,
    Appointment,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    LedgerVersion,
    Patient,
    Statement,
    StatementEncounter,
    is_colour,
)
from .records import CONTACT_FIELDS, REQUEST_KINDS, AuditLog, ContactChange, JobLease, OutboxMessage, PatientRequest

MODELS = [
    Group,
    Guarantor,
    Patient,
    Encounter,
    EncounterLine,
    Statement,
    StatementEncounter,
    Appointment,
    Staff,
    ReferenceBatch,
    Receipt,
    Transaction,
    ReceiptApplication,
    Link,
    PatientSession,
    SessionPage,
    StaffSession,
    AuditLog,
    OutboxMessage,
    ContactChange,
    StoredCard,
    PaymentAttempt,
    OneTimeCode,
    PatientRequest,
    Throttle,
    JobLease,
]
"""POPS's own tables, in an order that creates each after what it refers to."""

__all__ = [name for name in dir() if not name.startswith("_")]
