"""The one pay flow behind both entrances (QuickPay and the portal's Pay page), and the receipt."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import accounts, ledger, notify, payments, sessions
from ..balances import pay_options
from ..models import PatientSession
from .auth import patient_session, portal_page
from .templating import render
from .util import form_endpoint, with_db

RESULT_TITLES = {
    "paid": "Payment received",
    "declined": "Payment Failed",
    "error": "Payment not completed",
    "canceled": "Payment not completed",
    "pending": "Confirming your payment",
    "attempt": "Confirming your payment",
}


def pay_context(session: PatientSession, *, error: str | None = None, values: dict | None = None) -> dict:
    """What the pay form needs: balances, eligibility, amount options, saved cards, a fresh key."""
    guarantor = session.guarantor
    group = session.group
    balances = ledger.balances_for(guarantor)
    eligibility = ledger.eligibility_for(guarantor, balances)
    return {
        "title": group.name,
        "session": session,
        "group": group,
        "guarantor": guarantor,
        "balances": balances,
        "eligibility": eligibility,
        "options": pay_options(balances, group.show_current_balance) if eligibility.allowed else [],
        "cards": (payments.saved_cards(guarantor)
                  if group.enable_payment_method_storage and payments.may_use_saved_cards(session) else []),
        "can_pay_online": payments.can_pay_online(group),
        "pay_key": payments.new_key(),
        "pay_seq": guarantor.payment_seq,
        "pay_error": error,
        "values": values or {},
    }


def _pay_page(request: Request, session: PatientSession, **kwargs) -> Response:
    status_code = kwargs.pop("status_code", 200)
    context = pay_context(session, **kwargs)
    if session.quickpay:
        return render(request, "quickpay.html", context, status_code=status_code)
    return render(request, "pay.html", {**context, "active": "/pay", "home_url": "/home"}, status_code=status_code)


@portal_page
def pay_page(request: Request, session: PatientSession) -> Response:
    return _pay_page(request, session)


def _start(request: Request, form: FormData) -> Response:
    session = patient_session(request)
    if session is None:
        return render(request, "session_ended.html", {"title": "Your session has ended"}, status_code=401)
    choice = str(form.get("amount", ""))
    other = str(form.get("other_amount", "")).strip()
    if not choice and other:
        choice = "other"
    card = str(form.get("card", "new"))
    values = {"amount": choice, "other_amount": other, "card": card}
    try:
        seq = int(str(form.get("seq", "")))
        key = str(form.get("key", ""))
        if not 20 <= len(key) <= 64:
            raise ValueError(key)
        stored_card_id = None if card in ("", "new") else int(card)
    except ValueError:
        return _pay_page(request, session, error=payments.MSG_STALE, values=values, status_code=400)
    gateway = request.app.state.gateway
    settings = request.app.state.settings
    try:
        started = payments.start_or_resume(
            gateway, session, key=key, seq=seq, choice=choice, other=other, stored_card_id=stored_card_id,
            return_url=f"{settings.base_url}/pay/return/{key}",
        )
    except payments.PaymentRefused as refusal:
        return _pay_page(request, session, error=str(refusal), values=values, status_code=400)
    notify.deliver(settings)
    if started.redirect:
        return RedirectResponse(started.redirect, status_code=303)
    return RedirectResponse(f"/pay/result/{started.attempt.key}", status_code=303)


start = form_endpoint(_start)


@with_db
def back_from_gateway(request: Request) -> Response:
    """The hosted page sends the patient here with a single-use result token; confirm it and settle."""
    attempt = payments.attempt_for(request.path_params["key"])
    if attempt is None:
        return render(request, "link_error.html", {"title": "This link cannot be used", "status": "unknown",
                      "group": None}, status_code=404)
    payments.complete(request.app.state.gateway, attempt, request.query_params.get("result", ""))
    notify.deliver(request.app.state.settings)
    return RedirectResponse(f"/pay/result/{attempt.key}", status_code=303, headers={"Referrer-Policy": "no-referrer"})


@with_db
def result(request: Request) -> Response:
    """How the payment ended (or that it is still being confirmed); polled by htmx while pending."""
    attempt = payments.attempt_for(request.path_params["key"])
    session = patient_session(request)
    if attempt is None:
        return render(request, "link_error.html", {"title": "This link cannot be used", "status": "unknown",
                      "group": None}, status_code=404)
    if attempt.status in payments.OPEN:
        attempt = payments.refresh(request.app.state.gateway, attempt)
        notify.deliver(request.app.state.settings)
    title = RESULT_TITLES["error"] if attempt.status in payments.OPEN and attempt.message else RESULT_TITLES[attempt.status]
    guarantor = attempt.guarantor
    owner = session is not None and session.guarantor_id == guarantor.id
    if owner:
        sessions.record_page(session, request.url.path)
    return render(request, "pay_result.html", {
        "title": title,
        "attempt": attempt,
        "receipt": attempt.receipt,
        "owner": owner,
        "session": session if owner else None,
        "group": guarantor.group,
        "guarantor": guarantor,
        "home_url": "/quickpay" if (session and session.quickpay) else "/home",
        "again_url": "/quickpay" if (session is None or session.quickpay) else "/pay",
    })


@with_db
def receipt_page(request: Request) -> Response:
    """The itemized, printable receipt; only the guarantor's own (ownership in the loader)."""
    session = patient_session(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    receipt = accounts.get_receipt(request.path_params["number"], session.guarantor)
    if receipt is None:
        context = {"title": "Not found", "group": session.group, "guarantor": session.guarantor, "session": session,
                   "active": "/receipts", "what": "receipt", "home_url": "/quickpay" if session.quickpay else "/home"}
        template = "not_found.html" if session.quickpay else "portal/not_found.html"
        return render(request, template, context, status_code=404)
    sessions.record_page(session, request.url.path)
    detail = accounts.receipt_detail(receipt)
    return render(request, "receipt.html", {
        "title": f"Receipt {receipt.number}",
        "session": session,
        "group": session.group,
        "guarantor": session.guarantor,
        "receipt": receipt,
        "paid_with": payments.paid_with(receipt),
        "items": detail.items,
        "transactions": detail.transactions,
        "home_url": "/quickpay" if session.quickpay else "/home",
        "back_url": "/quickpay" if session.quickpay else "/receipts",
    })


def _remove_card(request: Request, form: FormData) -> Response:
    session = patient_session(request)
    if session is None or session.quickpay:
        return RedirectResponse("/login", status_code=303)
    try:
        card_id = int(request.path_params["card_id"])
    except ValueError:
        card_id = 0
    payments.remove_card(session.guarantor, card_id)
    return RedirectResponse("/pay", status_code=303)


remove_card = form_endpoint(_remove_card)

routes = [
    Route("/pay", pay_page),
    Route("/pay/start", start, methods=["POST"]),
    Route("/pay/return/{key}", back_from_gateway),
    Route("/pay/result/{key}", result),
    Route("/pay/cards/{card_id}/remove", remove_card, methods=["POST"]),
    Route("/receipts/{number}", receipt_page),
]
