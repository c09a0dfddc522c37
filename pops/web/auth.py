"""Session cookies: patient and staff apart, HttpOnly, SameSite=Lax, Secure behind HTTPS."""
from __future__ import annotations

import functools
from typing import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import sessions
from ..db import database
from ..models import PatientSession

PATIENT_COOKIE = "pops_session"
STAFF_COOKIE = "pops_staff"


def _secure(request: Request) -> bool:
    return request.app.state.settings.secure_cookies or request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, token: str) -> None:
    response.set_cookie(name, token, httponly=True, samesite="lax", secure=_secure(request), path="/")


def clear_session_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=_secure(request))


def patient_session(request: Request, *, touch: bool = True) -> PatientSession | None:
    return sessions.load(PatientSession, request.cookies.get(PATIENT_COOKIE), touch=touch)


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
    def wrapper(request: Request) -> Response:
        with database.connection_context():
            session = patient_session(request)
            if session is None:
                return RedirectResponse("/login", status_code=303)
            if session.quickpay:
                return RedirectResponse("/login?view_account=1", status_code=303)
            sessions.record_page(session, request.url.path)
            return endpoint(request, session)

    return wrapper
