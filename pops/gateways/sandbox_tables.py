"""The sandbox gateway's own records (a real gateway keeps these on its side)."""
from __future__ import annotations

from decimal import Decimal

from peewee import (
    BooleanField,
    CharField,
    IntegerField,
    TextField,
)

from ..models.base import BaseModel, MoneyField, UTCDateTimeField, _now


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


TABLES = [SandboxCheckout, SandboxCharge, SandboxRefund, SandboxCardToken]
