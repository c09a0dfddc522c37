"""What POPS keeps about a mobile number's texts: its STOP (which stands until START), the replies it
sent in, the one fixed answer a day, and each reminder sent for a statement."""
from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField

from ..contacts import normalize_mobile
from ..models import BaseModel, Guarantor, Link, OutboxMessage, Statement, UTCDateTimeField
from ..models.base import _now


class SmsNumber(BaseModel):
    """One mobile number as the texts it sent in left it: opted out (a STOP POPS received) or not, and
    when it was last given the fixed answer (at most once in 24 hours)."""

    mobile = CharField(max_length=32, unique=True)  # as contacts.normalize_mobile writes it
    stopped = BooleanField(default=False)  # a STOP received by POPS: stands until START, whatever an import says
    changed_at = UTCDateTimeField(default=_now)
    answered_at = UTCDateTimeField(null=True)  # the last fixed answer to an unknown reply


class SmsInbound(BaseModel):
    """A text a patient sent to the practice's number, as the provider delivered it, and what POPS made of it."""

    received_at = UTCDateTimeField(default=_now)
    sender = CharField(max_length=32, index=True)
    to = CharField(max_length=32, default="")
    body = CharField(max_length=1600, default="")
    keyword = CharField(max_length=10, default="")  # "stop", "start", "help" or "" (anything else)
    answered = BooleanField(default=False)


class Reminder(BaseModel):
    """A statement's reminder: step 0 on statement day (or the import day), 1 and 2 the group's N and M days
    later. The unique (statement, step) is the guard: two job runners never send the same reminder."""

    statement = ForeignKeyField(Statement, on_delete="CASCADE")
    guarantor = ForeignKeyField(Guarantor, on_delete="CASCADE")
    step = IntegerField()
    channel = CharField(max_length=10)  # "sms" or "email"
    sent_at = UTCDateTimeField(default=_now)
    link = ForeignKeyField(Link, null=True, on_delete="SET NULL")  # its own fresh link: opened or not
    message = ForeignKeyField(OutboxMessage, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("statement", "step"), True),)


TABLES = [SmsNumber, SmsInbound, Reminder]


def stopped(mobile: str) -> bool:
    """Whether POPS received a STOP from this number and no START since."""
    number = normalize_mobile(mobile) or mobile
    return SmsNumber.select().where((SmsNumber.mobile == number) & SmsNumber.stopped).exists()
