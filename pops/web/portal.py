"""The full portal's pages: Home, Account, Appointments, Receipts, Statements.

Each handler reads the request, asks pops.accounts (which decides ownership) and renders one
template: the whole page on a plain GET, its `content` block when htmx asks.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import accounts, ledger, payments
from ..models import PatientSession
from .auth import portal_page
from .templating import htmx, render


def _page(session: PatientSession, active: str, title: str, **context) -> dict:
    return {"session": session, "guarantor": session.guarantor, "group": session.group, "active": active,
            "title": title, **context}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "") in {"1", "on", "true", "all", "yes"}


def _not_found(request: Request, session: PatientSession, active: str, what: str) -> Response:
    return render(request, "portal/not_found.html", _page(session, active, "Not found", what=what), status_code=404)


@portal_page
def home(request: Request, session: PatientSession) -> Response:
    guarantor = session.guarantor
    pending = payments.unconfirmed(request.app.state.gateway, guarantor)  # settles finished ones first
    figures = ledger.balances_for(guarantor)
    return render(request, "portal/home.html", _page(
        session, "/home", "Home",
        balances=figures,
        eligibility=ledger.eligibility_for(guarantor, figures),
        pending=pending,
        current=accounts.latest_statement(guarantor),
        unopened=accounts.newest_unopened_statement(guarantor),
    ))


@portal_page
def account(request: Request, session: PatientSession) -> Response:
    guarantor = session.guarantor
    detail = accounts.account_detail(guarantor, history_all=request.query_params.get("history") == "all")
    return render(request, "portal/account.html", _page(
        session, "/account", "Account",
        detail=detail,
        eligibility=ledger.eligibility_for(guarantor, detail.balances),
    ))


@portal_page
def appointments(request: Request, session: PatientSession) -> Response:
    if not session.group.enable_appointments:
        return render(request, "portal/appointments.html", _page(session, "/appointments", "Appointments",
                      enabled=False), status_code=404)
    raw = request.query_params.get("patient", "")
    patient_id = int(raw) if raw.isdigit() and len(raw) < 12 else None
    return render(request, "portal/appointments.html", _page(
        session, "/appointments", "Appointments",
        enabled=True,
        found=accounts.appointments_for(session.guarantor, patient_id),
    ))


@portal_page
def receipts(request: Request, session: PatientSession) -> Response:
    pending = payments.unconfirmed(request.app.state.gateway, session.guarantor)
    return render(request, "portal/receipts.html", _page(
        session, "/receipts", "Receipts", rows=accounts.receipts_for(session.guarantor), pending=pending,
        tz=ZoneInfo(session.group.timezone),
    ))


@portal_page
def receipt_detail(request: Request, session: PatientSession) -> Response:
    """A receipt's patient, provider, location, service and transactions: the fragment a row expands
    into (htmx), or a page of its own (no JavaScript)."""
    receipt = accounts.get_receipt(request.path_params["number"], session.guarantor)
    if receipt is None:
        return _not_found(request, session, "/receipts", "receipt")
    block = "detail" if htmx(request).wants_fragment else "content"
    return render(request, "portal/receipt_detail.html", _page(
        session, "/receipts", f"Receipt {receipt.number}", detail=accounts.receipt_detail(receipt),
    ), block=block)


@portal_page
def statements(request: Request, session: PatientSession) -> Response:
    hide_paid = _flag(request, "hide_paid")
    return render(request, "portal/statements.html", _page(
        session, "/statements", "Statements",
        rows=accounts.statements_for(session.guarantor, hide_paid=hide_paid),
        hide_paid=hide_paid,
    ))


@portal_page
def statement(request: Request, session: PatientSession) -> Response:
    found = accounts.get_statement(request.path_params["number"], session.guarantor)
    if found is None:
        return _not_found(request, session, "/statements", "statement")
    accounts.mark_viewed(found, session)
    return render(request, "portal/statement.html", _page(
        session, "/statements", f"Statement {found.number}", detail=accounts.statement_detail(found),
    ))


routes = [
    Route("/home", home),
    Route("/account", account),
    Route("/appointments", appointments),
    Route("/receipts", receipts),
    Route("/receipts/{number}/detail", receipt_detail),
    Route("/statements", statements),
    Route("/statements/{number}", statement),
]
