"""The one pay flow behind both entrances (QuickPay and the portal's Pay page): the form, the start,
the way back from the gateway's page, the result, and saved cards."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import ids, pay_form, payments, sessions
from ...i18n import message_of
from ...models import PatientSession, PaymentAttempt
from ...payments import pay_link
from ..chrome import page, patient_chrome
from ..guards import patient_form, patient_page, patient_session, public, redirect
from ..render import render


def show_form(request: Request, session: PatientSession, *, error: str | None = None, values: dict | None = None,
              status_code: int = 200, notice: str | None = None) -> Response:
    """The page with the pay form for this session (QuickPay's, or the portal's Pay page)."""
    chrome = patient_chrome(session)
    context = page(session, session.group.name, active="/pay", pay=pay_form.for_session(session, request.app.state.gateway),
                   pay_error=error, pay_notice=notice, values=values or {})
    return render(request, chrome.pay_page, context, status_code=status_code)


def _unknown_link(request: Request) -> Response:
    return render(request, "patient/link_error.html", {"status": "unknown", "group": None}, status_code=404)


@patient_page
def pay_page(request: Request, session: PatientSession) -> Response:
    return show_form(request, session)


@patient_form(quickpay=True, ended_page=True)
def start(request: Request, form: FormData, session: PatientSession) -> Response:
    choice = str(form.get("amount", ""))
    other = str(form.get("other_amount", "")).strip()
    if not choice and other:
        choice = "other"
    card = str(form.get("card", "new"))
    values = {"amount": choice, "other_amount": other, "card": card, "store_card": form.get("store_card") == "1"}
    try:
        seq = int(str(form.get("seq", "")))
        key = str(form.get("key", ""))
        if not 20 <= len(key) <= 64:
            raise ValueError(key)
        stored_card_id = None if card in ("", "new") else ids.parse_id(card)
        if card not in ("", "new") and stored_card_id is None:
            raise ValueError(card)
    except ValueError:
        return show_form(request, session, error=payments.MSG_STALE, values=values, status_code=400)
    settings = request.app.state.settings
    if stored_card_id is None and pay_link.sends_pay_link(request.app.state.gateway, session):
        return show_form(request, session, error=pay_link.MSG_MIRROR_NO_CARD, values=values, status_code=400)
    try:
        started = payments.start_or_resume(
            request.app.state.gateway, session, key=key, seq=seq, account=str(form.get("account", "")),
            choice=choice, other=other, stored_card_id=stored_card_id, store_card=form.get("store_card") == "1",
            return_url=f"{settings.base_url}/pay/return/{key}",
        )
    except payments.ShownForAnotherAccount as refusal:
        # What was chosen on another account's page is not carried onto this one.
        return show_form(request, session, error=message_of(refusal), status_code=400)
    except payments.PaymentRefused as refusal:
        return show_form(request, session, error=message_of(refusal), values=values, status_code=400)
    return redirect(started.redirect or f"/pay/result/{started.attempt.key}")


@public(gateway=True)
def back_from_gateway(request: Request) -> Response:
    """The hosted page sends the patient here with a single-use result token; confirm it and settle."""
    attempt = payments.attempt_for(request.path_params["key"])
    if attempt is None:
        return _unknown_link(request)
    payments.complete(request.app.state.gateway, attempt, request.query_params.get("result", ""),
                      canceled=request.query_params.get("canceled") == "1")
    response = redirect(f"/pay/result/{attempt.key}")
    response.headers["Referrer-Policy"] = "no-referrer"  # the result token stays out of the next Referer
    return response


@public(gateway=True)
def result(request: Request) -> Response:
    """How the payment ended (or that it is still being confirmed); polled by htmx while pending.

    The key is the capability: anyone holding it sees the outcome; only the guarantor's own
    session sees the receipt's link and the email it goes to.
    """
    attempt = payments.attempt_for(request.path_params["key"])
    if attempt is None:
        return _unknown_link(request)
    if attempt.status in PaymentAttempt.OPEN:
        attempt = payments.refresh(request.app.state.gateway, attempt)
    guarantor = attempt.guarantor
    session = patient_session(request)
    owner = session is not None and session.guarantor_id == guarantor.id
    if owner:
        sessions.record_page(session, request.url.path)
    return render(request, "portal/pay/result.html", {
        "title": PaymentAttempt.OUTCOME_TITLES[attempt.outcome],
        "attempt": attempt,
        "receipt": attempt.receipt,
        "owner": owner,
        "session": session if owner else None,
        "group": guarantor.group,
        "guarantor": guarantor,
        "chrome": patient_chrome(session if owner else None),
    })


@patient_form(quickpay=True)
def send_link(request: Request, form: FormData, session: PatientSession) -> Response:
    """A staff mirror with Stripe: the patient gets a one-use pay link by SMS or email instead of staff taking a card."""
    if not pay_link.sends_pay_link(request.app.state.gateway, session):
        return show_form(request, session, status_code=400)
    settings = request.app.state.settings
    sent, message = pay_link.send_pay_link(session, str(form.get("channel", "")), secret_key=settings.secret_key,
                                           base_url=settings.base_url)
    return show_form(request, session, notice=message if sent else None, error=None if sent else message,
                     status_code=200 if sent else 422)


@patient_form
def remove_card(request: Request, form: FormData, session: PatientSession) -> Response:
    card_id = request.path_params["card_id"]
    payments.remove_card(session.guarantor, ids.parse_id(card_id) or 0, request.app.state.gateway)
    return redirect("/pay")


routes = [
    Route("/pay", pay_page),
    Route("/pay/start", start, methods=["POST"]),
    Route("/pay/send-link", send_link, methods=["POST"]),
    Route("/pay/return/{key}", back_from_gateway),
    Route("/pay/result/{key}", result),
    Route("/pay/cards/{card_id}/remove", remove_card, methods=["POST"]),
]
