"""Profile: what the practice has on file, the contact details and choices the patient may change,
and requests (register or modify a patient) that the practice reviews. The rules and the writes
are pops.profile's; this module reads the forms and shows the pages."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import otp, profile
from ...i18n import N_
from ...models import OneTimeCode, PatientSession
from .. import cookies
from ..chrome import page
from ..guards import patient_form, patient_page, redirect
from ..htmx import client_ip
from ..render import render

VERIFY_MAX_AGE = 30 * 60  # seconds to enter the code sent to a new email or mobile
DONE = {"preferred_name", "notifications", "email", "mobile", "request", "texting"}  # what ?done= may say was saved
VERIFY_MESSAGES = {
    "malformed": N_("Enter the 6-digit code we sent."),
    "wrong": N_("That code is not right. Check it and try again."),
    "locked": N_("That code was entered wrongly too many times. Start the change again to get a new code."),
    "expired": N_("That code has expired. Start the change again to get a new code."),
    "used": N_("That code has already been used."),
    "unknown": N_("That code can no longer be used."),
}
DEAD = {"locked", "expired", "used", "unknown"}  # a code that cannot be tried again
REQUEST_TITLES = {"register_patient": N_("Register a Patient"), "modify_patient": N_("Modify a Patient")}


# --- the page -----------------------------------------------------------------------------

def _profile_page(request: Request, session: PatientSession, *, errors: dict | None = None,
                  values: dict | None = None, limited: dict | None = None) -> Response:
    done = request.query_params.get("done", "")
    return render(request, "portal/profile/page.html", page(
        session, N_("Profile"), active="/profile",
        patients=profile.patients(session.guarantor),
        texting=profile.texting(session.guarantor),
        texts_question=profile.TEXTS_QUESTION.format(mobile=session.guarantor.mobile),
        done=done if done in DONE else "",
        errors=errors or {},
        values=values or {},
        limited=limited or {},
    ))


@patient_page
def show(request: Request, session: PatientSession) -> Response:
    return _profile_page(request, session)


@patient_form
def preferred_name(request: Request, form: FormData, session: PatientSession) -> Response:
    value = " ".join(str(form.get("preferred_name", "")).split())
    error = profile.set_preferred_name(session, value, ip=client_ip(request))
    if error:
        return _profile_page(request, session, errors={"preferred_name": error}, values={"preferred_name": value[:100]})
    return redirect("/profile?done=preferred_name")


@patient_form
def notifications(request: Request, form: FormData, session: PatientSession) -> Response:
    profile.set_notifications(session, {name for name in profile.NOTIFICATION_FIELDS if name in form},
                              ip=client_ip(request))
    return redirect("/profile?done=notifications")


@patient_form
def texting(request: Request, form: FormData, session: PatientSession) -> Response:
    profile.set_text_consent(session, form.get("consent") == "yes", ip=client_ip(request))
    return redirect("/profile?done=texting")


# --- a new email or mobile, verified by a code sent to it ---------------------------------

def _pending(request: Request, session: PatientSession) -> OneTimeCode | None:
    """The contact change this browser is verifying for this session, if any."""
    state = cookies.read_signed(request, cookies.VERIFY_CONTACT, "verify-contact", max_age=VERIFY_MAX_AGE)
    if state.get("s") != session.id:
        return None
    return profile.pending_verification(session, str(state.get("a", "")))


def _start_change(request: Request, form: FormData, session: PatientSession, field: str) -> Response:
    raw = str(form.get(field, ""))[:300]
    settings = request.app.state.settings
    started = profile.start_contact_verification(session, field, raw, secret_key=settings.secret_key,
                                                 ip=client_ip(request))
    if started.error or started.limited:
        # The hourly code limit is said beside the field, on a normal page the form shows.
        return _profile_page(request, session, errors={field: started.error} if started.error else {},
                             values={field: raw.strip()}, limited={field: started.limited} if started.limited else {})
    response = redirect("/profile/verify")
    cookies.set_signed(response, request, cookies.VERIFY_CONTACT, "verify-contact",
                       {"a": started.attempt, "s": session.id})
    return response


@patient_form
def change_email(request: Request, form: FormData, session: PatientSession) -> Response:
    return _start_change(request, form, session, "email")


@patient_form
def change_mobile(request: Request, form: FormData, session: PatientSession) -> Response:
    return _start_change(request, form, session, "mobile")


def _verify_page(request: Request, session: PatientSession, pending: OneTimeCode,
                 check: otp.Check | None = None) -> Response:
    return render(request, "portal/profile/verify.html", page(
        session, N_("Confirm your new contact"), active="/profile",
        pending=pending,
        error=VERIFY_MESSAGES[check.status] if check else "",
        tries_left=check.tries_left if check and check.status == "wrong" else None,
        dead=bool(check) and check.status in DEAD,
    ))


@patient_page
def verify(request: Request, session: PatientSession) -> Response:
    pending = _pending(request, session)
    if pending is None or pending.used_at is not None:
        return redirect("/profile")
    return _verify_page(request, session, pending)


@patient_form
def verify_submit(request: Request, form: FormData, session: PatientSession) -> Response:
    pending = _pending(request, session)
    if pending is None:
        return redirect("/profile")
    check = profile.confirm_contact(session, pending, str(form.get("code", ""))[:20],
                                    secret_key=request.app.state.settings.secret_key, ip=client_ip(request))
    if not check.ok:
        return _verify_page(request, session, pending, check)
    response = redirect(f"/profile?done={profile.CHANNEL_FIELD[pending.purpose]}")
    cookies.clear_cookie(response, request, cookies.VERIFY_CONTACT)
    return response


# --- requests the practice reviews --------------------------------------------------------

def _request_page(request: Request, session: PatientSession, kind: str, *, errors: dict | None = None,
                  values: dict | None = None) -> Response:
    return render(request, "portal/profile/request.html", page(
        session, REQUEST_TITLES[kind], active="/profile",
        kind=kind,
        patients=profile.patients(session.guarantor),
        relationships=profile.RELATIONSHIPS,
        errors=errors or {},
        values=values or {"patient": request.query_params.get("patient", "")},
    ))


@patient_page
def register(request: Request, session: PatientSession) -> Response:
    return _request_page(request, session, "register_patient")


@patient_page
def modify(request: Request, session: PatientSession) -> Response:
    return _request_page(request, session, "modify_patient")


def _field(form: FormData, name: str, limit: int = 100) -> str:
    """A one-line field with its spacing collapsed."""
    return " ".join(str(form.get(name, "")).split())[:limit]


@patient_form
def register_submit(request: Request, form: FormData, session: PatientSession) -> Response:
    values = {name: _field(form, name) for name in ("first_name", "last_name", "date_of_birth", "relationship")}
    values["note"] = str(form.get("note", "")).strip()[:1000]
    errors = profile.request_register_patient(session, values, ip=client_ip(request))
    if errors:
        return _request_page(request, session, "register_patient", errors=errors, values=values)
    return redirect("/profile?done=request")


@patient_form
def modify_submit(request: Request, form: FormData, session: PatientSession) -> Response:
    values = {"patient": _field(form, "patient", 64), "changes": str(form.get("changes", "")).strip()[:1000]}
    errors = profile.request_modify_patient(session, values, ip=client_ip(request))
    if errors:
        return _request_page(request, session, "modify_patient", errors=errors, values=values)
    return redirect("/profile?done=request")


routes = [
    Route("/profile", show),
    Route("/profile/preferred-name", preferred_name, methods=["POST"]),
    Route("/profile/notifications", notifications, methods=["POST"]),
    Route("/profile/texting", texting, methods=["POST"]),
    Route("/profile/email", change_email, methods=["POST"]),
    Route("/profile/mobile", change_mobile, methods=["POST"]),
    Route("/profile/verify", verify),
    Route("/profile/verify", verify_submit, methods=["POST"]),
    Route("/profile/register", register),
    Route("/profile/register", register_submit, methods=["POST"]),
    Route("/profile/modify", modify),
    Route("/profile/modify", modify_submit, methods=["POST"]),
]
