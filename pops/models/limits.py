"""Limits per address or other key: a counter in a window, and how long the key is refused."""
from __future__ import annotations

from peewee import CharField, IntegerField

from .base import BaseModel, UTCDateTimeField


class Throttle(BaseModel):
    """One key's count in its current window (pops.limits moves it only by conditional updates).

    Also the row a key's requests lock to run one at a time (count unused then).
    """

    LINK = "link"  # unknown or forged QuickPay codes, per IP
    SIGN_IN_LOOKUP = "sign_in.lookup"  # name and date of birth lookups, per IP
    CODE_ADDRESS = "code.address"  # one-time codes sent to one email or mobile (a lock)

    kind = CharField(max_length=20)
    key = CharField(max_length=254)  # an IP address, an email, a mobile number
    count = IntegerField(default=0)
    window_start = UTCDateTimeField()
    blocked_until = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("kind", "key"), True),)
