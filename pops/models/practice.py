"""The practice and its ledger, as the PM system imports them."""
from __future__ import annotations

import re
from decimal import Decimal

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, MoneyField, UTCDateTimeField

# --- the practice -------------------------------------------------------------------------

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def is_colour(value: object) -> bool:
    """A colour a stylesheet may carry: #RRGGBB and nothing else."""
    return isinstance(value, str) and COLOUR.fullmatch(value) is not None


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
    # payment plans and autopay (issue 15): all off by default; plans only with payment method storage
    "payment_plans": False,
    "plan_min_balance": Decimal("100.00"),
    "plan_min_instalment": Decimal("25.00"),
    "plan_max_months": 12,
    "plan_down_payment_percent": 0,
    "autopay": False,
    "autopay_cap": Decimal("500.00"),
    # texts (issue 16): the name a text starts with ("" = the group's name); reminders, off by default
    "text_sender": "",
    "reminders": False,
    "reminder_first_days": 10,
    "reminder_second_days": 20,
}
"""Every POPS Group option (PRODUCT.md) with the value a new group starts from; import keys are the same."""


class Group(BaseModel):
    """A POPS Group: a practice's branding and the options that shape the patient's experience."""

    HOME = "home"  # landing pages after sign-in
    PAY = "pay"
    LANDING_PAGES = (HOME, PAY)

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
    landing_page = CharField(max_length=8, default=HOME)
    print_link_and_qr_on_statements = BooleanField(default=True)
    payment_plans = BooleanField(default=False)
    plan_min_balance = MoneyField(default=GROUP_DEFAULTS["plan_min_balance"])
    plan_min_instalment = MoneyField(default=GROUP_DEFAULTS["plan_min_instalment"])
    plan_max_months = IntegerField(default=12)
    plan_down_payment_percent = IntegerField(default=0)  # 0: no down payment
    autopay = BooleanField(default=False)
    autopay_cap = MoneyField(default=GROUP_DEFAULTS["autopay_cap"])
    text_sender = CharField(max_length=30, default="")
    reminders = BooleanField(default=False)  # statement reminders on a schedule (pops.texts.reminders)
    reminder_first_days = IntegerField(default=10)
    reminder_second_days = IntegerField(default=20)

    @property
    def brand_colour(self) -> str:
        """The brand colour, or the default when what is stored is not a colour."""
        return self.brand_color if is_colour(self.brand_color) else str(GROUP_DEFAULTS["brand_color"])

    @property
    def offers_online_payment(self) -> bool:
        """Whether the group takes any online payment method (card, Google Pay, Apple Pay)."""
        return self.enable_credit_card or self.enable_google_pay or self.enable_apple_pay

    @property
    def offers_plans(self) -> bool:
        """Payment plans are on, and cards may be stored (a plan charges the stored card)."""
        return self.payment_plans and self.enable_payment_method_storage and self.enable_credit_card

    @property
    def sender(self) -> str:
        """The name every text starts with: the Text sender name, else the group's name."""
        return self.text_sender.strip() or self.name

    @property
    def landing_path(self) -> str:
        """Where a signed-in patient lands."""
        return "/pay" if self.landing_page == Group.PAY else "/home"


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
    # The language a patient reads ("en", "es"; "" when none): the import's, and their own choice in
    # Profile, which wins (pops.language decides a page's language; texts and emails use `own_language`).
    language = CharField(max_length=8, default="")
    chosen_language = CharField(max_length=8, default="")
    # Moved on by every payment started: a pay form carries the value it was shown with, so a
    # second tab or a stale form cannot start a second payment (one conditional UPDATE decides).
    payment_seq = IntegerField(default=0)

    # The names rule, in one place: a patient is greeted by the name they prefer ("Mari Lopez"),
    # and the account's legal name stands on receipts, statements, staff pages and reports ("Maria Lopez").

    @property
    def greeting_name(self) -> str:
        """Where the patient is greeted (Home, QuickPay, a message to them): the preferred name when given."""
        return f"{self.preferred_name or self.first_name} {self.last_name}"

    @property
    def own_language(self) -> str:
        """The patient's language as the account knows it: their choice, else the import's ("" when neither)."""
        return self.chosen_language or self.language

    @property
    def legal_name(self) -> str:
        """On receipts, statements, staff pages and reports: the name the practice bills."""
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


class LedgerVersion(BaseModel):
    """A value that changes whenever anything an account's facts are read from changes (pops.ledger caches by it).

    Written only by the database's own triggers (migration 0014), in the same statement as the change, on
    every insert, update and delete of the rows pops.ledger reads: never by POPS's code. A fresh random value
    each time, not a counter, so a restored backup or a reused id cannot meet a value cached before.
    No foreign key: a guarantor's deletion cascades to rows whose triggers still write here.
    """

    guarantor_id = BigIntegerField(primary_key=True)
    version = BigIntegerField()


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
