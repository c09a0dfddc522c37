"""The one set of guards every route uses, and the request scope they open (the app decides what it is).

    public / public_form                 anyone (the route is declared public)
    public_without_database              anyone, and no database scope (it must answer without one)
    public_webhook                       another system's POST (raw body; it checks its own signature)
    patient_page / patient_form          a live patient session: the full portal, or with
                                         quickpay=True a QuickPay session too
    staff_page / staff_form (admin=…)    a signed-in staff member (an admin for admin=True)

A page is `endpoint(request[, session])`; a form is `handler(request, form[, session])`, its form
token checked before anything else. Each marks its endpoint with the guard's name, so a test can
walk the route table and find any route that is neither public nor guarded.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Callable
from urllib.parse import quote

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import ledger, loop_pages, sessions
from ..audit import audit
from ..models import PatientSession, Staff, StaffSession
from . import cookies, forms
from .htmx import client_ip
from .render import render
from .worker import loop_statements, page_threads

GUARD = "pops_guard"  # the attribute naming an endpoint's guard: "public", "patient" or "staff"
FORM_EXPIRED = "form_expired.html"
SESSION_ENDED = "patient/session_ended.html"
STAFF_FORBIDDEN = "staff/forbidden.html"


def _mark(endpoint: Callable, guard: str) -> Callable:
    setattr(endpoint, GUARD, guard)
    return endpoint


def redirect(url: str) -> RedirectResponse:
    """See other: where a form post or a refused page sends the browser."""
    return RedirectResponse(url, status_code=303)


# --- sessions, read from this browser's cookies -----------------------------------------------

def staff_idle(request: Request) -> dt.timedelta:
    return dt.timedelta(minutes=request.app.state.settings.staff_idle_minutes)


def current_staff_session(request: Request, *, touch: bool = True) -> StaffSession | None:
    """This browser's live staff session (of an active staff member), or None."""
    session = sessions.load(StaffSession, request.cookies.get(cookies.STAFF), touch=touch, idle=staff_idle(request))
    if session is not None and not session.staff.active:
        sessions.end(session, "deactivated")
        return None
    return session


def patient_session(request: Request, *, touch: bool = True) -> PatientSession | None:
    """The live patient-side session of this browser (with its guarantor and group), or None.

    A staff mirror lives only as long as the staff member's own session in the same browser: a
    log out, a deactivation or the staff idle timeout ends the mirror too (a shared desk PC).
    """
    session = _untouched_patient_session(request, touch_staff=touch)
    if session is not None and touch:
        sessions.touch_session(session)
    return session


def _untouched_patient_session(request: Request, *, touch_staff: bool) -> PatientSession | None:
    session = sessions.load(PatientSession, request.cookies.get(cookies.PATIENT), touch=False)
    if session is not None and session.staff_id is not None:
        backing = current_staff_session(request, touch=touch_staff)
        if backing is None or backing.staff_id != session.staff_id:
            sessions.end(session, "staff_ended")
            return None
    return session


def _page_path(request: Request) -> str:
    """The path of the page asked for, as `request.url.path` gives it, without building the whole URL (and
    splitting it again) on every page: the scope's own, unless it holds what the URL would escape."""
    path = request.scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        return request.url.path
    return path


# --- the database scope ---------------------------------------------------------------------

def _in_db(endpoint: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(endpoint)
    def scoped(request: Request, *args) -> Response:
        with request.app.state.request_scope():
            return endpoint(request, *args)

    return scoped


# A page on the loop that found the database busy tries again after these pauses (seconds), then goes to a
# thread: another writer holds the lock for a statement (a fraction of a millisecond), and a thread waiting
# on SQLite's own busy handler sleeps in steps of up to 100 ms.
LOOP_RETRY_PAUSES = (0, 0.0005, 0.001, 0.002, 0.004, 0.008)


def _page(endpoint: Callable[[Request], Response], gateway: bool, on_the_loop: bool = False,
          quickpay: bool | None = None) -> Callable:
    """A GET in a database scope, on the process's page threads (pops.web.worker.page_threads); one that may
    wait on the payment gateway (`gateway=True`) runs on the general request threads instead.

    With `on_the_loop`, the page runs on the event loop itself: a patient's page takes about a millisecond
    there, and handing it to a thread and back costs the process as much again. On SQLite
    (app.state.on_the_loop) it does not wait there for another connection's write lock: found busy before
    it has written, it tries again a few times after short pauses (LOOP_RETRY_PAUSES), then runs on a
    thread, where it may wait. On PostgreSQL (pops.loop_pages) it awaits its session's read and touch
    there, and runs on a thread if it comes to any other statement. A patient's page (`quickpay` not None:
    whether a QuickPay session may see it) reads its session, touches it and counts the visit in one statement.
    """
    scoped = _in_db(endpoint)
    if gateway:
        return scoped

    async def run(request: Request) -> Response:
        statements = loop_statements(request.app) if on_the_loop else None
        if statements is not None:  # PostgreSQL (pops.loop_pages)
            return await loop_pages.serve(
                statements, request.cookies.get(cookies.PATIENT), functools.partial(endpoint, request),
                lambda: anyio.to_thread.run_sync(scoped, request, limiter=page_threads(request.app)),
                functools.partial(anyio.to_thread.run_sync, _WRITE_KEPT, request),
                None if quickpay is None else sessions.Visit(_page_path(request), quickpay))
        loop_runner = getattr(request.app.state, "on_the_loop", None) if on_the_loop else None
        if loop_runner is not None:
            for pause in LOOP_RETRY_PAUSES:
                if pause:
                    await anyio.sleep(pause)  # the loop serves others meanwhile
                response = loop_runner(scoped, request)
                if response is not None:
                    return response
        return await anyio.to_thread.run_sync(scoped, request, limiter=page_threads(request.app))

    functools.update_wrapper(run, endpoint)
    return run


def _write_kept(request: Request, sql: str, params: tuple) -> None:
    loop_pages.write(sql, params)


_WRITE_KEPT = _in_db(_write_kept)  # a write the loop kept, written from a thread (pops.loop_pages)


def _form(handler: Callable[[Request, FormData], Response]) -> Callable:
    """A POST: read the form, check its token, then run the (synchronous) handler in a database scope."""
    scoped = _in_db(handler)

    async def endpoint(request: Request) -> Response:
        form = await forms.read_form(request)
        if not forms.token_ok(request, form):
            return render(request, FORM_EXPIRED, {"title": "Please try again"}, status_code=403)
        return await run_in_threadpool(scoped, request, form)

    functools.update_wrapper(endpoint, handler)
    return endpoint


# --- anyone -----------------------------------------------------------------------------------

def public(endpoint: Callable | None = None, *, gateway: bool = False):
    """A page anyone may open (it may still look for a session itself); `gateway=True` if it may ask the gateway."""
    def decorate(endpoint: Callable[[Request], Response]) -> Callable:
        return _mark(_page(endpoint, gateway, on_the_loop=True), "public")

    return decorate(endpoint) if endpoint is not None else decorate


def public_webhook(handler: Callable[[Request, bytes], Response]) -> Callable:
    """A POST from another system (a gateway's webhook): `handler(request, body)` with the raw body, in a
    database scope. No form token: the handler checks the sender's own signature on the body."""
    scoped = _in_db(handler)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(scoped, request, body)

    functools.update_wrapper(endpoint, handler)
    return _mark(endpoint, "public")


def public_without_database(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """A public page that must answer even when the database does not (liveness, the front door)."""
    return _mark(endpoint, "public")


def public_form(handler: Callable[[Request, FormData], Response]) -> Callable:
    """A form anyone may post (sign-in, log out): the form token is still checked."""
    return _mark(_form(handler), "public")


# --- patients ---------------------------------------------------------------------------------

def _patient(request: Request, quickpay: bool, ended_page: bool,
             page: str | None = None) -> tuple[PatientSession | None, Response | None]:
    """The session a patient route may serve (touched: with `page`, the visit counted in the same UPDATE), or the refusal."""
    session = _untouched_patient_session(request, touch_staff=True)
    if session is None:
        if ended_page:
            return None, render(request, SESSION_ENDED, {"title": "Your session has ended"}, status_code=401)
        return None, redirect("/login")
    if session.quickpay and not quickpay:
        sessions.touch_session(session)
        return None, redirect("/login?view_account=1")  # a QuickPay visit verifies first ("View Account")
    sessions.touch_session(session, page=page)
    return session, None


def patient_page(endpoint: Callable | None = None, *, quickpay: bool = False, ended_page: bool = False,
                 gateway: bool = False):
    """A GET for a live patient session: `endpoint(request, session)`; the visit is recorded (with the session's touch).

    Without a session: to sign-in (or, with ended_page=True, a "session ended" page). A QuickPay
    session reaches only pages marked quickpay=True; elsewhere it is asked to sign in. `gateway=True`:
    the page may ask the payment gateway (it runs on the general request threads). Any other page writes
    none of the ledger, so it may use the account's facts kept for its ledger version (pops.ledger).
    """
    def decorate(endpoint: Callable[[Request, PatientSession], Response]) -> Callable[[Request], Response]:
        @functools.wraps(endpoint)
        def guarded(request: Request) -> Response:
            session, refused = _patient(request, quickpay, ended_page, page=_page_path(request))
            if refused is not None:
                return refused
            if gateway:  # it may record a payment: the account's facts are read afresh after it
                return endpoint(request, session)
            with ledger.reusing_facts():  # it writes none of the ledger: facts kept for its version hold
                return endpoint(request, session)

        return _mark(_page(guarded, gateway, on_the_loop=True, quickpay=quickpay), "patient")

    return decorate(endpoint) if endpoint is not None else decorate


def patient_form(handler: Callable | None = None, *, quickpay: bool = False, ended_page: bool = False):
    """A POST for a live patient session: `handler(request, form, session)`, form token checked first."""
    def decorate(handler: Callable[[Request, FormData, PatientSession], Response]) -> Callable:
        @functools.wraps(handler)
        def guarded(request: Request, form: FormData) -> Response:
            session, refused = _patient(request, quickpay, ended_page)
            if refused is not None:
                return refused
            return handler(request, form, session)

        return _mark(_form(guarded), "patient")

    return decorate(handler) if handler is not None else decorate


# --- staff ------------------------------------------------------------------------------------

def _staff(request: Request, admin: bool) -> tuple[StaffSession | None, Response | None]:
    session = current_staff_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return None, redirect(f"/staff/login?next={quote(target)}")
    if admin and session.staff.role != Staff.ADMIN:
        audit(session, "forbidden", detail=request.url.path, ip=client_ip(request))
        return session, render(request, STAFF_FORBIDDEN, {"title": "Admins only", "staff_session": session},
                               status_code=403)
    return session, None


def staff_page(endpoint: Callable | None = None, *, admin: bool = False):
    """A GET for signed-in staff: `endpoint(request, staff_session)`.

    Use as `@staff_page` or `@staff_page(admin=True)`. Not signed in: to the sign-in page (and
    back here after); a staff member on an admin page: 403.
    """
    def decorate(endpoint: Callable[[Request, StaffSession], Response]) -> Callable[[Request], Response]:
        @functools.wraps(endpoint)
        def guarded(request: Request) -> Response:
            session, refused = _staff(request, admin)
            return refused if refused is not None else endpoint(request, session)

        return _mark(_page(guarded, False), "staff")

    return decorate(endpoint) if endpoint is not None else decorate


def staff_form(handler: Callable | None = None, *, admin: bool = False):
    """A POST for signed-in staff: `handler(request, form, staff_session)`, form token checked first."""
    def decorate(handler: Callable[[Request, FormData, StaffSession], Response]) -> Callable:
        @functools.wraps(handler)
        def guarded(request: Request, form: FormData) -> Response:
            session, refused = _staff(request, admin)
            return refused if refused is not None else handler(request, form, session)

        return _mark(_form(guarded), "staff")

    return decorate(handler) if handler is not None else decorate
