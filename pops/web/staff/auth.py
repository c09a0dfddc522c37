"""Staff sign-in (email, password, authenticator code), log out, and the console's front door.

The rules (the lockout, each code once) live in pops.staff; every other staff page uses the guards.
"""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import staff as staff_accounts
from .. import cookies, forms
from ..guards import current_staff_session, public, public_form, redirect, staff_idle
from ..htmx import client_ip
from ..render import render

LOGIN = "staff/login.html"
HOME = "/staff/find"


def _safe_next(value: str) -> str:
    """Only a path inside the staff console; never another site."""
    if value.startswith("/staff") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value
    return HOME


@public
def sign_in_page(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next", ""))
    if current_staff_session(request, touch=False) is not None:
        return redirect(next_url)
    return render(request, LOGIN, {"title": "Staff sign in", "next": next_url})


@public_form
def sign_in(request: Request, form: FormData) -> Response:
    email = forms.text(form, "email", 254)
    next_url = _safe_next(str(form.get("next", "")))
    result = staff_accounts.sign_in(
        email, str(form.get("password", ""))[:1024], str(form.get("code", ""))[:20],
        ip=client_ip(request), user_agent=request.headers.get("user-agent", ""), idle=staff_idle(request),
        previous_session=current_staff_session(request, touch=False))
    if not result.ok:
        return render(request, LOGIN, {"title": "Staff sign in", "next": next_url, "email": email,
                                       "error": staff_accounts.NOT_ACCEPTED}, status_code=401)
    response = redirect(next_url)
    cookies.set_cookie(response, request, cookies.STAFF, result.token)
    return response


@public_form
def log_out(request: Request, form: FormData) -> Response:
    session = current_staff_session(request, touch=False)
    if session is not None:
        staff_accounts.sign_out(session, ip=client_ip(request))
    response = redirect("/staff/login")
    cookies.clear_cookie(response, request, cookies.STAFF)
    return response


@public
def staff_root(request: Request) -> Response:
    return redirect(HOME)


routes = [
    Route("/staff", staff_root),
    Route("/staff/login", sign_in_page, methods=["GET"]),
    Route("/staff/login", sign_in, methods=["POST"]),
    Route("/staff/logout", log_out, methods=["POST"]),
]
