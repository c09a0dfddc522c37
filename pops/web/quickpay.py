"""QuickPay: the short link a patient follows, and the one screen that says what they owe."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import links, pay_form
from ..i18n import N_
from ..models import PatientSession
from . import cookies
from .chrome import page, signin_chrome
from .guards import patient_page, patient_session, public, redirect
from .htmx import client_ip
from .render import render

NO_REFERRER = {"Referrer-Policy": "no-referrer"}
ERROR_STATUS = {"unknown": 404, "throttled": 429}  # expired, used up and revoked: 410


@public
def open_link(request: Request) -> Response:
    """/q/CODE: use one access, start a QuickPay session, and leave the code out of the URL."""
    result, token = links.open_quickpay(request.path_params["code"], request.app.state.settings.secret_key,
                                        ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
                                        replacing=patient_session(request, touch=False))
    if not result.ok:
        group = result.link.guarantor.group if result.link else None
        headers = {**NO_REFERRER, "Retry-After": str(result.retry_after)} if result.retry_after else NO_REFERRER
        return render(request, "patient/link_error.html",
                      {"title": N_("This link cannot be used"), "status": result.status, "group": group,
                       "chrome": signin_chrome(group), "wait_minutes": result.wait_minutes},
                      status_code=ERROR_STATUS.get(result.status, 410), headers=headers)
    response = redirect("/quickpay")
    response.headers["Referrer-Policy"] = "no-referrer"
    cookies.set_cookie(response, request, cookies.PATIENT, token)
    return response


@patient_page(quickpay=True, ended_page=True)
def quickpay(request: Request, session: PatientSession) -> Response:
    """What is owed and the pay form (a failed start shows it again: pops.web.portal.pay)."""
    return render(request, "quickpay/page.html", page(session, session.group.name, pay=pay_form.for_session(session, request.app.state.gateway),
                                                       values={}))


routes = [
    Route("/q/{code:path}", open_link),
    Route("/quickpay", quickpay),
]
