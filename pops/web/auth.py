"""Session cookies: patient and staff apart, HttpOnly, SameSite=Lax, Secure behind HTTPS."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import sessions
from ..models import PatientSession

PATIENT_COOKIE = "pops_session"
STAFF_COOKIE = "pops_staff"


def _secure(request: Request) -> bool:
    return request.app.state.settings.secure_cookies or request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, name: str, token: str) -> None:
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
