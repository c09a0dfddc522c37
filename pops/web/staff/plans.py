"""A guarantor's payment plans for staff: the plan, its instalments and history; cancelling it (with a reason, audited)."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console
from ...plans import autopay, reading, report
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render
from .responses import csv_download, not_found


def _page(request: Request, staff_session, guarantor, *, error: str = "", status_code: int = 200) -> Response:
    return render(request, "staff/plans/plan.html", {
        "title": f"Payment plan · {guarantor.legal_name}", "staff_session": staff_session, "guarantor": guarantor,
        "group": guarantor.group, "current": reading.latest(guarantor), "history": reading.history(guarantor),
        "error": error, "cancelled": request.query_params.get("done") == "cancelled",
        "autopay": autopay.latest(guarantor),
    }, status_code=status_code)


@staff_page
def plan(request: Request, staff_session) -> Response:
    guarantor = console.guarantor_by_account(request.path_params["account"])
    if guarantor is None:
        return not_found(request, staff_session)
    return _page(request, staff_session, guarantor)


@staff_form
def cancel(request: Request, form: FormData, staff_session) -> Response:
    guarantor = console.guarantor_by_account(request.path_params["account"])
    if guarantor is None:
        return not_found(request, staff_session)
    problem = reading.cancel(guarantor, staff_session.staff, str(form.get("reason", "")), ip=client_ip(request))
    if problem:
        return _page(request, staff_session, guarantor, error=problem, status_code=422)
    return redirect(f"/staff/guarantors/{guarantor.account}/plan?done=cancelled")


def _report(request: Request) -> report.Report:
    return report.plans_report(request.query_params.get("group", "")[:32], request.query_params.get("status", "")[:12])


@staff_page
def plans_report(request: Request, staff_session) -> Response:
    """The Payment Plans report: active, on hold, past due, completed, cancelled; amounts scheduled and collected."""
    return render(request, "staff/plans/report.html", {
        "title": "Payment Plans", "staff_session": staff_session, "active": "reports", "report_name": "plans",
        "report": _report(request), "groups": console.groups_by_name(), "statuses": report.STATUSES,
    })


@staff_page
def plans_report_csv(request: Request, staff_session) -> Response:
    return csv_download(report.plans_csv(_report(request)), "payment-plans.csv")


routes = [
    Route("/staff/reports/plans", plans_report),
    Route("/staff/reports/plans.csv", plans_report_csv),
    Route("/staff/guarantors/{account}/plan", plan),
    Route("/staff/guarantors/{account}/plan/cancel", cancel, methods=["POST"]),
]
