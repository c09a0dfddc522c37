"""The requests queue: patients' Register / Modify a Patient requests and contact changes, marked handled."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import requests_queue
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render

NOTICES = {"handled": "Marked handled.", "already_handled": "That was already handled."}


@staff_page
def requests_page(request: Request, staff_session) -> Response:
    show_all = request.query_params.get("show") == "all"
    queue = requests_queue.queue(staff_session.staff, include_handled=show_all, ip=client_ip(request))
    return render(request, "staff/requests/queue.html", {
        "title": "Requests", "staff_session": staff_session, "active": "requests", "show_all": show_all,
        "requests": queue.requests, "contacts": queue.contacts,
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
    })


def _handled(done: bool) -> Response:
    return redirect(f"/staff/requests?done={'handled' if done else 'already_handled'}")


@staff_form
def request_handled(request: Request, form: FormData, staff_session) -> Response:
    return _handled(requests_queue.mark_request_handled(request.path_params["id"], staff_session.staff,
                                                        ip=client_ip(request)))


@staff_form
def contact_handled(request: Request, form: FormData, staff_session) -> Response:
    return _handled(requests_queue.mark_contact_handled(request.path_params["id"], staff_session.staff,
                                                        ip=client_ip(request)))


routes = [
    Route("/staff/requests", requests_page),
    Route("/staff/requests/{id:int}/handled", request_handled, methods=["POST"]),
    Route("/staff/requests/contacts/{id:int}/handled", contact_handled, methods=["POST"]),
]
