"""Pay over time: the set-up form, the schedule with its Truth in Lending box, the agreement and the
first payment, and the plan page (the patient's plan, its authorisation, cancelling it). `routes` holds
autopay's too (pops.web.portal.autopay)."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import payments
from ...i18n import message_of
from ...models import PatientSession
from ...plans import charging, joining, prepared, reading, setup
from ...plans.rules import PlanRefused
from ..chrome import page
from ..guards import patient_form, patient_page, redirect
from ..render import render
from . import autopay

CHOICE_FIELDS = ("months", "monthly", "day")


def _choices(source) -> dict[str, str]:
    return {name: str(source.get(name, "")).strip()[:20] for name in CHOICE_FIELDS}


def _setup_page(request: Request, session: PatientSession, *, error: str | None = None, values: dict | None = None,
                status_code: int = 200, notice: str | None = None) -> Response:
    group = session.group
    current = reading.latest(session.guarantor)
    ready = prepared.waiting(session.guarantor) if values is None and not session.staff_id else None
    if ready is not None:  # staff prepared it with the patient: the form as they chose it
        values = ready
        notice = notice or reading.MSG_PREPARED
    context = page(session, "Pay over time", active="/pay", error=error, notice=notice, values=values or {"day": "1"},
                   current=current, added=joining.offered(session.guarantor, current), months=range(2, group.plan_max_months + 1), key=payments.new_key(),
                   seq=session.guarantor.payment_seq)
    return render(request, "portal/plans/page.html", context, status_code=status_code)


@patient_page
def plan_page(request: Request, session: PatientSession) -> Response:
    """The plan, or the set-up form (filled in again when "Change the plan" comes back with the choices)."""
    values = _choices(request.query_params) if request.query_params.get("day") else None
    return _setup_page(request, session, values=values)


@patient_page
def review(request: Request, session: PatientSession) -> Response:
    """The whole schedule and the Truth in Lending box, before anything happens."""
    values = _choices(request.query_params)
    try:
        schedule = setup.preview(session, values["months"], values["monthly"], values["day"])
    except PlanRefused as refusal:
        return _setup_page(request, session, error=message_of(refusal), values=values, status_code=400)
    settings = request.app.state.settings
    guarantor = session.guarantor
    return render(request, "portal/plans/review.html", page(
        session, "Review your payment plan", active="/pay", schedule=schedule, values=values,
        authorisation=setup.authorisation(guarantor, schedule, base_url=settings.base_url),
        key=payments.new_key(), seq=guarantor.payment_seq))


@patient_form
def start(request: Request, form: FormData, session: PatientSession) -> Response:
    values = _choices(form)
    key = str(form.get("key", ""))
    try:
        seq = int(str(form.get("seq", "")))
        if not 20 <= len(key) <= 64:
            raise ValueError(key)
    except ValueError:
        return _setup_page(request, session, error=payments.MSG_STALE, values=values, status_code=400)
    texts = {"yes": True, "no": False}.get(str(form.get("texts", "")))
    settings = request.app.state.settings
    try:
        started = setup.start(
            request.app.state.gateway, session, key=key, seq=seq, account=str(form.get("account", "")),
            months=values["months"], monthly=values["monthly"], day=values["day"],
            balance=str(form.get("balance", "")), agreed=form.get("agree") == "1", texts=texts,
            base_url=settings.base_url)
    except (PlanRefused, payments.PaymentRefused) as refusal:
        return _setup_page(request, session, error=message_of(refusal), values=values, status_code=400)
    return redirect(started.redirect or f"/pay/plan/done/{key}")


@patient_page(gateway=True)
def back_from_gateway(request: Request, session: PatientSession) -> Response:
    """The gateway's page sends the patient back here: confirm the first payment (the plan is made as it is paid)."""
    attempt = payments.attempt_for(request.path_params["key"])
    if attempt is not None and attempt.guarantor_id == session.guarantor_id:
        payments.complete(request.app.state.gateway, attempt, request.query_params.get("result", ""),
                          canceled=request.query_params.get("canceled") == "1")
    response = redirect(f"/pay/plan/done/{request.path_params['key']}")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@patient_page(gateway=True)
def done(request: Request, session: PatientSession) -> Response:
    """How the set-up ended: the plan, or that there is none and why (nothing stored, nothing owed)."""
    offer, plan, attempt = reading.offer_for(request.path_params["key"], session.guarantor)
    if offer is None:
        return _setup_page(request, session, error=payments.MSG_STALE, status_code=404)
    if plan is None and attempt is not None and attempt.status in payments.OPEN:
        attempt = payments.refresh(request.app.state.gateway, attempt)
        offer, plan, attempt = reading.offer_for(request.path_params["key"], session.guarantor)
    return render(request, "portal/plans/done.html", page(
        session, "Payment plan", active="/pay", plan=reading.view(plan) if plan else None, attempt=attempt,
        new_card=reading.is_new_card(offer)))


@patient_page
def authorisation(request: Request, session: PatientSession) -> Response:
    """The plan's authorisation, for printing (and keeping)."""
    current = reading.latest(session.guarantor)
    return render(request, "portal/plans/authorisation.html", page(
        session, "Payment plan authorisation", active="/pay", current=current,
        earlier=joining.earlier(current.plan) if current else []))


@patient_form
def pay_next(request: Request, form: FormData, session: PatientSession) -> Response:
    """The patient pays their next instalment now, with the plan's card."""
    outcome = charging.pay_next_now(request.app.state.gateway, session.guarantor)
    message = reading.EARLY_OUTCOMES.get(outcome, reading.EARLY_OUTCOMES["pending"])
    if outcome == "charged":
        return _setup_page(request, session, notice=message)
    return _setup_page(request, session, error=message, status_code=200 if outcome == "pending" else 400)


@patient_form
def confirm_with_bank(request: Request, form: FormData, session: PatientSession) -> Response:
    """To the bank's page for an instalment it held for authentication; back through /pay/return/KEY."""
    url = charging.bank_page(request.app.state.gateway, session.guarantor)
    if url is None:
        return _setup_page(request, session, error=reading.MSG_NOTHING_TO_CONFIRM, status_code=400)
    return redirect(url)


@patient_form
def new_card(request: Request, form: FormData, session: PatientSession) -> Response:
    """The next instalment on the gateway's page with another card, kept as the plan's card."""
    key = str(form.get("key", ""))
    try:
        seq = int(str(form.get("seq", "")))
        if not 20 <= len(key) <= 64:
            raise ValueError(key)
        started = setup.start_new_card(request.app.state.gateway, session, key=key, seq=seq,
                                       account=str(form.get("account", "")),
                                       base_url=request.app.state.settings.base_url)
    except ValueError:
        return _setup_page(request, session, error=payments.MSG_STALE, status_code=400)
    except (PlanRefused, payments.PaymentRefused) as refusal:
        return _setup_page(request, session, error=message_of(refusal), status_code=400)
    return redirect(started.redirect or f"/pay/plan/done/{key}")


@patient_form
def send_prepared(request: Request, form: FormData, session: PatientSession) -> Response:
    """Staff in a mirror send the plan they prepared with the patient: a one-use, 30-minute link."""
    values = _choices(form)
    settings = request.app.state.settings
    try:
        message = prepared.send(session, values["months"], values["monthly"], values["day"],
                                str(form.get("channel", "")), secret_key=settings.secret_key,
                                base_url=settings.base_url)
    except PlanRefused as refusal:
        return _setup_page(request, session, error=str(refusal), values=values, status_code=400)
    return _setup_page(request, session, notice=message, values=values)


def _add_page(request: Request, session: PatientSession, *, error: str | None = None) -> Response:
    """The plan with the new charges: the new schedule, its Truth in Lending box and authorisation."""
    try:
        proposal = joining.propose(session.guarantor)
    except PlanRefused as refusal:
        return _setup_page(request, session, error=message_of(refusal), status_code=400)
    text = joining.authorisation(session.guarantor, proposal, base_url=request.app.state.settings.base_url)
    return render(request, "portal/plans/add.html", page(
        session, "Add new charges to your plan", active="/pay", proposal=proposal, authorisation=text, error=error),
        status_code=400 if error else 200)


@patient_page
def add_review(request: Request, session: PatientSession) -> Response:
    return _add_page(request, session)


@patient_form
def add(request: Request, form: FormData, session: PatientSession) -> Response:
    """The patient agreed: the new charges join the plan (nothing charged), or the page says why not."""
    try:
        joining.join(session, version=str(form.get("version", "")), covered=str(form.get("covered", "")),
                     added=str(form.get("added", "")), agreed=form.get("agree") == "1",
                     base_url=request.app.state.settings.base_url)
    except PlanRefused as refusal:
        return _add_page(request, session, error=message_of(refusal))
    return _setup_page(request, session, notice=joining.MSG_JOINED)


@patient_form
def cancel(request: Request, form: FormData, session: PatientSession) -> Response:
    problem = reading.cancel(session.guarantor, session, "", base_url=request.app.state.settings.base_url)
    if problem:
        return _setup_page(request, session, error=problem, status_code=400)
    return redirect("/pay/plan")


routes = [
    *autopay.routes,
    Route("/pay/plan", plan_page),
    Route("/pay/plan/review", review),
    Route("/pay/plan/start", start, methods=["POST"]),
    Route("/pay/plan/return/{key}", back_from_gateway),
    Route("/pay/plan/done/{key}", done),
    Route("/pay/plan/authorisation", authorisation),
    Route("/pay/plan/pay-next", pay_next, methods=["POST"]),
    Route("/pay/plan/new-card", new_card, methods=["POST"]),
    Route("/pay/plan/confirm", confirm_with_bank, methods=["POST"]),
    Route("/pay/plan/send", send_prepared, methods=["POST"]),
    Route("/pay/plan/cancel", cancel, methods=["POST"]),
    Route("/pay/plan/add", add_review),
    Route("/pay/plan/add", add, methods=["POST"]),
]
