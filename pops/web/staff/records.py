"""What POPS kept: the outbox (every text and email) and the audit log (admins only)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import audit, console, ids
from ..guards import staff_page
from ..htmx import client_ip
from ..render import render


@staff_page
def outbox(request: Request, staff_session) -> Response:
    messages = console.outbox(staff_session.staff, ip=client_ip(request))
    return render(request, "staff/records/outbox.html", {
        "title": "Outbox", "staff_session": staff_session, "active": "outbox", "messages": messages,
        "page_size": console.OUTBOX_PAGE,
    })


@staff_page(admin=True)
def audit_page(request: Request, staff_session) -> Response:
    rows = audit.recent(before_id=ids.parse_id(request.query_params.get("before")))
    return render(request, "staff/records/audit.html", {
        "title": "Audit log", "staff_session": staff_session, "active": "audit", "rows": rows,
    })


routes = [
    Route("/staff/outbox", outbox),
    Route("/staff/audit", audit_page),
]
