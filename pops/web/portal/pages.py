"""The full portal's pages: Home, Account, Appointments, Statements.

Each handler reads the request, asks pops.accounts (which decides ownership) and renders one
template: the whole page on a plain GET, a named block of it when htmx asks.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import accounts, ids, ledger, payments, portal_lists
from ...i18n import N_
from ...plans import joining, page_notices
from ...models import PatientSession
from ..chrome import page
from ..guards import patient_page
from ..htmx import htmx
from ..render import render


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "") in {"1", "on", "true", "all", "yes"}


def paging(request: Request) -> tuple[int, bool]:
    """A paged list's `?shown=` (how many rows) and whether htmx's "Show more" wants only the rows
    past the previous page."""
    more = "shown" in request.query_params and htmx(request).wants_fragment
    return portal_lists.parse_shown(request.query_params.get("shown")), more


def not_found(request: Request, session: PatientSession, active: str, what: str) -> Response:
    """A statement or receipt that is not on the patient's account (or not at all)."""
    return render(request, "portal/not_found.html", page(session, N_("Not found"), active=active, what=what),
                  status_code=404)


@patient_page
def home(request: Request, session: PatientSession) -> Response:
    guarantor = session.guarantor
    pending = payments.unconfirmed(guarantor)  # the database's word: no page waits on the gateway
    account = ledger.read_account(guarantor)  # figures and statements, in one statement
    figures = ledger.balances_for(guarantor, account)
    current = account.latest_statement()
    return render(request, "portal/home.html", page(
        session, N_("Home"), active="/home",
        balances=figures,
        eligibility=ledger.eligibility_for(guarantor, figures),
        pending=pending,
        plan=account.plan,
        plan_added=joining.to_add(figures.current_balance, account.plan),
        plan_notices=page_notices.for_home(account.plan_notices),
        current=current,
        # the "New" rule, as the Statements list asks it (only the latest statement can be New)
        unopened=current if current is not None and portal_lists.is_new(current, account.facts) else None,
    ))


@patient_page
def account(request: Request, session: PatientSession) -> Response:
    guarantor = session.guarantor
    detail = accounts.account_detail(guarantor, history_all=request.query_params.get("history") == "all")
    return render(request, "portal/account.html", page(
        session, N_("Account"), active="/account",
        detail=detail,
        eligibility=ledger.eligibility_for(guarantor, detail.balances),
        plan_added=joining.to_add(detail.balances.current_balance, detail.plan),
    ))


@patient_page
def appointments(request: Request, session: PatientSession) -> Response:
    """The appointments; the patient filter (htmx) swaps the block `lists` alone."""
    if not session.group.enable_appointments:
        return render(request, "portal/appointments.html", page(session, N_("Appointments"), active="/appointments",
                      enabled=False), status_code=404)
    raw = request.query_params.get("patient", "")
    patient_id = ids.parse_id(raw)
    return render(request, "portal/appointments.html", page(
        session, N_("Appointments"), active="/appointments",
        enabled=True,
        found=accounts.appointments_for(session.guarantor, patient_id),
    ), block="lists")


@patient_page
def statements(request: Request, session: PatientSession) -> Response:
    """The first `?shown=` statements (20 unless asked); the Hide Paid filter (htmx) swaps the block
    `list` alone, and htmx's "Show more" gets the block `more`: the next rows and the link after them."""
    hide_paid = _flag(request, "hide_paid")
    shown, more = paging(request)
    return render(request, "portal/statements.html", page(
        session, N_("Statements"), active="/statements",
        listing=portal_lists.statements_page(session.guarantor, shown, hide_paid=hide_paid, new_only=more),
        hide_paid=hide_paid,
    ), block="more" if more else "list")


@patient_page
def statement(request: Request, session: PatientSession) -> Response:
    found = accounts.get_statement(request.path_params["number"], session.guarantor)
    if found is None:
        return not_found(request, session, "/statements", "statement")
    accounts.mark_viewed(found, session)
    return render(request, "portal/statement.html", page(
        session, N_("Statement"), active="/statements", detail=accounts.statement_detail(found),
    ))


routes = [
    Route("/home", home),
    Route("/account", account),
    Route("/appointments", appointments),
    Route("/statements", statements),
    Route("/statements/{number}", statement),
]
