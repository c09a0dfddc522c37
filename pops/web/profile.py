"""Profile: what the practice has on file, the contact details and choices the patient may change,
and requests (register or modify a patient) that the practice reviews.

A new email or mobile counts only once a code sent to it comes back; every accepted contact
change is a ContactChange row, which a later import honours until the PM system catches up.
"""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Callable

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import dates, notify, otp
from ..db import database
from ..models import AuditLog, ContactChange, Guarantor, OneTimeCode, Patient, PatientRequest, PatientSession
from .auth import clear_session_cookie, patient_session, portal_page, set_cookie
from .templating import render
from .util import client_ip, form_endpoint

VERIFY_COOKIE = "pops_verify"
VERIFY_MAX_AGE = 30 * 60
NOTIFICATION_FIELDS = ("notify_balance_email", "notify_balance_text", "notify_balance_paper",
                       "notify_appointment_email", "notify_appointment_text")
CHANNEL_FIELD = {"verify_email": "email", "verify_mobile": "mobile"}
RELATIONSHIPS = ("child", "spouse", "other")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def portal_form(handler: Callable[[Request, FormData, PatientSession], Response]) -> Callable:
    """A POST from a portal page: the form token, then a live full-portal session, then `handler`."""

    @functools.wraps(handler)
    def with_session(request: Request, form: FormData) -> Response:
        session = patient_session(request)
        if session is None:
            return _redirect("/login")
        if session.quickpay:
            return _redirect("/login?view_account=1")
        return handler(request, form, session)

    return form_endpoint(with_session)


def _audit(request: Request, session: PatientSession, action: str, detail: str) -> None:
    AuditLog.create(action=action, guarantor=session.guarantor_id, staff=session.staff_id,
                    actor=session.staff.email if session.staff_id else "patient", detail=detail,
                    ip=client_ip(request)[:64])


def _change_contact(request: Request, session: PatientSession, field: str, new_value: str) -> None:
    """Apply a contact change at once and remember it for the import (call inside a transaction)."""
    guarantor = Guarantor.get_by_id(session.guarantor_id)
    old_value = getattr(guarantor, field)
    ContactChange.create(guarantor=guarantor, field=field, old_value=old_value, new_value=new_value)
    Guarantor.update({getattr(Guarantor, field): new_value}).where(Guarantor.id == guarantor.id).execute()
    _audit(request, session, f"profile.{field}", f"{old_value!r} -> {new_value!r}")


# --- the page -----------------------------------------------------------------------------

DONE = {"preferred_name", "notifications", "email", "mobile", "request"}


def _profile_page(request: Request, session: PatientSession, *, errors: dict | None = None,
                  values: dict | None = None, status_code: int = 200) -> Response:
    guarantor = Guarantor.get_by_id(session.guarantor_id)
    done = request.query_params.get("done", "")
    return render(request, "profile.html", {
        "title": "Profile",
        "active": "/profile",
        "session": session,
        "guarantor": guarantor,
        "group": session.group,
        "patients": list(guarantor.patients.order_by(Patient.first_name, Patient.id)),
        "done": done if done in DONE else "",
        "errors": errors or {},
        "values": values or {},
    }, status_code=status_code)


@portal_page
def profile(request: Request, session: PatientSession) -> Response:
    return _profile_page(request, session)


def preferred_name(request: Request, form: FormData, session: PatientSession) -> Response:
    value = " ".join(str(form.get("preferred_name", "")).split())
    if len(value) > 100:
        return _profile_page(request, session, errors={"preferred_name": "Use at most 100 characters."},
                             values={"preferred_name": value[:100]})
    with database.atomic():
        if value != session.guarantor.preferred_name:
            _change_contact(request, session, "preferred_name", value)
    return _redirect("/profile?done=preferred_name")


def notifications(request: Request, form: FormData, session: PatientSession) -> Response:
    choices = {getattr(Guarantor, name): name in form for name in NOTIFICATION_FIELDS}
    with database.atomic():
        Guarantor.update(choices).where(Guarantor.id == session.guarantor_id).execute()
        _audit(request, session, "profile.notifications",
               ", ".join(f"{name}={name in form}" for name in NOTIFICATION_FIELDS))
    return _redirect("/profile?done=notifications")


# --- a new email or mobile, verified by a code sent to it ---------------------------------

def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="pops.verify-contact",
                                  signer_kwargs={"digest_method": hashlib.sha256})


def _pending(request: Request, session: PatientSession) -> OneTimeCode | None:
    """The contact change this browser is verifying for this session, if any."""
    raw = request.cookies.get(VERIFY_COOKIE)
    if not raw:
        return None
    try:
        state = _serializer(request).loads(raw, max_age=VERIFY_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(state, dict) or state.get("s") != session.id:
        return None
    return OneTimeCode.get_or_none(
        (OneTimeCode.attempt == str(state.get("a", ""))) & (OneTimeCode.guarantor == session.guarantor_id)
        & OneTimeCode.purpose.in_(list(CHANNEL_FIELD))
    )


def _start_change(request: Request, form: FormData, session: PatientSession, field: str) -> Response:
    raw = str(form.get(field, ""))[:300]
    new_value = otp.normalize_email(raw) if field == "email" else otp.normalize_mobile(raw)
    values = {field: raw.strip()}
    if new_value is None:
        message = ("Enter an email address like name@example.org." if field == "email"
                   else "Enter a mobile number with its area code, like (555) 555-0123.")
        return _profile_page(request, session, errors={field: message}, values=values)
    current = getattr(session.guarantor, field)
    if new_value == current or (field == "email" and new_value.casefold() == current.casefold()):
        message = "That is already your email address." if field == "email" else "That is already your mobile number."
        return _profile_page(request, session, errors={field: message}, values=values)
    settings = request.app.state.settings
    purpose = "verify_email" if field == "email" else "verify_mobile"
    try:
        with database.atomic():
            row = otp.send_code(session.guarantor, "email" if field == "email" else "sms", new_value,
                                purpose=purpose, secret_key=settings.secret_key, ip=client_ip(request))
    except otp.RateLimited:
        return _profile_page(request, session, status_code=429, values=values, errors={
            field: "We have sent several codes in the last hour. Please try again in an hour."})
    notify.deliver(settings)
    response = _redirect("/profile/verify")
    set_cookie(response, request, VERIFY_COOKIE, _serializer(request).dumps({"a": row.attempt, "s": session.id}))
    return response


def change_email(request: Request, form: FormData, session: PatientSession) -> Response:
    return _start_change(request, form, session, "email")


def change_mobile(request: Request, form: FormData, session: PatientSession) -> Response:
    return _start_change(request, form, session, "mobile")


VERIFY_MESSAGES = {
    "malformed": "Enter the 6-digit code we sent.",
    "wrong": "That code is not right. Check it and try again.",
    "locked": "That code was entered wrongly too many times. Start the change again to get a new code.",
    "expired": "That code has expired. Start the change again to get a new code.",
    "used": "That code has already been used.",
    "unknown": "That code can no longer be used.",
}


def _verify_page(request: Request, session: PatientSession, pending: OneTimeCode,
                 check: otp.Check | None = None) -> Response:
    return render(request, "profile_verify.html", {
        "title": "Confirm your new contact",
        "active": "/profile",
        "session": session,
        "guarantor": session.guarantor,
        "group": session.group,
        "pending": pending,
        "error": VERIFY_MESSAGES[check.status] if check else "",
        "tries_left": check.tries_left if check and check.status == "wrong" else None,
        "dead": bool(check) and check.status in {"locked", "expired", "used", "unknown"},
    })


@portal_page
def verify(request: Request, session: PatientSession) -> Response:
    pending = _pending(request, session)
    if pending is None or pending.used_at is not None:
        return _redirect("/profile")
    return _verify_page(request, session, pending)


def verify_submit(request: Request, form: FormData, session: PatientSession) -> Response:
    pending = _pending(request, session)
    if pending is None:
        return _redirect("/profile")
    settings = request.app.state.settings
    with database.atomic():
        check = otp.check_code(pending.attempt, str(form.get("code", ""))[:20], purpose=pending.purpose,
                               secret_key=settings.secret_key)
        if not check.ok:
            return _verify_page(request, session, pending, check)
        field = CHANNEL_FIELD[pending.purpose]
        _change_contact(request, session, field, pending.destination)
    response = _redirect(f"/profile?done={field}")
    clear_session_cookie(response, request, VERIFY_COOKIE)
    return response


# --- requests the practice reviews --------------------------------------------------------

def _request_page(request: Request, session: PatientSession, kind: str, *, errors: dict | None = None,
                  values: dict | None = None) -> Response:
    guarantor = session.guarantor
    return render(request, "profile_request.html", {
        "title": "Register a Patient" if kind == "register_patient" else "Modify a Patient",
        "active": "/profile",
        "session": session,
        "guarantor": guarantor,
        "group": session.group,
        "kind": kind,
        "patients": list(guarantor.patients.order_by(Patient.first_name, Patient.id)),
        "relationships": RELATIONSHIPS,
        "errors": errors or {},
        "values": values or {"patient": request.query_params.get("patient", "")},
    })


@portal_page
def register(request: Request, session: PatientSession) -> Response:
    return _request_page(request, session, "register_patient")


@portal_page
def modify(request: Request, session: PatientSession) -> Response:
    return _request_page(request, session, "modify_patient")


def _field(form: FormData, name: str, limit: int = 100) -> str:
    return " ".join(str(form.get(name, "")).split())[:limit]


def register_submit(request: Request, form: FormData, session: PatientSession) -> Response:
    values = {name: _field(form, name) for name in ("first_name", "last_name", "date_of_birth", "relationship")}
    values["note"] = str(form.get("note", "")).strip()[:1000]
    errors = {}
    if not values["first_name"]:
        errors["first_name"] = "Enter the patient's first name."
    if not values["last_name"]:
        errors["last_name"] = "Enter the patient's last name."
    born = dates.parse_date(values["date_of_birth"])
    if born is None:
        errors["date_of_birth"] = "Enter the patient's date of birth as MM/DD/YYYY."
    if values["relationship"] not in RELATIONSHIPS:
        errors["relationship"] = "Choose how the patient is related to you."
    if errors:
        return _request_page(request, session, "register_patient", errors=errors, values=values)
    detail = {**values, "date_of_birth": born.isoformat()}
    with database.atomic():
        PatientRequest.create(guarantor=session.guarantor_id, kind="register_patient", detail=json.dumps(detail))
        _audit(request, session, "profile.register_patient", "")
    return _redirect("/profile?done=request")


def modify_submit(request: Request, form: FormData, session: PatientSession) -> Response:
    patients = {p.ext_id: p for p in session.guarantor.patients}
    values = {"patient": _field(form, "patient", 64), "changes": str(form.get("changes", "")).strip()[:1000]}
    errors = {}
    patient = patients.get(values["patient"])
    if patient is None:
        errors["patient"] = "Choose the patient to change."
    if not values["changes"]:
        errors["changes"] = "Tell us what should change."
    if errors:
        return _request_page(request, session, "modify_patient", errors=errors, values=values)
    detail = {"patient": patient.ext_id, "patient_name": patient.full_name, "changes": values["changes"]}
    with database.atomic():
        PatientRequest.create(guarantor=session.guarantor_id, kind="modify_patient", detail=json.dumps(detail))
        _audit(request, session, "profile.modify_patient", patient.ext_id)
    return _redirect("/profile?done=request")


routes = [
    Route("/profile", profile),
    Route("/profile/preferred-name", portal_form(preferred_name), methods=["POST"]),
    Route("/profile/notifications", portal_form(notifications), methods=["POST"]),
    Route("/profile/email", portal_form(change_email), methods=["POST"]),
    Route("/profile/mobile", portal_form(change_mobile), methods=["POST"]),
    Route("/profile/verify", verify),
    Route("/profile/verify", portal_form(verify_submit), methods=["POST"]),
    Route("/profile/register", register),
    Route("/profile/register", portal_form(register_submit), methods=["POST"]),
    Route("/profile/modify", modify),
    Route("/profile/modify", portal_form(modify_submit), methods=["POST"]),
]
