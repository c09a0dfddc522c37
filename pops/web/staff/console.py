"""The staff console's guarantor pages: find, the dashboard, Send Balance Notification, the desk QR."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console, links
from ...ids import parse_id
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render
from .responses import not_found

NOTICES = {"sms": "Text message queued.", "email": "Email queued.", "mirror_ended": "Mirror ended."}


@staff_page
def find(request: Request, staff_session) -> Response:
    fields = {k: request.query_params.get(k, "")[:100] for k in console.SEARCH_FIELDS}
    found = console.search(fields, staff_session.staff, ip=client_ip(request))
    return render(request, "staff/console/find.html", {
        "title": "Find a guarantor", "staff_session": staff_session, "active": "find", "fields": found.fields,
        "results": found.results, "problem": found.problem, "searched": found.searched,
    })


def _revoked_notice(request: Request) -> str:
    """What "Revoke all links" did, from the address it sends staff back to (?revoked=N)."""
    count = parse_id(request.query_params.get("revoked"))
    if count is None:
        return ""
    return "1 link revoked." if count == 1 else f"{count} links revoked."


def _dashboard(request: Request, staff_session, guarantor, *, notice: str = "", error: str = "",
               status_code: int = 200) -> Response:
    board = console.dashboard(guarantor, staff_session.staff, ip=client_ip(request))
    return render(request, "staff/console/dashboard.html", {
        "title": guarantor.legal_name, "staff_session": staff_session, "guarantor": guarantor, "group": board.group,
        "balances": board.balances, "eligibility": board.eligibility, "receipts": board.receipts,
        "texting": board.texting, "reminders": board.reminders, "notice": notice, "error": error,
    }, status_code=status_code)


def _guarantor(request: Request):
    return console.guarantor_by_account(request.path_params["account"])


@staff_page
def dashboard(request: Request, staff_session) -> Response:
    guarantor = _guarantor(request)
    if guarantor is None:
        return not_found(request, staff_session)
    notice = NOTICES.get(request.query_params.get("done", ""), "") or _revoked_notice(request)
    return _dashboard(request, staff_session, guarantor, notice=notice)


@staff_form
def send_notification(request: Request, form: FormData, staff_session) -> Response:
    guarantor = _guarantor(request)
    if guarantor is None:
        return not_found(request, staff_session)
    channel = str(form.get("channel", ""))
    result = console.notify_guarantor(guarantor, channel, staff_session.staff, request.app.state.settings,
                                      ip=client_ip(request))
    if not result.sent:
        return _dashboard(request, staff_session, guarantor, error=result.message, status_code=422)
    return redirect(f"/staff/guarantors/{guarantor.account}?done={channel}")


@staff_form
def desk_qr(request: Request, form: FormData, staff_session) -> Response:
    """A one-use desk QR, shown once (the code is never stored, so this page cannot be shown again)."""
    guarantor = _guarantor(request)
    if guarantor is None:
        return not_found(request, staff_session)
    desk = console.desk_code(guarantor, staff_session.staff, request.app.state.settings, ip=client_ip(request))
    return render(request, "staff/console/desk_qr.html", {
        "title": "Desk QR code", "staff_session": staff_session, "guarantor": guarantor, "group": guarantor.group,
        "code": desk.code, "url": desk.url, "svg": desk.svg, "link": desk.link,
    }, headers={"Cache-Control": "no-store"})


@staff_form
def revoke_links(request: Request, form: FormData, staff_session) -> Response:
    """Revoke all links: every live QuickPay link of the guarantor stops working, and the sessions they opened end."""
    guarantor = _guarantor(request)
    if guarantor is None:
        return not_found(request, staff_session)
    count = links.revoke_all(guarantor, by=staff_session.staff, ip=client_ip(request))
    return redirect(f"/staff/guarantors/{guarantor.account}?revoked={count}")


routes = [
    Route("/staff/find", find),
    Route("/staff/guarantors/{account}", dashboard),
    Route("/staff/guarantors/{account}/notify", send_notification, methods=["POST"]),
    Route("/staff/guarantors/{account}/qr", desk_qr, methods=["POST"]),
    Route("/staff/guarantors/{account}/revoke-links", revoke_links, methods=["POST"]),
]
