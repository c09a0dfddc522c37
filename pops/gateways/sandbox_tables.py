"""The sandbox gateway's own records (a real gateway keeps these on its side)."""
from __future__ import annotations

import secrets
from decimal import Decimal

from peewee import (
    BooleanField,
    CharField,
    IntegerField,
    TextField,
)

from .. import clock
from ..db import database
from ..i18n import N_, coded
from ..models.base import BaseModel, MoneyField, UTCDateTimeField, _now
from . import ChargeResult

# What charging a card does (its behaviour): the charge's status, and what the patient is told.
APPROVE = "approve"
BEHAVIOURS = {
    APPROVE: (ChargeResult.APPROVED, ""),
    "declined": (ChargeResult.DECLINED, coded("card_declined", N_("Your card was declined."))),
    "insufficient_funds": (ChargeResult.DECLINED, coded("card_insufficient_funds", N_("Your card has insufficient funds."))),
    "error": (ChargeResult.ERROR, coded("card_processor_error",
                                        N_("The card processor had a problem, so the payment did not go through."))),
}


class SandboxCheckout(BaseModel):
    """A hosted-page checkout the sandbox gateway opened for POPS."""

    OPEN = "open"
    COMPLETED = "completed"  # the patient paid (or was declined) on the page
    CANCELED = "canceled"  # the patient left, POPS closed it, or it expired

    token = CharField(max_length=64, unique=True)
    idempotency_key = CharField(max_length=64, unique=True)
    amount = MoneyField()
    description = CharField(max_length=200, default="")
    return_url = CharField(max_length=500)
    options = TextField(default="{}")  # JSON: require_cvv, wallets, allow_store, card_enabled
    status = CharField(max_length=10, default=OPEN)
    created_at = UTCDateTimeField(default=_now)
    expires_at = UTCDateTimeField()
    charge = CharField(max_length=64, default="")  # the SandboxCharge's transaction id
    result_token_used = BooleanField(default=False)

    @property
    def is_open(self) -> bool:
        """Still payable: open and not expired."""
        return self.status == SandboxCheckout.OPEN and clock.now() < self.expires_at

    def close(self) -> None:
        """Cancel the checkout if it is still open (a finished one keeps its outcome)."""
        SandboxCheckout.update(status=SandboxCheckout.CANCELED).where(
            (SandboxCheckout.id == self.id) & (SandboxCheckout.status == SandboxCheckout.OPEN)
        ).execute()

    def pay(self, behaviour: str, brand: str, last4: str, wallet: str = "",
            expiry: tuple[int, int] | None = None, store: bool = False) -> bool:
        """The patient pays on the hosted page: one charge completes the checkout (and, if asked,
        an approved card with an expiry is kept). False when it was no longer open."""
        with database.atomic():
            moved = SandboxCheckout.update(status=SandboxCheckout.COMPLETED).where(
                (SandboxCheckout.id == self.id) & (SandboxCheckout.status == SandboxCheckout.OPEN)
            ).execute()
            if not moved:
                return False
            card_token = ""
            if store and expiry is not None and behaviour == APPROVE:
                card_token = SandboxCardToken.create(
                    token=f"sbx_card_{secrets.token_hex(8)}", brand=brand, last4=last4,
                    exp_month=expiry[0], exp_year=expiry[1], behaviour=behaviour,
                ).token
            charge = SandboxCharge.make(self.idempotency_key, self.amount, behaviour, brand, last4, wallet, card_token)
            SandboxCheckout.update(charge=charge.transaction).where(SandboxCheckout.id == self.id).execute()
        return True


class SandboxCharge(BaseModel):
    """A sale the sandbox gateway made (approved, declined or failed), with its refunds."""

    transaction = CharField(max_length=64, unique=True)
    idempotency_key = CharField(max_length=64, unique=True)
    amount = MoneyField()
    refunded = MoneyField(default=Decimal("0.00"))
    status = CharField(max_length=20)  # ChargeResult.APPROVED, DECLINED or ERROR
    decline_code = CharField(max_length=40, default="")
    brand = CharField(max_length=40, default="")
    last4 = CharField(max_length=4, default="")
    wallet = CharField(max_length=20, default="")
    card_token = CharField(max_length=64, default="")
    created_at = UTCDateTimeField(default=_now)

    @classmethod
    def make(cls, key: str, amount: Decimal, behaviour: str, brand: str, last4: str, wallet: str = "",
             card_token: str = "") -> SandboxCharge:
        """A sale under `key`, as the card's behaviour has it (a decline or an error takes $0.00)."""
        status = BEHAVIOURS.get(behaviour, BEHAVIOURS[APPROVE])[0]
        approved = status == ChargeResult.APPROVED
        return cls.create(
            transaction=f"sbx_ch_{secrets.token_hex(8)}",
            idempotency_key=key,
            amount=amount if approved else Decimal("0.00"),
            status=status,
            decline_code="" if approved else behaviour,
            brand=brand,
            last4=last4,
            wallet=wallet,
            card_token=card_token,
        )

    @property
    def message(self) -> str:
        """Why it was declined or failed, in words a patient understands ("" when approved)."""
        return BEHAVIOURS.get(self.decline_code, BEHAVIOURS[APPROVE])[1]


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
    behaviour = CharField(max_length=20, default=APPROVE)  # what charging it does (BEHAVIOURS)
    created_at = UTCDateTimeField(default=_now)


TABLES = [SandboxCheckout, SandboxCharge, SandboxRefund, SandboxCardToken]
