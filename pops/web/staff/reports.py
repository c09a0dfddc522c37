"""The POPS Payments and Session Usage reports, on the page and as CSV."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ... import console_reports, reports
from ...console_reports import PAYMENTS, SESSIONS
from ..guards import staff_page
from ..htmx import client_ip
from ..render import render
from .responses import csv_download


TITLES = {PAYMENTS: "POPS Payments", SESSIONS: "Session Usage"}
CSV_FILES = {PAYMENTS: "pops-payments.csv", SESSIONS: "pops-session-usage.csv"}


def _page(request: Request, staff_session, name: str) -> Response:
    page = console_reports.page(name, request.query_params, staff_session.staff, ip=client_ip(request))
    return render(request, f"staff/reports/{name}.html", {
        "title": TITLES[name], "staff_session": staff_session, "active": "reports", "report_name": name,
        "filters": page.filters, "errors": page.errors, "report": page.report, "groups": page.groups,
        "csv_url": f"/staff/reports/{name}.csv?{page.query}", **page.choices,
    }, status_code=422 if page.refused else 200)


def _csv(request: Request, staff_session, name: str) -> Response:
    try:
        text = console_reports.csv(name, request.query_params, staff_session.staff, ip=client_ip(request))
    except reports.DateOutOfRange as exc:
        return PlainTextResponse(str(exc), status_code=422)
    return csv_download(text, CSV_FILES[name])


@staff_page
def payments_report(request: Request, staff_session) -> Response:
    return _page(request, staff_session, PAYMENTS)


@staff_page
def payments_csv(request: Request, staff_session) -> Response:
    return _csv(request, staff_session, PAYMENTS)


@staff_page
def sessions_report(request: Request, staff_session) -> Response:
    return _page(request, staff_session, SESSIONS)


@staff_page
def sessions_csv(request: Request, staff_session) -> Response:
    return _csv(request, staff_session, SESSIONS)


routes = [
    Route("/staff/reports/payments", payments_report),
    Route("/staff/reports/payments.csv", payments_csv),
    Route("/staff/reports/sessions", sessions_report),
    Route("/staff/reports/sessions.csv", sessions_csv),
]
