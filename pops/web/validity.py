"""What an address or a form may hold before any handler sees it, and what an id in an address may be.

A NUL byte or invalid UTF-8 in the path, the query, the cookies or a form body (raw or
percent-encoded), or a NUL in any header, is refused with 400; a body over MAX_BODY with 413.
Nothing POPS takes contains either, and PostgreSQL cannot store a NUL: such a request never
reaches a handler or the database.

Importing this module makes `{name:int}` in a route match only an id a database can hold
(pops.ids): a longer number matches no route, a 404. pops.web.staff, whose routes take ids,
imports it before any of them.
"""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import ids
from ..i18n import N_
from .render import render

MAX_BODY = 1024 * 1024  # POPS's forms are a few hundred bytes
NOT_VALID = N_("That address or form is not valid")
TOO_LARGE = N_("That form is too large to send")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
FORM_TYPE = b"application/x-www-form-urlencoded"


class IdConvertor(Convertor[int]):
    regex = ids.PATTERN

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("int", IdConvertor())


def _clean(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def valid(raw: bytes, *, encoded: bool = True) -> bool:
    """No NUL and valid UTF-8, as sent and (when `encoded`) once percent-decoded."""
    return _clean(raw) and (not encoded or _clean(unquote_to_bytes(raw)))


def _cookies_valid(header: bytes) -> bool:
    if not valid(header):
        return False
    if b"\\" not in header:  # no NUL, and no escape that would read as one
        return True
    parsed = cookie_parser(header.decode("latin-1"))  # as the app will read them: "\\000" is a NUL too
    return not any("\x00" in name or "\x00" in value for name, value in parsed.items())


def address_valid(scope: Scope) -> bool:
    """The path, the query, the cookies and the headers of a request hold no NUL or invalid UTF-8."""
    raw_path = scope.get("raw_path")
    path_ok = valid(raw_path) if raw_path is not None else valid(scope["path"].encode("utf-8", "surrogatepass"),
                                                                 encoded=False)
    if "\x00" in scope["path"] or not path_ok or not valid(scope.get("query_string", b"")):
        return False
    for name, value in scope["headers"]:
        if b"\x00" in value or (name == b"cookie" and not _cookies_valid(value)):
            return False
    return True


def _refuse(scope: Scope, title: str, status_code: int) -> ASGIApp:
    return render(Request(scope), "not_valid.html", {"title": title}, status_code=status_code)


class ValidityMiddleware:
    """Refuses requests no handler should see (400, 413), before any handler runs.

    A form body is read here (at most MAX_BODY), checked, then handed to the app as if unread.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not address_valid(scope):
            await _refuse(scope, NOT_VALID, 400)(scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(scope, receive)
        except ClientGone:
            return
        if body is None:
            await _refuse(scope, TOO_LARGE, 413)(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if not valid(body, encoded=content_type.startswith(FORM_TYPE)):
            await _refuse(scope, NOT_VALID, 400)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


class ClientGone(Exception):
    """The client disconnected before its body was all sent."""


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole body, or None when it is over MAX_BODY (said by Content-Length, or found reading)."""
    length = dict(scope["headers"]).get(b"content-length", b"0")
    if length.isdigit() and int(length) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone  # a half-sent form is never handled
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body already read, then whatever the client sends next."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
