"""Patient sign-in (/login): name and date of birth, a code to the mobile or email on file, a new session.

The flow's state (candidate guarantors, the attempt id) sits in a signed, short-lived cookie,
never in the URL. Also log out, and the session warning and extension of portal pages.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import dates, notify, otp, sessions
from ..db import database
from ..models import AuditLog, Group, Guarantor, PatientSession
from .auth import PATIENT_COOKIE, clear_session_cookie, end_current_patient_session, patient_session, set_cookie
from .templating import env, render
from .util import CSRF_FIELD, client_ip, csrf_token, form_endpoint, with_db

FLOW_COOKIE = "pops_signin"
FLOW_MAX_AGE = 30 * 60  # seconds: name, choice and code within half an hour


# --- the flow's signed state --------------------------------------------------------------

def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="pops.signin",
                                  signer_kwargs={"digest_method": hashlib.sha256})


def read_flow(request: Request) -> dict:
    """The sign-in in progress: c (candidate guarantor ids), g (group code), q (QuickPay session id), a (attempt)."""
    raw = request.cookies.get(FLOW_COOKIE)
    if not raw:
        return {}
    try:
        state = _serializer(request).loads(raw, max_age=FLOW_MAX_AGE)
    except BadSignature:
        return {}
    return state if isinstance(state, dict) else {}


def _with_flow(response: Response, request: Request, state: dict) -> Response:
    set_cookie(response, request, FLOW_COOKIE, _serializer(request).dumps(state))
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _group(code: str | None) -> Group | None:
    code = (code or "").strip()
    return Group.get_or_none(Group.code == code) if code and len(code) <= 32 else None


def _candidates(state: dict) -> list[Guarantor]:
    ids = [i for i in state.get("c", []) if isinstance(i, int)]
    by_id = {g.id: g for g in Guarantor.select().where(Guarantor.id.in_(ids))} if ids else {}
    return [by_id[i] for i in ids if i in by_id]


def _branding(state: dict, candidates: list[Guarantor]) -> Group | None:
    """The practice to brand the page with: the one asked for, or the only one the candidates share."""
    group = _group(state.get("g"))
    if group is None and candidates and len({g.group_id for g in candidates}) == 1:
        group = candidates[0].group
    return group


def _login_url(group: Group | None) -> str:
    return f"/login?group={group.code}" if group else "/login"


def landing_url(group: Group) -> str:
    return "/pay" if group.landing_page == "pay" else "/home"


# --- step 1: who are you ------------------------------------------------------------------

@with_db
def login(request: Request) -> Response:
    """/login: the name and date-of-birth form; with ?view_account=1 a QuickPay session skips it."""
    if request.query_params.get("view_account"):
        session = patient_session(request)
        if session is not None and session.quickpay:
            if session.staff_id:
                return render(request, "signin/mirror.html", {"title": "Staff view", "group": session.group,
                              "session": session, "guarantor": session.guarantor})
            state = {"c": [session.guarantor_id], "g": session.group.code, "q": session.id}
            return _with_flow(_redirect("/login/send"), request, state)
    group = _group(request.query_params.get("group"))
    return _login_page(request, group)


def _login_page(request: Request, group: Group | None, *, error: str = "", values: dict | None = None,
                status_code: int = 200) -> Response:
    return render(request, "signin/login.html", {"title": "Sign in", "group": group, "error": error,
                  "values": values or {}}, status_code=status_code)


def login_submit(request: Request, form: FormData) -> Response:
    group = _group(str(form.get("group", "")))
    values = {k: str(form.get(k, "")).strip()[:100] for k in ("first_name", "last_name", "date_of_birth")}
    if not all(values.values()):
        return _login_page(request, group, values=values,
                           error="Enter the first name, last name and date of birth as your practice has them.")
    date_of_birth = dates.parse_date(values["date_of_birth"])
    if date_of_birth is None:
        return _login_page(request, group, values=values, error="Enter the date of birth as MM/DD/YYYY.")
    ip = client_ip(request)
    with database.atomic():
        if not otp.lookups_left(ip):
            return _login_page(request, group, values=values, status_code=429,
                               error="Too many sign-in tries from this device. Please wait an hour and try again.")
        candidates = otp.find_candidates(values["first_name"], values["last_name"], date_of_birth, group)
        otp.record_lookup(ip, len(candidates))
    reachable = [g for g in candidates if otp.destinations(g)]
    if not reachable:
        if candidates:  # a match with no mobile and no email: only the practice can help
            return render(request, "signin/no_contact.html", {"title": "Sign in", "group": _branding({}, candidates)})
        return _login_page(request, group, values=values,
                           error="We could not find an account with those details. Check the spelling against your "
                                 "statement and your date of birth, and try again.")
    state = {"c": [g.id for g in reachable], "g": group.code if group else ""}
    return _with_flow(_redirect("/login/send"), request, state)


# --- step 2: where should the code go -----------------------------------------------------

def _choices(candidates: list[Guarantor]) -> list[tuple[str, otp.Destination]]:
    return [(f"{i}:{d.channel}", d) for i, g in enumerate(candidates) for d in otp.destinations(g)]


def _send_page(request: Request, state: dict, *, error: str = "", rate_limited: Group | None = None,
               status_code: int = 200) -> Response:
    candidates = _candidates(state)
    if not candidates:
        return _redirect(_login_url(_group(state.get("g"))))
    choices = _choices(candidates)
    return render(request, "signin/send.html", {
        "title": "Get a sign-in code",
        "group": _branding(state, candidates),
        "choices": choices,
        "several_practices": len({g.group_id for g in candidates}) > 1,
        "view_account": bool(state.get("q")),
        "error": error,
        "rate_limited": rate_limited,
    }, status_code=status_code)


@with_db
def send(request: Request) -> Response:
    return _send_page(request, read_flow(request))


def send_submit(request: Request, form: FormData) -> Response:
    state = read_flow(request)
    candidates = _candidates(state)
    if not candidates:
        return _redirect(_login_url(_group(state.get("g"))))
    chosen = dict(_choices(candidates)).get(str(form.get("destination", "")))
    if chosen is None:
        return _send_page(request, state, error="Choose where we should send your code.")
    settings = request.app.state.settings
    try:
        with database.atomic():
            row = otp.send_code(chosen.guarantor, chosen.channel, chosen.address, purpose="sign_in",
                                secret_key=settings.secret_key, ip=client_ip(request))
    except otp.RateLimited:
        return _send_page(request, state, status_code=429, rate_limited=chosen.guarantor.group)
    notify.deliver(settings)
    state = {**state, "a": row.attempt, "m": chosen.masked}
    return _with_flow(_redirect("/login/code"), request, state)


# --- step 3: the code ---------------------------------------------------------------------

CODE_MESSAGES = {
    "malformed": "Enter the 6-digit code we sent you.",
    "wrong": "That code is not right. Check it and try again.",
    "locked": "That code was entered wrongly too many times. Ask for a new code.",
    "expired": "That code has expired. Ask for a new code.",
    "used": "That code has already been used. Ask for a new code.",
    "unknown": "That code can no longer be used. Ask for a new code.",
}


def _code_page(request: Request, state: dict, *, check: otp.Check | None = None, status_code: int = 200) -> Response:
    candidates = _candidates(state)
    if not candidates or not state.get("a"):
        return _redirect(_login_url(_group(state.get("g"))))
    return render(request, "signin/code.html", {
        "title": "Enter your code",
        "group": _branding(state, candidates),
        "masked": state.get("m", ""),
        "error": CODE_MESSAGES[check.status] if check else "",
        "tries_left": check.tries_left if check and check.status == "wrong" else None,
        "dead": bool(check) and check.status in {"locked", "expired", "used", "unknown"},
    }, status_code=status_code)


@with_db
def code(request: Request) -> Response:
    return _code_page(request, read_flow(request))


def code_submit(request: Request, form: FormData) -> Response:
    state = read_flow(request)
    settings = request.app.state.settings
    candidates = {g.id for g in _candidates(state)}
    with database.atomic():
        check = otp.check_code(str(state.get("a", "")), str(form.get("code", ""))[:20], purpose="sign_in",
                               secret_key=settings.secret_key)
        if not check.ok or check.code.guarantor_id not in candidates:
            return _code_page(request, state, check=check if not check.ok else otp.Check("unknown"))
        guarantor = check.code.guarantor
        origin, link = "sign_in", None
        quickpay = PatientSession.get_or_none(PatientSession.id == state.get("q")) if state.get("q") else None
        if quickpay is not None and quickpay.guarantor_id == guarantor.id and quickpay.staff_id is None:
            # View Account: the visit keeps the origin it came in by (the report counts entrances),
            # now authenticated by code.
            origin, link = quickpay.origin, quickpay.link
            if quickpay.ended_at is None:
                sessions.end(quickpay, "replaced")
        end_current_patient_session(request)
        token, _ = sessions.start_patient(guarantor, origin, "code", link=link, ip=client_ip(request),
                                          user_agent=request.headers.get("user-agent", ""))
        AuditLog.create(action="sign_in", actor="patient", guarantor=guarantor, ip=client_ip(request)[:64],
                        detail=f"code by {check.code.channel}; origin {origin}")
    response = _redirect(landing_url(guarantor.group))
    set_cookie(response, request, PATIENT_COOKIE, token)
    clear_session_cookie(response, request, FLOW_COOKIE)
    return response


# --- log out ------------------------------------------------------------------------------

def logout(request: Request, form: FormData) -> Response:
    session = patient_session(request, touch=False)
    url = "/logged-out"
    if session is not None:
        sessions.end(session, "logout")
        url = f"/logged-out?group={session.group.code}"
    response = _redirect(url)
    clear_session_cookie(response, request, PATIENT_COOKIE)
    return response


@with_db
def logged_out(request: Request) -> Response:
    group = _group(request.query_params.get("group"))
    return render(request, "logged_out.html", {"title": "You have logged out", "group": group})


# --- the session warning and its extension ------------------------------------------------

def warning_context(request: Request, session: PatientSession | None) -> dict:
    """What _session_warning.html shows: whether to warn, when to ask again, where to come back to."""
    if session is None:
        return {"session_ended": True}
    remaining = sessions.remaining(session)
    warn = sessions.should_warn(session)
    # ask again when the warning is due, or (warning shown) when the session would end
    poll = remaining if warn else remaining - sessions.WARN_BEFORE
    page = request.url.path
    if request.headers.get("hx-request") == "true":
        page = urlsplit(request.headers.get("hx-current-url", "")).path or "/home"
    return {
        "session_ended": False,
        "group": session.group,
        "session_warn": warn,
        "session_poll": max(5, min(int(poll.total_seconds()) + 1, 120)),
        "session_minutes": session.group.session_idle_timeout,
        "next": page,
    }


env.globals["session_warning"] = warning_context


def _warning_fragment(request: Request, session: PatientSession | None) -> Response:
    ctx = {"request": request, "session": session, "csrf_field": CSRF_FIELD, "csrf_token": lambda: csrf_token(request)}
    response = HTMLResponse(env.get_template("_session_warning.html").render(ctx))
    response.headers.append("Vary", "HX-Request")
    return response


@with_db
def session_status(request: Request) -> Response:
    """The warning's current state; asking does not count as activity."""
    return _warning_fragment(request, patient_session(request, touch=False))


def session_extend(request: Request, form: FormData) -> Response:
    session = patient_session(request, touch=False)
    if session is not None:
        sessions.extend(session)
    if request.headers.get("hx-request") == "true":
        return _warning_fragment(request, session)
    back = str(form.get("next", ""))
    if not back.startswith("/") or back.startswith("//"):
        back = "/home"
    return _redirect(back if session is not None else "/login")


routes = [
    Route("/login", login),
    Route("/login", form_endpoint(login_submit), methods=["POST"]),
    Route("/login/send", send),
    Route("/login/send", form_endpoint(send_submit), methods=["POST"]),
    Route("/login/code", code),
    Route("/login/code", form_endpoint(code_submit), methods=["POST"]),
    Route("/logout", form_endpoint(logout), methods=["POST"]),
    Route("/logged-out", logged_out),
    Route("/session/status", session_status),
    Route("/session/extend", form_endpoint(session_extend), methods=["POST"]),
]
