"""Patient sign-in (/login): name and date of birth, a code to the mobile or email on file, a new session.

The flow's state (candidate guarantors, the attempt id) sits in a signed, short-lived cookie,
never in the URL. Also log out, and the session warning and extension of portal pages.
"""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import dates, groups, otp, sessions, signin
from ..contacts import Destination, destinations
from ..i18n import N_
from ..models import Group, Guarantor, PatientSession
from . import cookies, forms
from .chrome import page, signin_chrome
from .guards import patient_session, public, public_form, redirect
from .htmx import client_ip, htmx
from .render import render

FLOW_MAX_AGE = 30 * 60  # seconds: name, choice and code within half an hour

MSG_MISSING = N_("Enter the first name, last name and date of birth as your practice has them.")
MSG_DATE_OF_BIRTH = N_("Enter the date of birth as MM/DD/YYYY.")
MSG_TOO_MANY_LOOKUPS = N_("Too many sign-in tries from this device. Please wait an hour and try again.")
MSG_NOT_FOUND = N_("We could not find an account with those details. Check the spelling against your "
                   "statement and your date of birth, and try again.")
MSG_CHOOSE = N_("Choose where we should send your code.")
CODE_MESSAGES = {
    "malformed": N_("Enter the 6-digit code we sent you."),
    "wrong": N_("That code is not right. Check it and try again."),
    "locked": N_("That code was entered wrongly too many times. Ask for a new code."),
    "expired": N_("That code has expired. Ask for a new code."),
    "used": N_("That code has already been used. Ask for a new code."),
    "unknown": N_("That code can no longer be used. Ask for a new code."),
}
DEAD = {"locked", "expired", "used", "unknown"}  # a code that cannot be tried again


# --- the flow's signed state --------------------------------------------------------------

def read_flow(request: Request) -> dict:
    """The sign-in in progress: c (candidate guarantor ids), g (group code), q (QuickPay session id),
    a (attempt), m (where the code went, masked), n (the page View Account leads to: AFTER_VIEW_ACCOUNT)."""
    return cookies.read_signed(request, cookies.SIGNIN_FLOW, "signin", max_age=FLOW_MAX_AGE)


def _with_flow(response: Response, request: Request, state: dict) -> Response:
    cookies.set_signed(response, request, cookies.SIGNIN_FLOW, "signin", state)
    return response


def _candidates(state: dict) -> list[Guarantor]:
    return signin.candidates([i for i in state.get("c", []) if isinstance(i, int)])


def _branding(state: dict, candidates: list[Guarantor]) -> Group | None:
    """The practice to brand the page with: the one asked for, or the only one the candidates share."""
    group = groups.by_code(state.get("g"))
    if group is None and candidates and len({g.group_id for g in candidates}) == 1:
        group = candidates[0].group
    return group


def _page(request: Request, template: str, group: Group | None, title: str, *, status_code: int = 200,
          **context) -> Response:
    return render(request, template, {"title": title, "group": group, "chrome": signin_chrome(group), **context},
                  status_code=status_code)


def _start_over(state: dict) -> Response:
    return redirect(signin_chrome(groups.by_code(state.get("g"))).home_url)


AFTER_VIEW_ACCOUNT = ("/pay/plan",)  # where QuickPay's View Account may lead once the code is checked


# --- step 1: who are you ------------------------------------------------------------------

@public
def login(request: Request) -> Response:
    """/login: the name and date-of-birth form; with ?view_account=1 a QuickPay session skips it."""
    if request.query_params.get("view_account"):
        session = patient_session(request)
        if session is not None and session.quickpay:
            if session.staff_id:  # a page of the QuickPay mirror: its chrome
                return render(request, "signin/mirror.html", page(session, N_("Staff view")))
            state = {"c": [session.guarantor_id], "g": session.group.code, "q": session.id}
            if request.query_params.get("next") in AFTER_VIEW_ACCOUNT:
                state["n"] = request.query_params["next"]
            return _with_flow(redirect("/login/send"), request, state)
    return _login_page(request, groups.by_code(request.query_params.get("group", "").strip()))


def _login_page(request: Request, group: Group | None, *, error: str = "", values: dict | None = None,
                status_code: int = 200) -> Response:
    return _page(request, "signin/login.html", group, N_("Sign in"), error=error, values=values or {},
                 status_code=status_code)


@public_form
def login_submit(request: Request, form: FormData) -> Response:
    group = groups.by_code(str(form.get("group", "")).strip())
    values = {k: forms.text(form, k) for k in ("first_name", "last_name", "date_of_birth")}
    if not all(values.values()):
        return _login_page(request, group, values=values, error=MSG_MISSING)
    date_of_birth = dates.parse_date(values["date_of_birth"])
    if date_of_birth is None:
        return _login_page(request, group, values=values, error=MSG_DATE_OF_BIRTH)
    candidates = signin.look_up(values["first_name"], values["last_name"], date_of_birth, group, client_ip(request))
    if candidates is None:
        return _login_page(request, group, values=values, status_code=429, error=MSG_TOO_MANY_LOOKUPS)
    reachable = [g for g in candidates if destinations(g)]
    if not reachable:
        if candidates:  # a match with no mobile and no email: only the practice can help
            return _page(request, "signin/no_contact.html", _branding({}, candidates), N_("Sign in"))
        return _login_page(request, group, values=values, error=MSG_NOT_FOUND)
    state = {"c": [g.id for g in reachable], "g": group.code if group else ""}
    return _with_flow(redirect("/login/send"), request, state)


# --- step 2: where should the code go -----------------------------------------------------

def _choices(candidates: list[Guarantor]) -> list[tuple[str, Destination]]:
    return [(f"{i}:{d.channel}", d) for i, g in enumerate(candidates) for d in destinations(g)]


def _send_page(request: Request, state: dict, *, error: str = "", limited: otp.RateLimited | None = None,
               practice: Group | None = None) -> Response:
    """The choice of where the code goes; after the hourly code limit, when the next code may be
    asked for (in `practice`'s time zone) on the same page, a normal answer the form shows."""
    candidates = _candidates(state)
    if not candidates:
        return _start_over(state)
    return _page(request, "signin/send.html", _branding(state, candidates), N_("Get a sign-in code"),
                 choices=_choices(candidates),
                 several_practices=len({g.group_id for g in candidates}) > 1,
                 view_account=bool(state.get("q")),
                 error=error,
                 limited=limited,
                 limited_practice=practice)


@public
def send(request: Request) -> Response:
    return _send_page(request, read_flow(request))


@public_form
def send_submit(request: Request, form: FormData) -> Response:
    state = read_flow(request)
    candidates = _candidates(state)
    if not candidates:
        return _start_over(state)
    chosen = dict(_choices(candidates)).get(str(form.get("destination", "")))
    if chosen is None:
        return _send_page(request, state, error=MSG_CHOOSE)
    settings = request.app.state.settings
    try:
        row = signin.send_code(chosen, secret_key=settings.secret_key, ip=client_ip(request))
    except otp.RateLimited as limited:
        return _send_page(request, state, limited=limited, practice=chosen.guarantor.group)
    return _with_flow(redirect("/login/code"), request, {**state, "a": row.attempt, "m": chosen.masked})


# --- step 3: the code ---------------------------------------------------------------------

def _code_page(request: Request, state: dict, *, check: otp.Check | None = None) -> Response:
    candidates = _candidates(state)
    if not candidates or not state.get("a"):
        return _start_over(state)
    return _page(request, "signin/code.html", _branding(state, candidates), N_("Enter your code"),
                 masked=state.get("m", ""),
                 error=CODE_MESSAGES[check.status] if check else "",
                 tries_left=check.tries_left if check and check.status == "wrong" else None,
                 dead=bool(check) and check.status in DEAD,
                 refused=signin.text_refused(str(state["a"])))


@public
def code(request: Request) -> Response:
    return _code_page(request, read_flow(request))


@public_form
def code_submit(request: Request, form: FormData) -> Response:
    state = read_flow(request)
    done = signin.finish(
        str(state.get("a", "")), str(form.get("code", ""))[:20],
        candidate_ids=[g.id for g in _candidates(state)], quickpay_session_id=state.get("q"),
        secret_key=request.app.state.settings.secret_key, replacing=patient_session(request, touch=False),
        ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
    )
    if not done.ok:
        return _code_page(request, state, check=done.check)
    response = redirect(state.get("n") if state.get("n") in AFTER_VIEW_ACCOUNT else done.guarantor.group.landing_path)
    cookies.set_cookie(response, request, cookies.PATIENT, done.token)
    cookies.clear_cookie(response, request, cookies.SIGNIN_FLOW)
    return response


# --- log out ------------------------------------------------------------------------------

@public_form
def logout(request: Request, form: FormData) -> Response:
    session = patient_session(request, touch=False)
    url = "/logged-out"
    if session is not None:
        sessions.end(session, "logout")
        url = f"/logged-out?group={session.group.code}"
    response = redirect(url)
    cookies.clear_cookie(response, request, cookies.PATIENT)
    return response


@public
def logged_out(request: Request) -> Response:
    return _page(request, "signin/logged_out.html", groups.by_code(request.query_params.get("group", "").strip()),
                 N_("You have logged out"))


# --- the session warning and its extension ------------------------------------------------

def _warning(request: Request, session: PatientSession | None) -> Response:
    return render(request, "patient/session_warning.html", {"session": session}, block="warning", fragment=True)


@public
def session_status(request: Request) -> Response:
    """The warning's current state; asking does not count as activity."""
    return _warning(request, patient_session(request, touch=False))


@public_form
def session_extend(request: Request, form: FormData) -> Response:
    session = patient_session(request, touch=False)
    if session is not None:
        sessions.extend(session)
    if htmx(request).request:
        return _warning(request, session)
    back = str(form.get("next", ""))
    if not back.startswith("/") or back.startswith("//"):
        back = "/home"
    return redirect(back if session is not None else "/login")


routes = [
    Route("/login", login),
    Route("/login", login_submit, methods=["POST"]),
    Route("/login/send", send),
    Route("/login/send", send_submit, methods=["POST"]),
    Route("/login/code", code),
    Route("/login/code", code_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/logged-out", logged_out),
    Route("/session/status", session_status),
    Route("/session/extend", session_extend, methods=["POST"]),
]
