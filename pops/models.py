"""The ledger as Peewee models: what the PM system imports, and what POPS itself records."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from . import clock
from .db import database
from .money import from_cents, to_cents


class MoneyField(BigIntegerField):
    """A Decimal amount stored as whole cents, so SQL sums are exact on every database."""

    def db_value(self, value):
        return None if value is None else to_cents(value)

    def python_value(self, value):
        return None if value is None else from_cents(value)


class UTCDateTimeField(DateTimeField):
    """An instant: stored as naive UTC, read back timezone-aware."""

    def db_value(self, value):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


def _now() -> dt.datetime:
    return clock.now()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


# --- the practice -------------------------------------------------------------------------

GROUP_DEFAULTS: dict[str, object] = {
    "logo": "",
    "brand_color": "#1f5f8b",
    "timezone": "America/New_York",
    "footer_phone": "",
    "footer_email": "",
    "footer_text": "",
    "show_collections": False,
    "show_current_balance": True,
    "include_new_charges_in_amount_due": False,
    "email_receipts": False,
    "enable_credit_card": True,
    "enable_google_pay": False,
    "enable_apple_pay": False,
    "enable_payment_method_storage": False,
    "require_cvv": True,
    "quickpay_max_uses": 10,
    "link_days": 365,
    "desk_qr_minutes": 15,
    "session_idle_timeout": 15,
    "allow_session_extension": False,
    "enable_appointments": True,
    "landing_page": "home",
    "print_link_and_qr_on_statements": True,
}
"""Every POPS Group option (PRODUCT.md) with the value a new group starts from; import keys are the same."""


class Group(BaseModel):
    """A POPS Group: a practice's branding and the options that shape the patient's experience."""

    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=200)
    logo = CharField(max_length=500, default="")
    brand_color = CharField(max_length=7, default=GROUP_DEFAULTS["brand_color"])
    timezone = CharField(max_length=64, default=GROUP_DEFAULTS["timezone"])
    footer_phone = CharField(max_length=40, default="")
    footer_email = CharField(max_length=200, default="")
    footer_text = TextField(default="")
    show_collections = BooleanField(default=False)
    show_current_balance = BooleanField(default=True)
    include_new_charges_in_amount_due = BooleanField(default=False)
    email_receipts = BooleanField(default=False)
    enable_credit_card = BooleanField(default=True)
    enable_google_pay = BooleanField(default=False)
    enable_apple_pay = BooleanField(default=False)
    enable_payment_method_storage = BooleanField(default=False)
    require_cvv = BooleanField(default=True)
    quickpay_max_uses = IntegerField(default=10)
    link_days = IntegerField(default=365)
    desk_qr_minutes = IntegerField(default=15)
    session_idle_timeout = IntegerField(default=15)  # minutes
    allow_session_extension = BooleanField(default=False)
    enable_appointments = BooleanField(default=True)
    landing_page = CharField(max_length=8, default="home")  # "home" or "pay"
    print_link_and_qr_on_statements = BooleanField(default=True)


class Guarantor(BaseModel):
    """The person responsible for an account's bills; the one who signs in and pays."""

    account = CharField(max_length=64, unique=True)
    group = ForeignKeyField(Group, backref="guarantors", on_delete="RESTRICT")
    first_name = CharField(max_length=100)
    last_name = CharField(max_length=100)
    preferred_name = CharField(max_length=100, default="")
    date_of_birth = DateField()
    email = CharField(max_length=254, default="")
    mobile = CharField(max_length=32, default="")
    sms_opt_out = BooleanField(default=False)
    address_line1 = CharField(max_length=200, default="")
    address_line2 = CharField(max_length=200, default="")
    city = CharField(max_length=100, default="")
    state = CharField(max_length=40, default="")
    zip = CharField(max_length=20, default="")
    escrow = MoneyField(default=Decimal("0.00"))
    unapplied = MoneyField(default=Decimal("0.00"))
    # notification choices the patient makes in Profile (POPS owns these)
    notify_balance_email = BooleanField(default=True)
    notify_balance_text = BooleanField(default=True)
    notify_balance_paper = BooleanField(default=True)
    notify_appointment_email = BooleanField(default=True)
    notify_appointment_text = BooleanField(default=True)
    # Moved on by every payment started: a pay form carries the value it was shown with, so a
    # second tab or a stale form cannot start a second payment (one conditional UPDATE decides).
    payment_seq = IntegerField(default=0)

    @property
    def display_name(self) -> str:
        return f"{self.preferred_name or self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Patient(BaseModel):
    guarantor = ForeignKeyField(Guarantor, backref="patients", on_delete="CASCADE")
    ext_id = CharField(max_length=64)
    first_name = CharField(max_length=100)
    last_name = CharField(max_length=100)
    date_of_birth = DateField(null=True)

    class Meta:
        indexes = ((("guarantor", "ext_id"), True),)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Encounter(BaseModel):
    """A visit and its charges; its patient balance is the sum of its lines less insurance pending."""

    guarantor = ForeignKeyField(Guarantor, backref="encounters", on_delete="CASCADE")
    ext_id = CharField(max_length=64)
    patient = ForeignKeyField(Patient, backref="encounters", on_delete="RESTRICT")
    date = DateField()
    provider = CharField(max_length=200, default="")
    facility_code = CharField(max_length=64, default="")
    facility_name = CharField(max_length=200, default="")
    description = CharField(max_length=500, default="")
    in_collections = BooleanField(default=False)
    insurance_pending = MoneyField(default=Decimal("0.00"))

    class Meta:
        indexes = ((("guarantor", "ext_id"), True),)


LINE_KINDS = ("charge", "insurance_payment", "adjustment", "patient_payment")


class EncounterLine(BaseModel):
    encounter = ForeignKeyField(Encounter, backref="lines", on_delete="CASCADE")
    ext_id = CharField(max_length=64)
    kind = CharField(max_length=20)
    code = CharField(max_length=32, default="")
    description = CharField(max_length=500, default="")
    amount = MoneyField()
    date = DateField()
    applies_to = CharField(max_length=64, default="")
    provider = CharField(max_length=200, default="")
    receipt_number = CharField(max_length=64, default="", index=True)

    class Meta:
        indexes = ((("encounter", "ext_id"), True),)

    @property
    def service_id(self) -> str:
        return f"{self.encounter.ext_id}-{self.ext_id}"


class Statement(BaseModel):
    guarantor = ForeignKeyField(Guarantor, backref="statements", on_delete="CASCADE")
    number = CharField(max_length=64, unique=True)
    date = DateField()
    due_date = DateField()
    balance = MoneyField()
    amount_due = MoneyField()
    first_viewed_at = UTCDateTimeField(null=True)  # by the patient; staff mirrors never set it


class StatementEncounter(BaseModel):
    statement = ForeignKeyField(Statement, backref="statement_encounters", on_delete="CASCADE")
    encounter = ForeignKeyField(Encounter, backref="statement_encounters", on_delete="CASCADE")

    class Meta:
        indexes = ((("statement", "encounter"), True),)


class Appointment(BaseModel):
    guarantor = ForeignKeyField(Guarantor, backref="appointments", on_delete="CASCADE")
    ext_id = CharField(max_length=64, unique=True)
    patient = ForeignKeyField(Patient, backref="appointments", on_delete="CASCADE")
    at = DateTimeField()  # the practice's local time, as the PM system gives it
    provider = CharField(max_length=200, default="")
    location = CharField(max_length=200, default="")
    reason = CharField(max_length=500, default="")
    status = CharField(max_length=20, default="scheduled")


# --- staff --------------------------------------------------------------------------------

class Staff(BaseModel):
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=10, default="staff")  # "admin" or "staff"
    totp_secret = CharField(max_length=64)
    last_totp_step = BigIntegerField(default=0)  # a TOTP code is accepted once
    failed_sign_ins = IntegerField(default=0)
    locked_until = UTCDateTimeField(null=True)
    active = BooleanField(default=True)
    created_at = UTCDateTimeField(default=_now)


# --- money POPS takes ---------------------------------------------------------------------

class ReferenceBatch(BaseModel):
    """One day's POPS payments for a group, opened by the first payment and closed by staff."""

    group = ForeignKeyField(Group, backref="batches", on_delete="RESTRICT")
    batch_date = DateField(index=True)  # in the group's time zone
    description = CharField(max_length=100, default="API Payments")
    user = CharField(max_length=100, default="POPS")
    status = CharField(max_length=10, default="open")  # "open" or "closed"
    opened_at = UTCDateTimeField(default=_now)
    closed_at = UTCDateTimeField(null=True)
    closed_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")


# At most one open batch per group and day; a closed batch never changes, so a later payment
# that day opens a second one.
ReferenceBatch.add_index(
    ReferenceBatch.index(
        ReferenceBatch.group, ReferenceBatch.batch_date, unique=True, where=(ReferenceBatch.status == "open")
    )
)

RECEIPT_STATUSES = ("pending", "paid", "unsuccessful", "refunded", "partially_refunded")
RECEIPT_SOURCES = ("pops", "office", "mail")


class Receipt(BaseModel):
    """Money received from a patient: a POPS payment (or its decline), or one the PM system imported."""

    number = CharField(max_length=64, unique=True)
    guarantor = ForeignKeyField(Guarantor, backref="receipts", on_delete="RESTRICT")
    source = CharField(max_length=10)  # "pops", "office", "mail"
    received_at = UTCDateTimeField()
    received_date = DateField()  # the date the practice sees (group's time zone / import date)
    method = CharField(max_length=20, default="card")
    card_type = CharField(max_length=40, default="")
    last4 = CharField(max_length=4, default="")
    amount = MoneyField()
    refunded_amount = MoneyField(default=Decimal("0.00"))
    status = CharField(max_length=20)
    decline_reason = CharField(max_length=200, default="")
    batch = ForeignKeyField(ReferenceBatch, null=True, backref="receipts", on_delete="RESTRICT")
    taken_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")  # a staff mirror session
    posted_back = BooleanField(default=False)  # the PM system's lines now carry this POPS payment
    imported = BooleanField(default=False)


class Transaction(BaseModel):
    """A gateway transaction on a receipt: the sale, or a refund."""

    receipt = ForeignKeyField(Receipt, backref="transactions", on_delete="RESTRICT")
    number = CharField(max_length=100)
    kind = CharField(max_length=10, default="sale")  # "sale" or "refund"
    amount = MoneyField()
    status = CharField(max_length=20, default="approved")
    created_at = UTCDateTimeField(default=_now)
    refund_receipt_number = CharField(max_length=64, default="")
    staff = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
    batch = ForeignKeyField(ReferenceBatch, null=True, backref="transactions", on_delete="RESTRICT")  # a refund's batch
    idempotency_key = CharField(max_length=64, null=True, unique=True)


class ReceiptApplication(BaseModel):
    """Part of a receipt applied to an encounter (line optional): POPS's own, or as imported."""

    receipt = ForeignKeyField(Receipt, backref="applications", on_delete="CASCADE")
    encounter = ForeignKeyField(Encounter, backref="applications", on_delete="RESTRICT")
    line_ext_id = CharField(max_length=64, default="")
    amount = MoneyField()
    source = CharField(max_length=10, default="pops")  # "pops" or "import"


# --- access -------------------------------------------------------------------------------

LINK_PURPOSES = ("sms", "email", "statement", "desk")


class Link(BaseModel):
    """A QuickPay short link: its code is signed, so only genuine codes ever reach this table."""

    key = CharField(max_length=64, unique=True)  # the code's random part
    guarantor = ForeignKeyField(Guarantor, backref="links", on_delete="CASCADE")
    purpose = CharField(max_length=10)
    created_at = UTCDateTimeField(default=_now)
    expires_at = UTCDateTimeField()
    max_uses = IntegerField()
    uses = IntegerField(default=0)
    revoked_at = UTCDateTimeField(null=True)
    statement = ForeignKeyField(Statement, null=True, on_delete="SET NULL")
    created_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")


SESSION_ORIGINS = ("sms_link", "email_link", "statement_qr", "desk_qr", "sign_in", "staff_mirror")


class SessionBase(BaseModel):
    token_hash = CharField(max_length=64, unique=True)
    started_at = UTCDateTimeField(default=_now)
    last_seen_at = UTCDateTimeField(default=_now)
    expires_at = UTCDateTimeField()  # idle deadline, moved by activity
    ended_at = UTCDateTimeField(null=True)
    end_reason = CharField(max_length=20, default="")  # "logout", "idle", "limit", "replaced"
    ip = CharField(max_length=64, default="")
    user_agent = CharField(max_length=300, default="")


class PatientSession(SessionBase):
    """A patient's (or a staff mirror's) session on the patient side."""

    guarantor = ForeignKeyField(Guarantor, backref="sessions", on_delete="CASCADE")
    group = ForeignKeyField(Group, on_delete="RESTRICT")
    origin = CharField(max_length=20)
    auth = CharField(max_length=10)  # "quickpay", "code", "staff"
    quickpay = BooleanField(default=False)  # the QuickPay view rather than the full portal
    link = ForeignKeyField(Link, null=True, on_delete="SET NULL")
    staff = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")  # set for a mirror
    extensions = IntegerField(default=0)
    pages = IntegerField(default=0)
    payment_outcome = CharField(max_length=20, default="")  # "", "paid", "declined", "error"


class SessionPage(BaseModel):
    session = ForeignKeyField(PatientSession, backref="page_visits", on_delete="CASCADE")
    path = CharField(max_length=300)
    at = UTCDateTimeField(default=_now)


class StaffSession(SessionBase):
    staff = ForeignKeyField(Staff, backref="sessions", on_delete="CASCADE")


CODE_PURPOSES = ("sign_in", "verify_email", "verify_mobile")


class OneTimeCode(BaseModel):
    """A 6-digit code sent for one sign-in attempt (or one contact change), stored hashed."""

    attempt = CharField(max_length=64, unique=True)  # the random id of the attempt it belongs to
    purpose = CharField(max_length=20)
    guarantor = ForeignKeyField(Guarantor, backref="codes", on_delete="CASCADE")
    channel = CharField(max_length=10)  # "sms" or "email"
    destination = CharField(max_length=254)
    code_hash = CharField(max_length=128)
    created_at = UTCDateTimeField(default=_now, index=True)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)
    failures = IntegerField(default=0)
    ip = CharField(max_length=64, default="")


# --- payments ------------------------------------------------------------------------

class StoredCard(BaseModel):
    """A card the patient asked the gateway to keep: its token, brand, last four and expiry only."""

    guarantor = ForeignKeyField(Guarantor, backref="stored_cards", on_delete="CASCADE")
    gateway_token = CharField(max_length=100, unique=True)
    brand = CharField(max_length=40)
    last4 = CharField(max_length=4)
    exp_month = IntegerField()
    exp_year = IntegerField()
    created_at = UTCDateTimeField(default=_now)
    removed_at = UTCDateTimeField(null=True)


PAYMENT_STATUSES = ("attempt", "pending", "paid", "declined", "error", "canceled")


class PaymentAttempt(BaseModel):
    """One try at paying, stored before the gateway is called and settled exactly once.

    attempt (key recorded) -> pending (at the gateway, or its answer not yet confirmed)
    -> paid | declined | error | canceled. The key is the gateway's idempotency key.
    """

    key = CharField(max_length=64, unique=True)
    guarantor = ForeignKeyField(Guarantor, backref="payment_attempts", on_delete="RESTRICT")
    session = ForeignKeyField(PatientSession, null=True, on_delete="SET NULL")
    staff = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")  # taken in a mirror session
    entrance = CharField(max_length=10)  # "quickpay" or "portal"
    amount = MoneyField()
    amount_choice = CharField(max_length=20)  # "amount_due", "current_balance", "other"
    status = CharField(max_length=10, default="attempt", index=True)
    created_at = UTCDateTimeField(default=_now)
    updated_at = UTCDateTimeField(default=_now)
    settled_at = UTCDateTimeField(null=True)
    gateway_checkout = CharField(max_length=100, default="")
    gateway_transaction = CharField(max_length=100, default="")
    method = CharField(max_length=20, default="")  # "card", "google_pay", "apple_pay"
    card_type = CharField(max_length=40, default="")
    last4 = CharField(max_length=4, default="")
    message = CharField(max_length=300, default="")  # why it was declined or failed
    stored_card = ForeignKeyField(StoredCard, null=True, on_delete="SET NULL")
    receipt = ForeignKeyField(Receipt, null=True, on_delete="RESTRICT")


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
    """Every SMS and email POPS sends or would send; without SMTP or an SMS provider it stays here."""

    created_at = UTCDateTimeField(default=_now, index=True)
    channel = CharField(max_length=10)  # "sms" or "email"
    recipient = CharField(max_length=254)
    subject = CharField(max_length=300, default="")
    body = TextField()
    purpose = CharField(max_length=30, default="")
    guarantor = ForeignKeyField(Guarantor, null=True, on_delete="SET NULL")
    status = CharField(max_length=10, default="outbox")  # "outbox", "sent", "failed"
    sent_at = UTCDateTimeField(null=True)
    error = CharField(max_length=300, default="")


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


# --- the sandbox gateway's own records (a real gateway keeps these on its side) -----------

class SandboxCheckout(BaseModel):
    """A hosted-page checkout the sandbox gateway opened for POPS."""

    token = CharField(max_length=64, unique=True)
    idempotency_key = CharField(max_length=64, unique=True)
    amount = MoneyField()
    description = CharField(max_length=200, default="")
    return_url = CharField(max_length=500)
    options = TextField(default="{}")  # JSON: require_cvv, wallets, allow_store, card_enabled
    status = CharField(max_length=10, default="open")  # "open", "completed", "canceled"
    created_at = UTCDateTimeField(default=_now)
    expires_at = UTCDateTimeField()
    charge = CharField(max_length=64, default="")  # the SandboxCharge's transaction id
    result_token_used = BooleanField(default=False)


class SandboxCharge(BaseModel):
    """A sale the sandbox gateway made (approved, declined or failed), with its refunds."""

    transaction = CharField(max_length=64, unique=True)
    idempotency_key = CharField(max_length=64, unique=True)
    amount = MoneyField()
    refunded = MoneyField(default=Decimal("0.00"))
    status = CharField(max_length=20)  # "approved", "declined", "error"
    decline_code = CharField(max_length=40, default="")
    brand = CharField(max_length=40, default="")
    last4 = CharField(max_length=4, default="")
    wallet = CharField(max_length=20, default="")
    card_token = CharField(max_length=64, default="")
    created_at = UTCDateTimeField(default=_now)


class SandboxRefund(BaseModel):
    transaction = CharField(max_length=64, unique=True)
    charge = CharField(max_length=64, index=True)
    idempotency_key = CharField(max_length=64, unique=True)
    amount = MoneyField()
    created_at = UTCDateTimeField(default=_now)


class SandboxCardToken(BaseModel):
    """A card the sandbox keeps for reuse; it knows the number's last four only (test cards)."""

    token = CharField(max_length=64, unique=True)
    brand = CharField(max_length=40)
    last4 = CharField(max_length=4)
    exp_month = IntegerField()
    exp_year = IntegerField()
    behaviour = CharField(max_length=20, default="approve")  # what charging it does
    created_at = UTCDateTimeField(default=_now)


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
    SandboxCheckout,
    SandboxCharge,
    SandboxRefund,
    SandboxCardToken,
]
