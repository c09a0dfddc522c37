"""Money POPS takes: reference batches, receipts, gateway transactions, saved cards, payment attempts."""
from __future__ import annotations

from decimal import Decimal

from peewee import (
    BooleanField,
    CharField,
    DateField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from ..i18n import N_, from_stored
from .access import PatientSession, Staff
from .base import BaseModel, MoneyField, UTCDateTimeField, _now
from .practice import Encounter, Group, Guarantor


# --- money POPS takes ---------------------------------------------------------------------

class ReferenceBatch(BaseModel):
    """One day's POPS payments for a group, opened by the first payment and closed by staff."""

    OPEN = "open"
    CLOSED = "closed"

    group = ForeignKeyField(Group, backref="batches", on_delete="RESTRICT")
    batch_date = DateField(index=True)  # in the group's time zone
    description = CharField(max_length=100, default="API Payments")
    user = CharField(max_length=100, default="POPS")
    status = CharField(max_length=10, default=OPEN)
    opened_at = UTCDateTimeField(default=_now)
    closed_at = UTCDateTimeField(null=True)
    closed_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")


# At most one open batch per group and day; a closed batch never changes, so a later payment
# that day opens a second one.
ReferenceBatch.add_index(
    ReferenceBatch.index(
        ReferenceBatch.group, ReferenceBatch.batch_date, unique=True, where=(ReferenceBatch.status == ReferenceBatch.OPEN)
    )
)

RECEIPT_STATUSES = ("pending", "paid", "unsuccessful", "refunded", "partially_refunded")
RECEIPT_SOURCES = ("pops", "office", "mail")


class Receipt(BaseModel):
    """Money received from a patient: a POPS payment (or its decline), or one the PM system imported."""

    PENDING = "pending"
    PAID = "paid"
    UNSUCCESSFUL = "unsuccessful"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    POPS = "pops"  # sources: taken by POPS, or imported from the office or the mail
    OFFICE = "office"
    MAIL = "mail"
    CARD = "card"  # methods POPS takes (an import may also carry cash, check, other)
    GOOGLE_PAY = "google_pay"
    APPLE_PAY = "apple_pay"
    WALLET_NAMES = {GOOGLE_PAY: "Google Pay", APPLE_PAY: "Apple Pay"}
    STATUS_LABELS = {
        PENDING: N_("Pending"),
        PAID: N_("Paid"),
        UNSUCCESSFUL: N_("Unsuccessful"),
        REFUNDED: N_("Refunded"),
        PARTIALLY_REFUNDED: N_("Partially refunded"),
    }

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
    dispute_status = CharField(max_length=30, default="")  # a card dispute's status (Stripe's words), "" for none

    @property
    def takes_refunds(self) -> bool:
        """A POPS card payment that was paid (and not refunded in full): the kind a refund is made on."""
        return self.source == Receipt.POPS and self.status in (Receipt.PAID, Receipt.PARTIALLY_REFUNDED)

    @property
    def refundable_amount(self) -> Decimal:
        """What a refund may still give back: a POPS card payment, paid, less what was refunded."""
        if not self.takes_refunds:
            return Decimal("0.00")
        return max(self.amount - self.refunded_amount, Decimal("0.00"))

    @property
    def status_label(self) -> str:
        """The status a patient reads; a declined card's $0.00 receipt says so."""
        if self.status == Receipt.UNSUCCESSFUL and self.decline_reason:
            return N_("Unsuccessful (declined)")
        return Receipt.STATUS_LABELS.get(self.status, self.status)


class Transaction(BaseModel):
    """A gateway transaction on a receipt: the sale, or a refund."""

    SALE = "sale"
    REFUND = "refund"
    APPROVED = "approved"
    DECLINED = "declined"
    # POPS writes approved and declined; a transaction in any of these moved no money
    MOVED_NO_MONEY = (DECLINED, "error", "failed", "pending")

    receipt = ForeignKeyField(Receipt, backref="transactions", on_delete="RESTRICT")
    number = CharField(max_length=100)
    kind = CharField(max_length=10, default=SALE)
    amount = MoneyField()
    status = CharField(max_length=20, default=APPROVED)
    created_at = UTCDateTimeField(default=_now)
    refund_receipt_number = CharField(max_length=64, default="")
    staff = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
    batch = ForeignKeyField(ReferenceBatch, null=True, backref="transactions", on_delete="RESTRICT")  # a refund's batch
    idempotency_key = CharField(max_length=64, null=True, unique=True)
    gateway = CharField(max_length=20, default="sandbox")  # the gateway that made it, and whether for real
    live = BooleanField(default=False)


class ReceiptApplication(BaseModel):
    """Part of a receipt applied to an encounter (line optional): POPS's own, or as imported."""

    POPS = "pops"  # POPS spread its own receipt over the encounters
    IMPORT = "import"  # as the PM system's lines have it

    receipt = ForeignKeyField(Receipt, backref="applications", on_delete="CASCADE")
    encounter = ForeignKeyField(Encounter, backref="applications", on_delete="RESTRICT")
    line_ext_id = CharField(max_length=64, default="")
    amount = MoneyField()
    source = CharField(max_length=10, default=POPS)


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
    gateway = CharField(max_length=20, default="sandbox")  # a card is charged only by the gateway that keeps it
    live = BooleanField(default=False)


PAYMENT_STATUSES = ("attempt", "pending", "paid", "declined", "error", "canceled")


class PaymentAttempt(BaseModel):
    """One try at paying, stored before the gateway is called and settled exactly once.

    attempt (key recorded) -> pending (at the gateway, or its answer not yet confirmed)
    -> paid | declined | error | canceled. The key is the gateway's idempotency key.
    """

    ATTEMPT = "attempt"
    PENDING = "pending"
    PAID = "paid"
    DECLINED = "declined"
    ERROR = "error"
    CANCELED = "canceled"
    OPEN = (ATTEMPT, PENDING)  # not settled yet
    NOT_CHARGED = (ERROR, CANCELED)  # settled, and nothing was taken
    QUICKPAY = "quickpay"  # entrances
    PORTAL = "portal"
    AMOUNT_DUE = "amount_due"  # the amount the patient chose (balances.pay_options keys)
    CURRENT_BALANCE = "current_balance"
    OTHER = "other"
    # What the patient's result page shows (`outcome`), with its title
    NOT_COMPLETED = "not_completed"
    CONFIRMING = "confirming"
    OUTCOME_TITLES = {
        PAID: N_("Payment received"),
        DECLINED: N_("Payment Failed"),
        NOT_COMPLETED: N_("Payment not completed"),
        CONFIRMING: N_("Confirming your payment"),
    }

    key = CharField(max_length=64, unique=True)
    guarantor = ForeignKeyField(Guarantor, backref="payment_attempts", on_delete="RESTRICT")
    session = ForeignKeyField(PatientSession, null=True, on_delete="SET NULL")
    staff = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")  # taken in a mirror session
    entrance = CharField(max_length=10)
    amount = MoneyField()
    amount_choice = CharField(max_length=20)
    status = CharField(max_length=10, default=ATTEMPT, index=True)
    created_at = UTCDateTimeField(default=_now)
    updated_at = UTCDateTimeField(default=_now)
    settled_at = UTCDateTimeField(null=True)
    gateway_checkout = CharField(max_length=100, default="")
    gateway_transaction = CharField(max_length=100, default="")
    method = CharField(max_length=20, default="")  # Receipt.CARD, GOOGLE_PAY or APPLE_PAY once charged
    card_type = CharField(max_length=40, default="")
    last4 = CharField(max_length=4, default="")
    message = CharField(max_length=300, default="")  # why it was declined or failed, in English (rows before 0012: only this)
    message_code = CharField(max_length=60, default="")  # the same as a message code (pops.i18n.CODES), shown translated
    message_params = TextField(default="")  # its parameters, as JSON
    stored_card = ForeignKeyField(StoredCard, null=True, on_delete="SET NULL")
    receipt = ForeignKeyField(Receipt, null=True, on_delete="RESTRICT")
    gateway = CharField(max_length=20, default="sandbox")  # the gateway it was sent to, and whether for real
    live = BooleanField(default=False)
    store_card = BooleanField(default=False)  # the patient ticked "store this card"
    needs_review = BooleanField(default=False)  # its outcome could not be learned from the gateway: staff look

    @property
    def shown_message(self) -> str:
        """Its message as the patient reads it: from its code, translated when shown (a row from before
        codes: its English text)."""
        return from_stored(self.message, self.message_code, self.message_params)

    @property
    def outcome(self) -> str:
        """What the patient is told: PAID, DECLINED, NOT_COMPLETED (nothing was charged) or CONFIRMING."""
        if self.status in (PaymentAttempt.PAID, PaymentAttempt.DECLINED):
            return self.status
        if self.status in PaymentAttempt.NOT_CHARGED:
            return PaymentAttempt.NOT_COMPLETED
        # Still open. With a message but nothing at the gateway (no checkout opened, no card
        # charged), the gateway could not be reached: the patient was not charged.
        if self.message and not self.gateway_checkout and not self.stored_card_id:
            return PaymentAttempt.NOT_COMPLETED
        return PaymentAttempt.CONFIRMING
