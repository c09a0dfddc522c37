"""Staff sign-in (email, password, TOTP), the staff session guard, and log out.

Other staff pages use `staff_page` (GET) and `staff_form` (POST); `admin=True` keeps a page for admins.
"""
from __future__ import annotations

import datetime as dt
import functools
import hmac
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

import pyotp
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import clock, sessions
from ..audit import audit
from ..db import database
from ..models import Staff, StaffSession
from ..staff import check_password
from .auth import STAFF_COOKIE, clear_session_cookie, set_cookie
from .templating import render
from .util import client_ip, form_endpoint

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
TOTP_WINDOW = 1  # steps either side of now, for a phone clock a little off
NOT_ACCEPTED = "Email, password or code not accepted. After 5 failed tries an account is locked for 15 minutes."
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY = Staff(password_hash="$argon2id$v=19$m=65536,t=3,p=4$eQ0uQjJ1PAZx5dGIDRxaVg$YYnlzMmvffWPQztMqGBWIi/pRUlO1XP3RbnmyJ/Gde4")


# --- the rules (no web objects) --------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    staff: Staff | None
    ok: bool
    reason: str  # "ok", "unknown", "inactive", "locked", "password", "code"


def _accept_totp(staff: Staff, code: str) -> bool:
    """True once per time step: the step is recorded with a conditional update, so a replay fails."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(staff.totp_secret)
    now_step = totp.timecode(clock.now())
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        if step > staff.last_totp_step and hmac.compare_digest(totp.generate_otp(step), code):
            rows = Staff.update(last_totp_step=step).where(
                (Staff.id == staff.id) & (Staff.last_totp_step < step)).execute()
            return bool(rows)
    return False


def _fail(staff: Staff) -> None:
    failures = staff.failed_sign_ins + 1
    if failures >= MAX_FAILURES:
        Staff.update(failed_sign_ins=0, locked_until=clock.now() + LOCKOUT).where(Staff.id == staff.id).execute()
    else:
        Staff.update(failed_sign_ins=Staff.failed_sign_ins + 1).where(Staff.id == staff.id).execute()


def authenticate(email: str, password: str, code: str) -> SignIn:
    """Check all three; a failure counts toward the lockout. Run inside a transaction."""
    staff = Staff.get_or_none(Staff.email == email.strip().lower())
    if staff is None:
        check_password(_DUMMY, password)
        return SignIn(None, False, "unknown")
    if not staff.active:
        check_password(_DUMMY, password)
        return SignIn(staff, False, "inactive")
    if staff.locked_until is not None and clock.now() < staff.locked_until:
        return SignIn(staff, False, "locked")
    if not check_password(staff, password):
        _fail(staff)
        return SignIn(staff, False, "password")
    if not _accept_totp(staff, code):
        _fail(staff)
        return SignIn(staff, False, "code")
    Staff.update(failed_sign_ins=0, locked_until=None).where(Staff.id == staff.id).execute()
    return SignIn(staff, True, "ok")


# --- the guard every staff page uses ---------------------------------------------------------

def staff_idle(request: Request) -> dt.timedelta:
    return dt.timedelta(minutes=request.app.state.settings.staff_idle_minutes)


def current_staff_session(request: Request, *, touch: bool = True) -> StaffSession | None:
    """This browser's live staff session (of an active staff member), or None."""
    session = sessions.load(StaffSession, request.cookies.get(STAFF_COOKIE), touch=touch, idle=staff_idle(request))
    if session is not None and not session.staff.active:
        sessions.end(session, "deactivated")
        return None
    return session


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/staff/login?next={quote(target)}", status_code=303)


def _forbidden(request: Request, session: StaffSession) -> Response:
    audit(session.staff, "forbidden", detail=request.url.path, request=request)
    return render(request, "staff/forbidden.html", {"title": "Admins only", "staff_session": session},
                  status_code=403)


def _guard(request: Request, admin: bool) -> tuple[StaffSession | None, Response | None]:
    session = current_staff_session(request)
    if session is None:
        return None, _to_sign_in(request)
    if admin and session.staff.role != "admin":
        return session, _forbidden(request, session)
    return session, None


def staff_page(endpoint: Callable | None = None, *, admin: bool = False):
    """A GET page for signed-in staff: `endpoint(request, staff_session)` inside a database scope.

    Use as `@staff_page` or `@staff_page(admin=True)`. Not signed in: to the sign-in page;
    a staff member on an admin page: 403.
    """
    def decorate(endpoint: Callable[[Request, StaffSession], Response]) -> Callable[[Request], Response]:
        @functools.wraps(endpoint)
        def wrapper(request: Request) -> Response:
            with database.connection_context():
                session, refused = _guard(request, admin)
                if refused is not None:
                    return refused
                return endpoint(request, session)

        return wrapper

    return decorate(endpoint) if endpoint is not None else decorate


def staff_form(handler: Callable | None = None, *, admin: bool = False):
    """A POST for signed-in staff: `handler(request, form, staff_session)`, form token checked first.

    Use as `@staff_form` or `@staff_form(admin=True)`.
    """
    def decorate(handler: Callable[[Request, FormData, StaffSession], Response]) -> Callable:
        @functools.wraps(handler)
        def guarded(request: Request, form: FormData) -> Response:
            session, refused = _guard(request, admin)
            if refused is not None:
                return refused
            return handler(request, form, session)

        return form_endpoint(guarded)

    return decorate(handler) if handler is not None else decorate


# --- sign-in and log out ---------------------------------------------------------------------

def _safe_next(value: str) -> str:
    """Only a path inside the staff console; never another site."""
    if value.startswith("/staff") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value
    return "/staff/find"


def sign_in_page(request: Request) -> Response:
    with database.connection_context():
        if current_staff_session(request, touch=False) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next", "")), status_code=303)
    return render(request, "staff/login.html", {"title": "Staff sign in",
                                                 "next": _safe_next(request.query_params.get("next", ""))})


@form_endpoint
def sign_in(request: Request, form: FormData) -> Response:
    email = str(form.get("email", "")).strip()[:254]
    next_url = _safe_next(str(form.get("next", "")))
    with database.atomic():
        result = authenticate(email, str(form.get("password", ""))[:1024], str(form.get("code", ""))[:20])
        if not result.ok:
            audit(result.staff, "sign_in_failed", detail=result.reason, request=request, actor=email)
            if result.staff is not None and result.reason != "locked":
                staff = Staff.get_by_id(result.staff.id)
                if staff.locked_until is not None and staff.locked_until > clock.now():
                    audit(staff, "locked", detail=f"until {staff.locked_until:%Y-%m-%d %H:%M} UTC", request=request)
        else:
            previous = current_staff_session(request, touch=False)
            if previous is not None:
                sessions.end(previous, "replaced")
            token, _ = sessions.start_staff(result.staff, idle=staff_idle(request), ip=client_ip(request),
                                            user_agent=request.headers.get("user-agent", ""))
            audit(result.staff, "sign_in", request=request)
    if not result.ok:
        return render(request, "staff/login.html", {"title": "Staff sign in", "next": next_url, "email": email,
                                                    "error": NOT_ACCEPTED}, status_code=401)
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(response, request, STAFF_COOKIE, token)
    return response


@form_endpoint
def log_out(request: Request, form: FormData) -> Response:
    session = current_staff_session(request, touch=False)
    if session is not None:
        sessions.end(session, "logout")
        audit(session.staff, "sign_out", request=request)
    response = RedirectResponse("/staff/login", status_code=303)
    clear_session_cookie(response, request, STAFF_COOKIE)
    return response


def staff_root(request: Request) -> Response:
    return RedirectResponse("/staff/find", status_code=303)


routes = [
    Route("/staff", staff_root),
    Route("/staff/login", sign_in_page, methods=["GET"]),
    Route("/staff/login", sign_in, methods=["POST"]),
    Route("/staff/logout", log_out, methods=["POST"]),
]
