"""Who may see what: staff, QuickPay links, sessions and one-time codes."""
from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
)

from .base import BaseModel, UTCDateTimeField, _now
from .practice import GROUP_DEFAULTS, Group, Guarantor, Statement


# --- staff --------------------------------------------------------------------------------

class Staff(BaseModel):
    ADMIN = "admin"
    STAFF = "staff"
    ROLES = (ADMIN, STAFF)

    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=10, default=STAFF)
    totp_secret = CharField(max_length=64)
    last_totp_step = BigIntegerField(default=0)  # a TOTP code is accepted once
    failed_sign_ins = IntegerField(default=0)
    locked_until = UTCDateTimeField(null=True)
    active = BooleanField(default=True)
    created_at = UTCDateTimeField(default=_now)
    timezone = CharField(max_length=64, default="")  # pages spanning groups; "" is the default (see zone)

    @property
    def zone(self) -> str:
        """The time zone this member reads pages spanning groups in: their own choice, else the zone of
        the group with the lowest code (else a new group's default)."""
        if self.timezone:
            return self.timezone
        first = min(Group.select(Group.code, Group.timezone), key=lambda g: g.code, default=None)
        return first.timezone if first is not None else str(GROUP_DEFAULTS["timezone"])


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


SESSION_ORIGINS = ("sms_link", "email_link", "statement_qr", "desk_qr", "sign_in", "staff_mirror", "reminder")


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
    pages = IntegerField(default=0)  # each visit also writes a SessionPage row (a trigger: migration 0010)
    last_page = CharField(max_length=300, default="")  # the path of the latest visit
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
