"""A guarantor's payment plans for staff: the plan, its instalments and history; cancelling it (with a reason, audited)."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console
from ...plans import reading
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render
from .responses import not_found


def _page(request: Request, staff_session, guarantor, *, error: str = "", status_code: int = 200) -> Response:
    return render(request, "staff/plans/plan.html", {
        "title": f"Payment plan · {guarantor.legal_name}", "staff_session": staff_session, "guarantor": guarantor,
        "group": guarantor.group, "current": reading.latest(guarantor), "history": reading.history(guarantor),
        "error": error, "cancelled": request.query_params.get("done") == "cancelled",
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


routes = [
    Route("/staff/guarantors/{account}/plan", plan),
    Route("/staff/guarantors/{account}/plan/cancel", cancel, methods=["POST"]),
]
