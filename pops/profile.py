"""Profile: the contact details and choices a patient changes, and the requests the practice reviews.

A new email or mobile counts only once a code sent to it comes back; every accepted contact
change is a ContactChange row, which a later import honours until the PM system catches up.
Each change and each request is written in one transaction with its audit row.
"""
from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass

from . import dates, otp
from .audit import audit
from .contacts import normalize_email, normalize_mobile
from .db import database
from .i18n import N_
from .plans import notices
from .texts.tables import stopped
from .models import (
    ContactChange,
    Guarantor,
    OneTimeCode,
    Patient,
    PatientRequest,
    PatientSession,
)

NOTIFICATION_FIELDS = ("notify_balance_email", "notify_balance_text", "notify_balance_paper",
                       "notify_appointment_email", "notify_appointment_text")
CHANNEL_FIELD = {"verify_email": "email", "verify_mobile": "mobile"}  # a code's purpose -> the field it changes
RELATIONSHIPS = ("child", "spouse", "other")

MSG_TOO_LONG = N_("Use at most 100 characters.")
MSG_NOT_AN_EMAIL = N_("Enter an email address like name@example.org.")
MSG_NOT_A_MOBILE = N_("Enter a mobile number with its area code, like (555) 555-0123.")
MSG_SAME_EMAIL = N_("That is already your email address.")
MSG_SAME_MOBILE = N_("That is already your mobile number.")
MSG_FIRST_NAME = N_("Enter the patient's first name.")
MSG_LAST_NAME = N_("Enter the patient's last name.")
MSG_DATE_OF_BIRTH = N_("Enter the patient's date of birth as MM/DD/YYYY.")
MSG_RELATIONSHIP = N_("Choose how the patient is related to you.")
MSG_PATIENT = N_("Choose the patient to change.")
MSG_CHANGES = N_("Tell us what should change.")


def patients(guarantor: Guarantor) -> list[Patient]:
    """The guarantor's patients, by first name."""
    return list(Patient.select().where(Patient.guarantor == guarantor.id).order_by(Patient.first_name, Patient.id))


# --- contact details and choices ----------------------------------------------------------

def _apply_change(session: PatientSession, field: str, new_value: str, ip: str) -> None:
    guarantor = Guarantor.get_by_id(session.guarantor_id)
    old_value = getattr(guarantor, field)
    ContactChange.create(guarantor=guarantor, field=field, old_value=old_value, new_value=new_value)
    Guarantor.update({getattr(Guarantor, field): new_value}).where(Guarantor.id == guarantor.id).execute()
    audit(session, f"profile.{field}", detail=f"{old_value!r} -> {new_value!r}", ip=ip)


def change_contact(session: PatientSession, field: str, new_value: str, *, ip: str = "") -> None:
    """Apply a contact change at once and remember it for the import."""
    with database.atomic():
        _apply_change(session, field, new_value, ip)


def set_preferred_name(session: PatientSession, value: str, *, ip: str = "") -> str | None:
    """Save the name the patient wants to be called (a change only when it differs); the error, if any."""
    if len(value) > 100:
        return MSG_TOO_LONG
    if value != session.guarantor.preferred_name:
        change_contact(session, "preferred_name", value, ip=ip)
    return None


def set_notifications(session: PatientSession, chosen: Container[str], *, ip: str = "") -> None:
    """Turn each notification on when it is in `chosen`, off otherwise."""
    with database.atomic():
        Guarantor.update({getattr(Guarantor, name): name in chosen for name in NOTIFICATION_FIELDS}).where(
            Guarantor.id == session.guarantor_id).execute()
        audit(session, "profile.notifications",
              detail=", ".join(f"{name}={name in chosen}" for name in NOTIFICATION_FIELDS), ip=ip)


# --- texting consent (issue 16): given or withdrawn here, kept with when and how ---------------

TEXTS_QUESTION = N_("Text me about my statements, reminders and payment plan at {mobile}. No amount is ever sent "
                    "by text; reply STOP to end them, HELP for help. Message and data rates may apply.")


@dataclass(frozen=True)
class Texting:
    """The patient's texting consent as Profile shows it."""

    mobile: str
    granted: bool
    at: object  # when the consent in force was recorded (None: never)
    stopped: bool  # a STOP POPS received, or the practice's opt-out: no texts until START


def texting(guarantor: Guarantor) -> Texting:
    latest = notices.latest_consent(guarantor) if guarantor.mobile else None
    return Texting(guarantor.mobile, notices.has_consent(guarantor),
                   latest.recorded_at if latest is not None and latest.mobile == guarantor.mobile else None,
                   guarantor.sms_opt_out or (bool(guarantor.mobile) and stopped(guarantor.mobile)))


def set_text_consent(session: PatientSession, granted: bool, *, ip: str = "") -> bool:
    """The patient gives (or withdraws) consent to texts at their mobile: recorded with when and how, audited.
    False when there is no mobile, nothing changed, or staff in a mirror tried to agree for the patient (they
    may withdraw it: an opt-out by any reasonable means is honoured). A STOP still stands until START."""
    guarantor = Guarantor.get_by_id(session.guarantor_id)
    if not guarantor.mobile or notices.has_consent(guarantor) == granted or (granted and session.staff_id):
        return False
    how = "Profile (staff mirror)" if session.staff_id else "Profile (portal)"
    with database.atomic():
        notices.record_text_consent(guarantor, granted, how, session=session,
                                    wording=TEXTS_QUESTION.format(mobile=guarantor.mobile))
        audit(session, "profile.text_consent", detail=f"{'given' if granted else 'withdrawn'} for {guarantor.mobile}", ip=ip)
    return True


# --- a new email or mobile, verified by a code sent to it ---------------------------------

@dataclass(frozen=True)
class Verification:
    """A contact change started: the code's attempt (kept by the browser), or why nothing was sent."""

    attempt: str = ""
    error: str = ""
    limited: otp.RateLimited | None = None  # the hourly code limit: when the next code may be asked for


def start_contact_verification(session: PatientSession, field: str, text: str, *, secret_key: str,
                               ip: str = "") -> Verification:
    """Send a code to the new email or mobile `text`; the change waits for the code to come back."""
    email = field == "email"
    new_value = normalize_email(text) if email else normalize_mobile(text)
    if new_value is None:
        return Verification(error=MSG_NOT_AN_EMAIL if email else MSG_NOT_A_MOBILE)
    current = getattr(session.guarantor, field)
    if new_value == current or (email and new_value.casefold() == current.casefold()):
        return Verification(error=MSG_SAME_EMAIL if email else MSG_SAME_MOBILE)
    try:
        with database.atomic():
            row = otp.send_code(session.guarantor, "email" if email else "sms", new_value,
                                purpose="verify_email" if email else "verify_mobile", secret_key=secret_key, ip=ip)
    except otp.RateLimited as limited:
        return Verification(limited=limited)
    return Verification(attempt=row.attempt)


def pending_verification(session: PatientSession, attempt: str) -> OneTimeCode | None:
    """The contact change this session is verifying under `attempt`, if there is one."""
    return OneTimeCode.get_or_none(
        (OneTimeCode.attempt == attempt) & (OneTimeCode.guarantor == session.guarantor_id)
        & OneTimeCode.purpose.in_(list(CHANNEL_FIELD))
    )


def confirm_contact(session: PatientSession, pending: OneTimeCode, code: str, *, secret_key: str,
                    ip: str = "") -> otp.Check:
    """Check the code sent for `pending`; a right one makes the change (field CHANNEL_FIELD[pending.purpose])."""
    with database.atomic():
        check = otp.check_code(pending.attempt, code, purpose=pending.purpose, secret_key=secret_key)
        if check.ok:
            _apply_change(session, CHANNEL_FIELD[pending.purpose], pending.destination, ip)
    return check


# --- requests the practice reviews --------------------------------------------------------

def _file_request(session: PatientSession, kind: str, detail: dict, audit_detail: str, ip: str) -> None:
    with database.atomic():
        PatientRequest.create(guarantor=session.guarantor_id, kind=kind, detail=json.dumps(detail))
        audit(session, f"profile.{kind}", detail=audit_detail, ip=ip)


def request_register_patient(session: PatientSession, values: Mapping[str, str], *, ip: str = "") -> dict[str, str]:
    """File a Register a Patient request (first_name, last_name, date_of_birth, relationship, note).

    Returns the errors by field; none means the request was filed.
    """
    errors = {}
    if not values["first_name"]:
        errors["first_name"] = MSG_FIRST_NAME
    if not values["last_name"]:
        errors["last_name"] = MSG_LAST_NAME
    born = dates.parse_date(values["date_of_birth"])
    if born is None:
        errors["date_of_birth"] = MSG_DATE_OF_BIRTH
    if values["relationship"] not in RELATIONSHIPS:
        errors["relationship"] = MSG_RELATIONSHIP
    if not errors:
        _file_request(session, "register_patient", {**values, "date_of_birth": born.isoformat()}, "", ip)
    return errors


def request_modify_patient(session: PatientSession, values: Mapping[str, str], *, ip: str = "") -> dict[str, str]:
    """File a Modify a Patient request (patient: the ext_id of one of the guarantor's, changes); the errors."""
    patient = next((p for p in patients(session.guarantor) if p.ext_id == values["patient"]), None)
    errors = {}
    if patient is None:
        errors["patient"] = MSG_PATIENT
    if not values["changes"]:
        errors["changes"] = MSG_CHANGES
    if not errors:
        detail = {"patient": patient.ext_id, "patient_name": patient.full_name, "changes": values["changes"]}
        _file_request(session, "modify_patient", detail, patient.ext_id, ip)
    return errors
