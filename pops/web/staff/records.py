"""What POPS kept: the outbox (every text and email) and the audit log (admins only)."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import audit, console, ids
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render


@staff_page
def outbox(request: Request, staff_session) -> Response:
    messages = console.outbox(staff_session.staff, ip=client_ip(request))
    return render(request, "staff/records/outbox.html", {
        "title": "Outbox", "staff_session": staff_session, "active": "outbox", "messages": messages,
        "page_size": console.OUTBOX_PAGE,
    })


@staff_form
def outbox_retry(request: Request, form: FormData, staff_session) -> Response:
    """Retry a failed message: back in the outbox, the job runner tries it again (recorded)."""
    console.retry_message(ids.parse_id(request.path_params["id"]), staff_session.staff, ip=client_ip(request))
    return redirect("/staff/outbox")


@staff_page(admin=True)
def audit_page(request: Request, staff_session) -> Response:
    rows = audit.recent(before_id=ids.parse_id(request.query_params.get("before")))
    return render(request, "staff/records/audit.html", {
        "title": "Audit log", "staff_session": staff_session, "active": "audit", "rows": rows,
    })


routes = [
    Route("/staff/outbox", outbox),
    Route("/staff/outbox/{id}/retry", outbox_retry, methods=["POST"]),
    Route("/staff/audit", audit_page),
]
