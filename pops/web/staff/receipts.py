"""A receipt as staff see it, and its Refund form."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console_receipts, payments
from ...console_receipts import ReceiptDetail
from ...money import parse_amount_input
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render
from .responses import not_found

BAD_AMOUNT = "Enter the amount to refund in dollars and cents, for example 12.50."


def _page(request: Request, staff_session, detail: ReceiptDetail, *, error: str = "", amount: str = "",
          notice: str = "", status_code: int = 200, refund_key: str | None = None) -> Response:
    return render(request, "staff/receipts/receipt.html", {
        "title": f"Receipt {detail.receipt.number}", "staff_session": staff_session, "active": "batches",
        "detail": detail, "receipt": detail.receipt, "guarantor": detail.guarantor, "group": detail.group,
        "error": error, "notice": notice, "amount": amount or f"{detail.refundable_amount:.2f}",
        # After a failed try the form keeps its key: if the gateway did refund before the line
        # dropped, trying again gets that refund back instead of making a second one.
        "refund_key": refund_key or payments.new_key(),
        "gateway_name": request.app.state.gateway.name,  # a payment another gateway took says so
    }, status_code=status_code)


@staff_page
def receipt_page(request: Request, staff_session) -> Response:
    detail = console_receipts.view(request.path_params["number"], staff_session.staff, ip=client_ip(request))
    if detail is None:
        return not_found(request, staff_session)
    notice = "Refund made." if request.query_params.get("done") == "refunded" else ""
    return _page(request, staff_session, detail, notice=notice)


@staff_form
def receipt_refund(request: Request, form: FormData, staff_session) -> Response:
    number = request.path_params["number"]
    receipt = console_receipts.receipt(number)
    if receipt is None:
        return not_found(request, staff_session)
    typed = str(form.get("amount", ""))[:40]
    try:
        amount = parse_amount_input(typed)
    except ValueError:
        return _page(request, staff_session, console_receipts.detail(receipt), amount=typed, status_code=422,
                     error=BAD_AMOUNT)
    key = str(form.get("key", ""))[:64] or None
    try:
        console_receipts.refund(request.app.state.gateway, receipt, amount, staff_session.staff, key=key,
                                ip=client_ip(request))
    except payments.RefundRefused as exc:
        return _page(request, staff_session, console_receipts.detail(console_receipts.receipt(number)),
                     amount=typed, status_code=422, refund_key=key, error=str(exc))
    return redirect(f"/staff/receipts/{receipt.number}?done=refunded")


routes = [
    Route("/staff/receipts/{number}", receipt_page, methods=["GET"]),
    Route("/staff/receipts/{number}/refund", receipt_refund, methods=["POST"]),
]
