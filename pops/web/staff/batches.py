"""Reference batches: the list, one batch (with its CSV), and closing it after review."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console_batches
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render
from .responses import csv_download, not_found

NOTICES = {
    console_batches.CLOSED: "The batch is closed. It will not change again.",
    console_batches.ALREADY_CLOSED: "This batch was already closed.",
}


@staff_page
def batch_list(request: Request, staff_session) -> Response:
    params = request.query_params
    found = console_batches.batch_list(params.get("group", "").strip(), params.get("from"), params.get("to"),
                                       staff_session.staff, ip=client_ip(request))
    return render(request, "staff/batches/list.html", {
        "title": "Reference batches", "staff_session": staff_session, "active": "batches", "groups": found.groups,
        "group_code": found.group_code, "day_from": found.day_from, "day_to": found.day_to, "errors": found.errors,
        "open_batches": found.open_batches, "closed_batches": found.closed_batches,
    }, status_code=422 if found.refused else 400 if found.errors else 200)


def _review_context(staff_session, review: console_batches.Review) -> dict:
    return {"title": f"Batch {review.batch.id}", "staff_session": staff_session, "active": "batches",
            "review": review, "batch": review.batch}


@staff_page
def batch_detail(request: Request, staff_session) -> Response:
    review = console_batches.view(request.path_params["id"], staff_session.staff, ip=client_ip(request))
    if review is None:
        return not_found(request, staff_session)
    return render(request, "staff/batches/detail.html", {
        **_review_context(staff_session, review), "notice": NOTICES.get(request.query_params.get("done", ""), "")})


@staff_page
def batch_csv(request: Request, staff_session) -> Response:
    export = console_batches.export(request.path_params["id"], staff_session.staff, ip=client_ip(request))
    if export is None:
        return not_found(request, staff_session)
    return csv_download(export.text, export.filename)


def _already_closed(batch_id: int) -> Response:
    return redirect(f"/staff/batches/{batch_id}?done={console_batches.ALREADY_CLOSED}")


@staff_page
def batch_close_confirm(request: Request, staff_session) -> Response:
    """The confirm step: the totals being closed, and the one button that closes them."""
    review = console_batches.review(request.path_params["id"])
    if review is None:
        return not_found(request, staff_session)
    if not review.is_open:
        return _already_closed(review.batch.id)
    return render(request, "staff/batches/close.html", _review_context(staff_session, review))


@staff_form
def batch_close(request: Request, form: FormData, staff_session) -> Response:
    batch_id = request.path_params["id"]
    closing = console_batches.close(batch_id, staff_session.staff, str(form.get("fingerprint", "")),
                                    ip=client_ip(request))
    if closing is None:
        return not_found(request, staff_session)
    if closing.outcome == console_batches.ALREADY_CLOSED:
        return _already_closed(batch_id)
    if closing.outcome == console_batches.CHANGED:
        return render(request, "staff/batches/close.html", {
            **_review_context(staff_session, closing.review), "error": closing.message}, status_code=409)
    return redirect(f"/staff/batches/{batch_id}?done={console_batches.CLOSED}")


routes = [
    Route("/staff/batches", batch_list),
    Route("/staff/batches/{id:int}.csv", batch_csv),
    Route("/staff/batches/{id:int}", batch_detail),
    Route("/staff/batches/{id:int}/close", batch_close_confirm, methods=["GET"]),
    Route("/staff/batches/{id:int}/close", batch_close, methods=["POST"]),
]
