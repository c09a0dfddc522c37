"""Staff console: reference batches (close, CSV), the POPS Payments and Session Usage reports, the requests queue,
and a receipt with its Refund form."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import batches, payments, reports, requests_queue
from ..audit import audit
from ..db import database
from ..models import SESSION_ORIGINS, Encounter, Group, Guarantor, Receipt, ReceiptApplication, ReferenceBatch, Transaction
from ..money import format_money, parse_amount_input
from .staff_auth import staff_form, staff_page
from .templating import render

CSV_TYPE = "text/csv; charset=utf-8"
NOTICES = {
    "closed": "The batch is closed. It will not change again.",
    "already_closed": "This batch was already closed.",
    "handled": "Marked handled.",
    "already_handled": "That was already handled.",
}


def _csv(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type=CSV_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _not_found(request: Request, staff_session) -> Response:
    return render(request, "staff/not_found.html", {"title": "Not found", "staff_session": staff_session},
                  status_code=404)


def _groups() -> list[Group]:
    return list(Group.select().order_by(Group.code))


def _batch(request: Request) -> ReferenceBatch | None:
    return (ReferenceBatch.select(ReferenceBatch, Group).join(Group)
            .where(ReferenceBatch.id == request.path_params["id"]).get_or_none())


# --- reference batches ----------------------------------------------------------------------

@staff_page
def batch_list(request: Request, staff_session) -> Response:
    params = request.query_params
    errors: list[str] = []
    group_code = params.get("group", "").strip()
    group = Group.get_or_none(Group.code == group_code) if group_code else None
    if group_code and group is None:
        errors.append(f"There is no group {group_code}.")
    day_from = reports.parse_date(params.get("from"), "From", errors)
    day_to = reports.parse_date(params.get("to"), "To", errors)
    if day_from is None and day_to is None and not params.get("from") and not params.get("to"):
        day_to = reports.practice_today(group)
        day_from = day_to - dt.timedelta(days=13)
    open_batches = [] if errors else batches.list_batches(group=group, status="open")
    closed_batches = [] if errors else batches.list_batches(group=group, day_from=day_from, day_to=day_to,
                                                             status="closed")
    audit(staff_session.staff, "view_batches", request=request)
    return render(request, "staff/batches.html", {
        "title": "Reference batches", "staff_session": staff_session, "active": "batches", "groups": _groups(),
        "group_code": group_code, "day_from": day_from, "day_to": day_to, "errors": errors,
        "open_batches": open_batches, "closed_batches": closed_batches,
    }, status_code=400 if errors else 200)


def _batch_context(request: Request, staff_session, batch: ReferenceBatch) -> dict:
    rows = batches.rows_for(batch)
    closed = batch.closed_at.astimezone(ZoneInfo(batch.group.timezone)) if batch.closed_at else None
    return {
        "title": f"Batch {batch.id}", "staff_session": staff_session, "active": "batches", "batch": batch,
        "rows": rows, "totals": batches.totals(rows), "fingerprint": batches.fingerprint(rows),
        "closed_local": closed.strftime("%Y-%m-%d %H:%M %Z") if closed else "",
    }


@staff_page
def batch_detail(request: Request, staff_session) -> Response:
    batch = _batch(request)
    if batch is None:
        return _not_found(request, staff_session)
    audit(staff_session.staff, "view_batch", detail=f"batch {batch.id}", request=request)
    context = _batch_context(request, staff_session, batch)
    context["notice"] = NOTICES.get(request.query_params.get("done", ""), "")
    return render(request, "staff/batches_detail.html", context)


@staff_page
def batch_csv(request: Request, staff_session) -> Response:
    batch = _batch(request)
    if batch is None:
        return _not_found(request, staff_session)
    audit(staff_session.staff, "export_batch", detail=f"batch {batch.id}", request=request)
    return _csv(batches.export_csv(batch), f"pops-batch-{batch.id}-{batch.batch_date.isoformat()}.csv")


@staff_page
def batch_close_confirm(request: Request, staff_session) -> Response:
    """The confirm step: the totals being closed, and the one button that closes them."""
    batch = _batch(request)
    if batch is None:
        return _not_found(request, staff_session)
    if batch.status != "open":
        return RedirectResponse(f"/staff/batches/{batch.id}?done=already_closed", status_code=303)
    return render(request, "staff/batches_close.html", _batch_context(request, staff_session, batch))


@staff_form
def batch_close(request: Request, form: FormData, staff_session) -> Response:
    batch = _batch(request)
    if batch is None:
        return _not_found(request, staff_session)
    try:
        batches.close(batch, staff_session.staff, expected=str(form.get("fingerprint", "")))
    except batches.BatchClosed:
        return RedirectResponse(f"/staff/batches/{batch.id}?done=already_closed", status_code=303)
    except batches.BatchChanged as exc:
        audit(staff_session.staff, "close_batch_refused", detail=f"batch {batch.id}: changed since review",
              request=request)
        context = _batch_context(request, staff_session, _batch(request))
        context["error"] = str(exc)
        return render(request, "staff/batches_close.html", context, status_code=409)
    audit(staff_session.staff, "close_batch", detail=f"batch {batch.id} of {batch.batch_date.isoformat()}",
          request=request)
    return RedirectResponse(f"/staff/batches/{batch.id}?done=closed", status_code=303)


# --- reports --------------------------------------------------------------------------------

def _payments(request: Request):
    filters, errors = reports.PaymentFilters.from_params(request.query_params)
    return filters, errors, reports.payments_report(filters)


@staff_page
def payments_report(request: Request, staff_session) -> Response:
    filters, errors, report = _payments(request)
    audit(staff_session.staff, "run_report", detail=f"payments {urlencode(filters.params())}", request=request)
    return render(request, "staff/reports_payments.html", {
        "title": "POPS Payments", "staff_session": staff_session, "active": "reports", "report_name": "payments", "filters": filters,
        "errors": errors, "report": report, "groups": _groups(), "card_types": reports.card_types(),
        "bases": reports.BASES, "kinds": reports.KINDS, "groupings": reports.PAYMENT_GROUPINGS,
        "csv_url": "/staff/reports/payments.csv?" + urlencode(filters.params()),
    })


@staff_page
def payments_csv(request: Request, staff_session) -> Response:
    filters, errors, report = _payments(request)
    audit(staff_session.staff, "export_report", detail=f"payments {urlencode(filters.params())}", request=request)
    return _csv(report.csv(), "pops-payments.csv")


def _sessions(request: Request):
    filters, errors = reports.SessionFilters.from_params(request.query_params)
    return filters, errors, reports.session_report(filters)


@staff_page
def sessions_report(request: Request, staff_session) -> Response:
    filters, errors, report = _sessions(request)
    audit(staff_session.staff, "run_report", detail=f"sessions {urlencode(filters.params())}", request=request)
    return render(request, "staff/reports_sessions.html", {
        "title": "Session Usage", "staff_session": staff_session, "active": "reports", "report_name": "sessions", "filters": filters,
        "errors": errors, "report": report, "groups": _groups(), "origins": SESSION_ORIGINS,
        "origin_labels": reports.ORIGIN_LABELS, "periods": reports.PERIODS,
        "csv_url": "/staff/reports/sessions.csv?" + urlencode(filters.params()),
    })


@staff_page
def sessions_csv(request: Request, staff_session) -> Response:
    filters, errors, report = _sessions(request)
    audit(staff_session.staff, "export_report", detail=f"sessions {urlencode(filters.params())}", request=request)
    return _csv(report.csv(), "pops-session-usage.csv")


# --- the requests queue -----------------------------------------------------------------------

@staff_page
def requests_page(request: Request, staff_session) -> Response:
    show_all = request.query_params.get("show") == "all"
    audit(staff_session.staff, "view_requests", request=request)
    return render(request, "staff/requests.html", {
        "title": "Requests", "staff_session": staff_session, "active": "requests", "show_all": show_all,
        "requests": requests_queue.patient_requests(include_handled=show_all),
        "contacts": requests_queue.contact_items(include_handled=show_all),
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
    })


@staff_form
def request_handled(request: Request, form: FormData, staff_session) -> Response:
    with database.atomic():
        done = requests_queue.mark_request_handled(request.path_params["id"], staff_session.staff, http_request=request)
    return RedirectResponse(f"/staff/requests?done={'handled' if done else 'already_handled'}", status_code=303)


@staff_form
def contact_handled(request: Request, form: FormData, staff_session) -> Response:
    with database.atomic():
        done = requests_queue.mark_contact_handled(request.path_params["id"], staff_session.staff, http_request=request)
    return RedirectResponse(f"/staff/requests?done={'handled' if done else 'already_handled'}", status_code=303)


# --- a receipt, and its refund --------------------------------------------------------------

def _receipt(request: Request) -> Receipt | None:
    return (Receipt.select(Receipt, Guarantor, Group).join(Guarantor).join(Group)
            .where(Receipt.number == request.path_params["number"]).get_or_none())


def _refundable(receipt: Receipt):
    left = receipt.amount - receipt.refunded_amount
    ok = receipt.source == "pops" and receipt.status in ("paid", "partially_refunded") and left > 0
    return ok, left


def _receipt_page(request: Request, staff_session, receipt: Receipt, *, error: str = "", amount: str = "",
                  notice: str = "", status_code: int = 200, refund_key: str | None = None) -> Response:
    refundable, left = _refundable(receipt)
    tz = ZoneInfo(receipt.guarantor.group.timezone)
    transactions = list(Transaction.select().where(Transaction.receipt == receipt)
                        .order_by(Transaction.created_at, Transaction.id))
    applications = list(ReceiptApplication.select(ReceiptApplication, Encounter).join(Encounter)
                        .where(ReceiptApplication.receipt == receipt).order_by(ReceiptApplication.id))
    return render(request, "staff/receipt.html", {
        "title": f"Receipt {receipt.number}", "staff_session": staff_session, "active": "batches",
        "receipt": receipt, "guarantor": receipt.guarantor, "group": receipt.guarantor.group, "tz": tz,
        "transactions": transactions, "applications": applications, "refundable": refundable, "left": left,
        "error": error, "amount": amount if amount else f"{left:.2f}", "notice": notice,
        # After a failed try the form keeps its key: if the gateway did refund before the line
        # dropped, trying again gets that refund back instead of making a second one.
        "refund_key": refund_key or payments.new_key(),
    }, status_code=status_code)


@staff_page
def receipt_page(request: Request, staff_session) -> Response:
    receipt = _receipt(request)
    if receipt is None:
        return _not_found(request, staff_session)
    audit(staff_session.staff, "view_receipt", receipt.guarantor, detail=receipt.number, request=request)
    notice = ""
    if request.query_params.get("done") == "refunded":
        notice = "Refund made."
    return _receipt_page(request, staff_session, receipt, notice=notice)


@staff_form
def receipt_refund(request: Request, form: FormData, staff_session) -> Response:
    receipt = _receipt(request)
    if receipt is None:
        return _not_found(request, staff_session)
    typed = str(form.get("amount", ""))[:40]
    try:
        amount = parse_amount_input(typed)
    except ValueError:
        return _receipt_page(request, staff_session, receipt, amount=typed, status_code=422,
                             error="Enter the amount to refund in dollars and cents, for example 12.50.")
    try:
        transaction = payments.refund(request.app.state.gateway, receipt, amount, staff_session.staff,
                                      key=str(form.get("key", ""))[:64] or None)
    except payments.RefundRefused as exc:
        audit(staff_session.staff, "refund_refused", receipt.guarantor,
              detail=f"{receipt.number} {format_money(amount)}: {exc}", request=request)
        return _receipt_page(request, staff_session, Receipt.get_by_id(receipt.id), amount=typed, status_code=422,
                             refund_key=str(form.get("key", ""))[:64] or None,
                             error=str(exc))
    audit(staff_session.staff, "refund", receipt.guarantor,
          detail=f"{receipt.number} {format_money(amount)} as {transaction.refund_receipt_number}", request=request)
    return RedirectResponse(f"/staff/receipts/{receipt.number}?done=refunded", status_code=303)


routes = [
    Route("/staff/batches", batch_list),
    Route("/staff/batches/{id:int}.csv", batch_csv),
    Route("/staff/batches/{id:int}", batch_detail),
    Route("/staff/batches/{id:int}/close", batch_close_confirm, methods=["GET"]),
    Route("/staff/batches/{id:int}/close", batch_close, methods=["POST"]),
    Route("/staff/reports/payments", payments_report),
    Route("/staff/reports/payments.csv", payments_csv),
    Route("/staff/reports/sessions", sessions_report),
    Route("/staff/reports/sessions.csv", sessions_csv),
    Route("/staff/requests", requests_page),
    Route("/staff/requests/{id:int}/handled", request_handled, methods=["POST"]),
    Route("/staff/requests/contacts/{id:int}/handled", contact_handled, methods=["POST"]),
    Route("/staff/receipts/{number}", receipt_page, methods=["GET"]),
    Route("/staff/receipts/{number}/refund", receipt_refund, methods=["POST"]),
]
