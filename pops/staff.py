"""Staff accounts: argon2 passwords and TOTP secrets (sign-in itself lives with the staff console)."""
from __future__ import annotations

import pyotp
from argon2 import PasswordHasher

from .models import Staff

ROLES = ("admin", "staff")
MIN_PASSWORD = 12
_hasher = PasswordHasher()


class StaffError(ValueError):
    pass


def create_staff(email: str, password: str, role: str = "staff") -> Staff:
    """A new staff member with a fresh TOTP secret; refuses weak passwords, bad roles, duplicates."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise StaffError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password must be at least {MIN_PASSWORD} characters")
    if Staff.select().where(Staff.email == email).exists():
        raise StaffError(f"a staff member with email {email} already exists")
    return Staff.create(email=email, password_hash=_hasher.hash(password), role=role,
                        totp_secret=pyotp.random_base32())


def check_password(staff: Staff, password: str) -> bool:
    try:
        return _hasher.verify(staff.password_hash, password)
    except Exception:  # argon2 raises several mismatch/invalid-hash errors; all mean "no"
        return False


def provisioning_uri(staff: Staff) -> str:
    return pyotp.TOTP(staff.totp_secret).provisioning_uri(name=staff.email, issuer_name="POPS")
