"""What POPS keeps about payment plans: the offer a patient agreed to, the plan and its instalments,
the patient's texting consent and the notices a plan sends."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField, TextField

from ..i18n import N_
from .page_notices import PAGE_TEXT
from ..models import BaseModel, Guarantor, MoneyField, PatientSession, PaymentAttempt, Staff, StoredCard, UTCDateTimeField
from ..models.base import _now


class TextConsent(BaseModel):
    """The patient's yes or no to automatic texts at a number: when, how, and by whom it was recorded.

    The latest row for a guarantor is in force. (Spanish and texts, a later issue, adds import,
    Profile and STOP as other ways it is recorded.)
    """

    guarantor = ForeignKeyField(Guarantor, backref="text_consents", on_delete="CASCADE")
    mobile = CharField(max_length=32)
    granted = BooleanField()
    recorded_at = UTCDateTimeField(default=_now)
    how = CharField(max_length=60)  # e.g. "plan set-up (portal)"
    session = ForeignKeyField(PatientSession, null=True, on_delete="SET NULL")
    wording = TextField(default="")  # the question as the patient read it


class PlanOffer(BaseModel):
    """A schedule the patient agreed to, waiting for its first payment (the attempt under `key`).

    It is not a plan: the plan is made from it when that payment is paid, and never otherwise.
    A change the patient agreed to (new charges joining: key "<plan key[:40]>-jN", pops.plans.joining)
    is one too, with no payment: the plan then points at it, the earlier offers kept as its history.
    """

    key = CharField(max_length=64, unique=True)  # the first payment's attempt key
    guarantor = ForeignKeyField(Guarantor, on_delete="CASCADE")
    created_at = UTCDateTimeField(default=_now)
    terms = TextField()  # JSON: balance, down payment, months, day, payments [[date, amount]]
    authorisation = TextField()
    authorisation_version = CharField(max_length=20)
    language = CharField(max_length=5, default="en")


class PaymentPlan(BaseModel):
    """A plan: its first payment paid, its instalments charged to the stored card on their dates."""

    ACTIVE = "active"
    ON_HOLD = "on_hold"  # an instalment fell due while escrow or unapplied funds were held
    PAST_DUE = "past_due"  # declined twice (or a hard decline): nothing more is charged
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    LIVE = (ACTIVE, ON_HOLD, PAST_DUE)
    LABELS = {ACTIVE: N_("Active"), ON_HOLD: N_("On hold"), PAST_DUE: N_("Past due"),
              COMPLETED: N_("Completed"), CANCELLED: N_("Cancelled")}

    guarantor = ForeignKeyField(Guarantor, backref="plans", on_delete="RESTRICT")
    offer = ForeignKeyField(PlanOffer, unique=True, on_delete="RESTRICT")  # the authorisation in force
    key = CharField(max_length=64, unique=True)  # its first payment's key: each instalment's key starts with it
    status = CharField(max_length=10, default=ACTIVE, index=True)
    created_at = UTCDateTimeField(default=_now)
    balance = MoneyField()  # the Total Sale Price
    down_payment = MoneyField()
    months = IntegerField()
    day_of_month = IntegerField()
    stored_card = ForeignKeyField(StoredCard, null=True, on_delete="SET NULL")
    first_attempt = ForeignKeyField(PaymentAttempt, null=True, on_delete="SET NULL")
    ended_at = UTCDateTimeField(null=True)
    cancel_reason = CharField(max_length=300, default="")
    cancelled_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")

    @property
    def status_label(self) -> str:
        return PaymentPlan.LABELS.get(self.status, self.status)


class Instalment(BaseModel):
    """One dated payment of a plan, charged once per try (its key: plan, number and try)."""

    SCHEDULED = "scheduled"
    PAID = "paid"
    SKIPPED = "skipped"  # nothing was left to pay on it

    plan = ForeignKeyField(PaymentPlan, backref="instalments", on_delete="CASCADE")
    number = IntegerField()  # 1, 2, ... in date order
    due_date = DateField(index=True)
    amount = MoneyField()
    status = CharField(max_length=10, default=SCHEDULED)
    tries = IntegerField(default=0)
    retry_on = DateField(null=True)  # a soft decline is retried once, 3 days later
    attempt = ForeignKeyField(PaymentAttempt, null=True, on_delete="SET NULL")  # the latest try
    paid_at = UTCDateTimeField(null=True)
    reminded = BooleanField(default=False)

    class Meta:
        indexes = ((("plan", "number"), True),)

    def key(self, plan: PaymentPlan) -> str:
        """The idempotency key of this instalment's current try: a retried job never charges twice."""
        return f"{plan.key[:40]}-i{self.number}-t{self.tries + 1}"


class PlanNotice(BaseModel):
    """Something a plan or autopay tells the patient: by text (with consent), else email, else on the plan page."""

    guarantor = ForeignKeyField(Guarantor, on_delete="CASCADE")
    plan = ForeignKeyField(PaymentPlan, null=True, on_delete="CASCADE")
    kind = CharField(max_length=30)
    channel = CharField(max_length=10)  # "sms", "email" or "page"
    created_at = UTCDateTimeField(default=_now)
    ref = CharField(max_length=64, default="", index=True)  # what it is about (autopay: the statement), told once

    @property
    def page_text(self) -> str:
        """What the plan page says of it (a marked sentence, translated where it is shown)."""
        return PAGE_TEXT.get(self.kind, self.kind)


class Autopay(BaseModel):
    """The patient's authorisation to pay each new statement's Amount Due on its due date, up to a cap."""

    EACH = "each"  # the patient is sent each charge's amount and date 10 days before it
    OVER_CAP = "over_cap"  # ... only when a statement exceeds the cap
    NOTICES = (EACH, OVER_CAP)

    guarantor = ForeignKeyField(Guarantor, backref="autopays", on_delete="CASCADE")
    key = CharField(max_length=64, unique=True)  # each statement's charge key starts with it
    cap = MoneyField()
    notice = CharField(max_length=10, default=EACH)
    stored_card = ForeignKeyField(StoredCard, null=True, on_delete="SET NULL")
    authorisation = TextField()
    authorisation_version = CharField(max_length=20)
    created_at = UTCDateTimeField(default=_now)
    ended_at = UTCDateTimeField(null=True)
    session = ForeignKeyField(PatientSession, null=True, on_delete="SET NULL")


TABLES = [TextConsent, PlanOffer, PaymentPlan, Instalment, PlanNotice, Autopay]
