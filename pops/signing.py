"""Everything POPS signs, signed one way: itsdangerous with SHA-256 and a namespace per purpose.

The namespace is the salt `pops.{purpose}`, so a value signed for one purpose (a QuickPay link,
the sign-in flow, a contact being verified, the sandbox's result token) is worthless for another.
"""
from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

# Every namespace in use; a new purpose is added here, never reused.
PURPOSES = frozenset({
    "link.sms", "link.email", "link.statement", "link.desk", "link.reminder",  # QuickPay and desk-QR codes
    "signin",  # the patient sign-in flow's cookie
    "verify-contact",  # a new email or mobile being confirmed
    "sandbox.result",  # the sandbox gateway's single-use result token
})


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown signing purpose {purpose!r}")
    return f"pops.{purpose}"


def signer(secret_key: str, purpose: str) -> Signer:
    """A bare signer (for codes that carry their own short signature)."""
    return Signer(secret_key, salt=_salt(purpose), digest_method=hashlib.sha256)


def serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    """A timed serializer for small signed states (cookies, tokens)."""
    return URLSafeTimedSerializer(secret_key, salt=_salt(purpose), signer_kwargs={"digest_method": hashlib.sha256})


def load(secret_key: str, purpose: str, raw: str | None, *, max_age: int) -> object | None:
    """What `raw` carries if it was signed for `purpose` within `max_age` seconds; None otherwise."""
    if not raw:
        return None
    try:
        return serializer(secret_key, purpose).loads(raw, max_age=max_age)
    except BadSignature:
        return None


def dump(secret_key: str, purpose: str, value: object) -> str:
    return serializer(secret_key, purpose).dumps(value)
