"""Mirror: staff see a guarantor's QuickPay or portal exactly as the patient does, in this browser."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console
from .. import cookies, forms
from ..guards import patient_session, public, redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render


def _form(request: Request, staff_session, *, group_code: str = "", account: str = "", quickpay: bool = False,
          error: str = "", status_code: int = 200) -> Response:
    return render(request, "staff/mirror/form.html", {
        "title": "Mirror", "staff_session": staff_session, "active": "mirror", "groups": console.groups_by_name(),
        "group_code": group_code, "account": account, "quickpay": quickpay, "error": error,
    }, status_code=status_code)


@staff_page
def mirror_page(request: Request, staff_session) -> Response:
    account = request.query_params.get("guarantor", "")[:64]
    group_code = request.query_params.get("group", "")[:32]
    if account and not group_code:
        guarantor = console.guarantor_by_account(account)
        group_code = guarantor.group.code if guarantor else ""
    return _form(request, staff_session, group_code=group_code, account=account)


@staff_form
def mirror_start(request: Request, form: FormData, staff_session) -> Response:
    group_code = str(form.get("group", ""))[:32]
    account = forms.text(form, "guarantor", 64)
    simulate = form.get("quickpay") in ("on", "1", "true")
    guarantor = console.mirror_guarantor(group_code, account)
    if guarantor is None:
        return _form(request, staff_session, group_code=group_code, account=account, quickpay=simulate,
                     error="No guarantor with that account in that group.", status_code=422)
    token, landing = console.start_mirror(
        guarantor, staff_session.staff, quickpay=simulate, replacing=patient_session(request, touch=False),
        ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
    response = redirect(landing)
    cookies.set_cookie(response, request, cookies.PATIENT, token)
    return response


@public
def mirror_end(request: Request) -> Response:
    """The banner's way out: ends this browser's mirror session, back to the guarantor's dashboard.

    Public so that it works even when the staff session has lapsed (the dashboard then asks for
    sign-in): a mirror never outlives its way out. A patient's own session is never ended here.
    """
    session = patient_session(request, touch=False)
    if session is not None and session.staff_id is not None:
        account = console.end_mirror(session, ip=client_ip(request))
        response = redirect(f"/staff/guarantors/{account}?done=mirror_ended")
        cookies.clear_cookie(response, request, cookies.PATIENT)
        return response
    response = redirect("/staff/find")
    if session is None:
        cookies.clear_cookie(response, request, cookies.PATIENT)
    return response


routes = [
    Route("/staff/mirror", mirror_page, methods=["GET"]),
    Route("/staff/mirror", mirror_start, methods=["POST"]),
    Route("/staff/mirror/end", mirror_end),
]
