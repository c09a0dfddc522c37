"""Form posts: read once, with a limit, and checked against this browser's form token."""
from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

from . import cookies

FIELD = "csrf"  # the hidden field every form carries


def csrf_token(request: Request) -> str:
    """This browser's form token (double submit: a cookie and a hidden field that must match).

    A new one is made when the browser has none; render() then sets the cookie.
    """
    token = request.cookies.get(cookies.CSRF, "")
    if not (20 <= len(token) <= 64):
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


async def read_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=200)


def token_ok(request: Request, form: FormData) -> bool:
    """The form carries the token its browser's cookie holds (the same-origin check ran before)."""
    sent = str(form.get(FIELD, ""))
    cookie = request.cookies.get(cookies.CSRF, "")
    return bool(cookie) and hmac.compare_digest(sent.encode(), cookie.encode())


def text(form: FormData, name: str, limit: int = 100) -> str:
    """A one-line field, trimmed and cut to `limit` characters."""
    return str(form.get(name, "")).strip()[:limit]
