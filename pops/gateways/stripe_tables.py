"""What POPS keeps about Stripe: the webhook events it has acted on, and each guarantor's Stripe Customer."""
from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField

from ..models.base import BaseModel, UTCDateTimeField, _now
from ..models.practice import Guarantor


class StripeEvent(BaseModel):
    """A webhook event acted on, recorded in the same transaction as its effect: a second delivery is a no-op."""

    event_id = CharField(max_length=100, unique=True)
    type = CharField(max_length=60)
    live = BooleanField(default=False)
    received_at = UTCDateTimeField(default=_now)


class StripeCustomer(BaseModel):
    """The Stripe Customer a guarantor's stored cards hang on (one per guarantor and mode)."""

    guarantor = ForeignKeyField(Guarantor, on_delete="CASCADE")
    customer = CharField(max_length=100, unique=True)
    live = BooleanField(default=False)
    created_at = UTCDateTimeField(default=_now)


StripeCustomer.add_index(StripeCustomer.index(StripeCustomer.guarantor, StripeCustomer.live, unique=True))

TABLES = [StripeEvent, StripeCustomer]
