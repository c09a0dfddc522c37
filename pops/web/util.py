"""Small pieces every web module shares: the database scope, form posts with their token, the client."""
from __future__ import annotations

import functools
import hmac
import secrets
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ..db import database

CSRF_COOKIE = "pops_csrf"
CSRF_FIELD = "csrf"


def with_db(endpoint: Callable[..., Response]) -> Callable[..., Response]:
    """Run a (synchronous) endpoint inside one database connection scope."""

    @functools.wraps(endpoint)
    def wrapper(request: Request, *args) -> Response:
        with database.connection_context():
            return endpoint(request, *args)

    return wrapper


def csrf_token(request: Request) -> str:
    """This browser's form token (double-submit: a cookie and a hidden field that must match).

    A new one is made when the browser has none; render() then sets the cookie.
    """
    token = request.cookies.get(CSRF_COOKIE, "")
    if not (20 <= len(token) <= 64):
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


def form_endpoint(handler: Callable[[Request, FormData], Response]) -> Callable:
    """A POST endpoint: read the form, check its token, then run `handler(request, form)` with the database.

    The same-origin check (SecurityMiddleware) runs first; the token also covers browsers that
    send neither Sec-Fetch-Site nor Origin. A form without a valid token changes nothing.
    """

    async def endpoint(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=200)
        sent = str(form.get(CSRF_FIELD, ""))
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
            from .templating import render

            return render(request, "form_expired.html", {"title": "Please try again"}, status_code=403)
        return await run_in_threadpool(with_db(handler), request, form)

    functools.update_wrapper(endpoint, handler)
    return endpoint


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
