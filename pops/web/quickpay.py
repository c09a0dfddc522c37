"""QuickPay: the short link a patient follows, and the one screen that says what they owe."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import links, sessions
from .pay import pay_context
from .auth import PATIENT_COOKIE, end_current_patient_session, patient_session, set_cookie
from .templating import render
from .util import client_ip, with_db

NO_REFERRER = {"Referrer-Policy": "no-referrer"}


@with_db
def open_link(request: Request) -> Response:
    """/q/CODE: use one access, start a QuickPay session, and leave the code out of the URL."""
    settings = request.app.state.settings
    result = links.redeem(request.path_params["code"], settings.secret_key)
    if not result.ok:
        group = result.link.guarantor.group if result.link else None
        status_code = 404 if result.status == "unknown" else 410
        return render(request, "link_error.html", {"title": "This link cannot be used", "status": result.status,
                      "group": group}, status_code=status_code, headers=NO_REFERRER)
    link = result.link
    end_current_patient_session(request)
    token, _ = sessions.start_patient(
        link.guarantor, links.ORIGIN_OF_PURPOSE[link.purpose], "quickpay", quickpay=True, link=link,
        ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
    )
    response = RedirectResponse("/quickpay", status_code=303, headers=NO_REFERRER)
    set_cookie(response, request, PATIENT_COOKIE, token)
    return response


@with_db
def quickpay(request: Request) -> Response:
    session = patient_session(request)
    if session is None:
        return render(request, "session_ended.html", {"title": "Your session has ended"}, status_code=401)
    sessions.record_page(session, request.url.path)
    return render(request, "quickpay.html", pay_context(session))


routes = [
    Route("/q/{code:path}", open_link),
    Route("/quickpay", quickpay),
]
