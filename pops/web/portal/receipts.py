"""Receipts: the list (with payments still being confirmed), a receipt's detail, and the printable receipt.

The printable receipt (/receipts/NUMBER) is QuickPay's too: its result page links to it.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import accounts, payments, portal_lists
from ...i18n import N_
from ...models import PatientSession
from ..chrome import page, patient_chrome
from ..guards import patient_page
from ..htmx import htmx
from ..render import render
from .pages import not_found, paging


@patient_page
def receipts(request: Request, session: PatientSession) -> Response:
    """The first `?shown=` receipts (20 unless asked); htmx's "Show more" gets the block `more`: the
    next rows and the link after them."""
    shown, more = paging(request)
    listing = portal_lists.receipts_page(session.guarantor, shown, new_only=more)
    pending = [] if more else payments.unconfirmed(session.guarantor)  # the database's word: no gateway call
    return render(request, "portal/receipts/list.html", page(
        session, N_("Receipts"), active="/receipts", listing=listing, pending=pending,
    ), block="more" if more else "content")


@patient_page
def receipt_detail(request: Request, session: PatientSession) -> Response:
    """A receipt's patient, provider, location, service and transactions: the block `detail` a row
    expands into (htmx), or a page of its own (no JavaScript)."""
    receipt = accounts.get_receipt(request.path_params["number"], session.guarantor)
    if receipt is None:
        return not_found(request, session, "/receipts", "receipt")
    block = "detail" if htmx(request).wants_fragment else "content"
    return render(request, "portal/receipts/detail.html", page(
        session, N_("Receipt"), active="/receipts", detail=accounts.receipt_detail(receipt),
    ), block=block)


@patient_page(quickpay=True)
def printable(request: Request, session: PatientSession) -> Response:
    """The itemized, printable receipt; only the guarantor's own (ownership in the loader)."""
    receipt = accounts.get_receipt(request.path_params["number"], session.guarantor)
    if receipt is None:
        return render(request, patient_chrome(session).not_found,
                      page(session, N_("Not found"), active="/receipts", what="receipt"), status_code=404)
    detail = accounts.receipt_detail(receipt)
    return render(request, "portal/receipts/printable.html", page(
        session, N_("Receipt"), receipt=receipt, paid_with=payments.paid_with(receipt),
        items=detail.items, transactions=detail.transactions,
    ))


routes = [
    Route("/receipts", receipts),
    Route("/receipts/{number}/detail", receipt_detail),
    Route("/receipts/{number}", printable),
]
