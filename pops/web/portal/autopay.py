"""Autopay: the patient's limit, card and notice choice, its authorisation ticked and kept; stopping it."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import ids, payments
from ...i18n import message_of
from ...models import PatientSession
from ...plans import autopay
from ..chrome import page
from ..guards import patient_form, patient_page, redirect
from ..render import render


def _page(request: Request, session: PatientSession, *, error: str | None = None, values: dict | None = None,
          status_code: int = 200) -> Response:
    guarantor, group = session.guarantor, session.group
    cards = payments.saved_cards(guarantor) if payments.may_use_saved_cards(session) else []
    values = values or {"cap": str(group.autopay_cap), "notice": "each"}
    return render(request, "portal/plans/autopay.html", page(
        session, "Autopay", active="/pay", error=error, values=values, cards=cards,
        current=autopay.active(guarantor), covered=autopay.to_charge(guarantor),
        preview=autopay.authorisation(guarantor, group.autopay_cap, values.get("notice", "each"),
                                      cards[0] if cards else None, base_url=request.app.state.settings.base_url),
    ), status_code=status_code)


@patient_page
def autopay_page(request: Request, session: PatientSession) -> Response:
    return _page(request, session)


@patient_form
def turn_on(request: Request, form: FormData, session: PatientSession) -> Response:
    values = {"cap": str(form.get("cap", "")).strip()[:20], "notice": str(form.get("notice", ""))[:10],
              "card": str(form.get("card", ""))[:20]}
    try:
        autopay.turn_on(session, values["cap"], values["notice"], ids.parse_id(values["card"]),
                        agreed=form.get("agree") == "1", base_url=request.app.state.settings.base_url)
    except autopay.AutopayRefused as refusal:
        return _page(request, session, error=message_of(refusal), values=values, status_code=400)
    return redirect("/pay/autopay")


@patient_form
def turn_off(request: Request, form: FormData, session: PatientSession) -> Response:
    try:
        autopay.turn_off(session.guarantor, session)
    except autopay.AutopayRefused as refusal:
        return _page(request, session, error=message_of(refusal), status_code=400)
    return redirect("/pay/autopay")


routes = [
    Route("/pay/autopay", autopay_page),
    Route("/pay/autopay", turn_on, methods=["POST"]),
    Route("/pay/autopay/off", turn_off, methods=["POST"]),
]
