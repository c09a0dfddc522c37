"""Every cookie POPS sets: HttpOnly, SameSite=Lax, Secure behind HTTPS; signed ones by purpose."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import signing

PATIENT = "pops_session"  # a patient's (or a staff mirror's) session token
STAFF = "pops_staff"  # a staff member's session token
CSRF = "pops_csrf"  # the form token (double submit)
SIGNIN_FLOW = "pops_signin"  # the sign-in in progress (signed)
VERIFY_CONTACT = "pops_verify"  # a contact change being verified (signed)
LANGUAGE = "pops_lang"  # the language a visitor chose with the switch (pops.language)


def _secure(request: Request) -> bool:
    return request.app.state.settings.secure_cookies or request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=_secure(request), path="/")


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=_secure(request))


def read_signed(request: Request, name: str, purpose: str, *, max_age: int) -> dict:
    """The dict a signed cookie carries, or {} when it is missing, forged, stale or not a dict."""
    value = signing.load(request.app.state.settings.secret_key, purpose, request.cookies.get(name), max_age=max_age)
    return value if isinstance(value, dict) else {}


def set_signed(response: Response, request: Request, name: str, purpose: str, value: dict) -> None:
    set_cookie(response, request, name, signing.dump(request.app.state.settings.secret_key, purpose, value))
