"""Session cookies: patient and staff apart, HttpOnly, SameSite=Lax, Secure behind HTTPS."""
from __future__ import annotations

import datetime as dt
import functools
from typing import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import sessions
from ..models import PatientSession, StaffSession
from .util import with_db

PATIENT_COOKIE = "pops_session"
STAFF_COOKIE = "pops_staff"


def _secure(request: Request) -> bool:
    return request.app.state.settings.secure_cookies or request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, token: str) -> None:
    response.set_cookie(name, token, httponly=True, samesite="lax", secure=_secure(request), path="/")


def clear_session_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=_secure(request))


def patient_session(request: Request, *, touch: bool = True) -> PatientSession | None:
    """The live patient-side session of this browser, or None.

    A staff mirror lives only as long as the staff member's own session in the same browser: a
    log out, a deactivation or the staff idle timeout ends the mirror too (a shared desk PC).
    """
    session = sessions.load(PatientSession, request.cookies.get(PATIENT_COOKIE), touch=touch)
    if session is not None and session.staff_id is not None and not _backed_by_staff(request, session, touch):
        sessions.end(session, "staff_ended")
        return None
    return session


def _backed_by_staff(request: Request, mirror: PatientSession, touch: bool) -> bool:
    idle = dt.timedelta(minutes=request.app.state.settings.staff_idle_minutes)
    staff_session = sessions.load(StaffSession, request.cookies.get(STAFF_COOKIE), touch=touch, idle=idle)
    return (staff_session is not None and staff_session.staff_id == mirror.staff_id
            and staff_session.staff.active)


def end_current_patient_session(request: Request) -> None:
    """Sign-in starts afresh: whatever session this browser had ends first."""
    current = patient_session(request, touch=False)
    if current is not None:
        sessions.end(current, "replaced")


def portal_page(endpoint: Callable[[Request, PatientSession], Response]) -> Callable[[Request], Response]:
    """A full-portal page: needs a live portal session (signed in, or a staff mirror of one).

    Without one the patient is sent to sign in; a QuickPay session must verify first ("View
    Account"). Each visit is recorded for the Session Usage report.
    """

    @functools.wraps(endpoint)
    @with_db
    def wrapper(request: Request) -> Response:
        session = patient_session(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        if session.quickpay:
            return RedirectResponse("/login?view_account=1", status_code=303)
        sessions.record_page(session, request.url.path)
        return endpoint(request, session)

    return wrapper
