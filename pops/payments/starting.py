"""Starting a payment: the amount checked, the attempt recorded, then the gateway's checkout opened
(or a saved card charged). A new payment first closes the guarantor's unfinished ones."""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from .. import balances, clock, crash, ledger
from ..db import database
from ..gateways import ChargeResult, CheckoutOptions, Gateway, GatewayRefused, GatewayUnavailable
from ..i18n import N_, gettext, message_of
from ..models import Guarantor, PatientSession, PaymentAttempt, StoredCard
from ..money import format_money, parse_amount_input
from .attempts import MSG_NOT_COMPLETED, MSG_UNAVAILABLE, OPEN, finish, mark_pending, message_columns, reload
from .cards import may_use_saved_cards
from .settling import settle

MSG_STALE = N_("This page was out of date: a payment was started in another window. Please check the amounts and try again.")
MSG_CHOOSE = N_("Please choose an amount to pay.")
MSG_NO_METHOD = N_("Online payment is not available for {group}. Please call {phone}.")
MSG_EARLIER_PAID = N_("Your earlier payment went through, so we did not start another one.")
MSG_IN_PROGRESS = N_("A payment on this account is still being processed. Please wait a minute, then check your receipts before paying again.")
MSG_SIGN_IN_FOR_CARDS = N_("Saved cards can be used after you sign in with a code (View Account).")
MSG_CARD_GONE = N_("That saved card is no longer available. Please choose another way to pay.")
MSG_DESCRIPTION = N_("{group} · account {account}")  # what the gateway's page says the payment is for


class PaymentRefused(Exception):
    """The payment cannot start; the message says why, in the patient's words."""


class _Stale(PaymentRefused):
    def __init__(self):
        super().__init__(MSG_STALE)


class ShownForAnotherAccount(PaymentRefused):
    """The form was shown for another account than the session's (or names none: a page from
    before forms named their account). Out of date, like any stale form; what it held is not for
    this account."""

    def __init__(self):
        super().__init__(MSG_STALE)


@dataclass(frozen=True)
class Started:
    attempt: PaymentAttempt
    redirect: str | None  # the gateway's hosted page, or None when the attempt is already settled / pending


def checkout_options(group) -> CheckoutOptions:
    return CheckoutOptions(
        card=group.enable_credit_card,
        google_pay=group.enable_google_pay,
        apple_pay=group.enable_apple_pay,
        require_cvv=group.require_cvv,
        allow_store=group.enable_payment_method_storage,
    )


def chosen_amount(guarantor: Guarantor, choice: str, other: str) -> Decimal:
    """The amount the patient chose, checked against the account as it is now."""
    group = guarantor.group
    account = ledger.balances_for(guarantor)
    eligibility = ledger.eligibility_for(guarantor, account)
    if not eligibility.allowed:
        raise PaymentRefused(eligibility.message)
    options = {o.key: o.amount for o in balances.pay_options(account, group.show_current_balance)}
    if choice not in options:
        raise PaymentRefused(MSG_CHOOSE)
    if choice == PaymentAttempt.OTHER:
        try:
            amount = parse_amount_input(other)
        except ValueError:
            raise PaymentRefused(balances.MSG_AMOUNT_RANGE.format(max=format_money(account.current_balance))) from None
    else:
        amount = options[choice]
    problem = balances.check_amount(amount, account, group.show_current_balance)
    if problem:
        raise PaymentRefused(problem)
    return amount


def start(
    gateway: Gateway,
    session: PatientSession,
    *,
    key: str,
    seq: int,
    account: str,
    choice: str,
    other: str = "",
    stored_card_id: int | None = None,
    store_card: bool = False,
    return_url: str,
) -> Started:
    """Record an attempt for the amount chosen, then open the gateway's checkout (or charge a stored card).

    `key` comes from the form (a retry or double click sends the same one); `seq` is the
    guarantor's payment sequence the form was shown with (a stale form or a second tab is refused);
    `account` is the account the form was shown for: only ever compared, the session says who pays.
    `store_card`: the patient ticked "store this card" (a gateway that asks POPS, such as Stripe, keeps it).
    """
    guarantor: Guarantor = session.guarantor
    if account != guarantor.account:
        raise ShownForAnotherAccount()
    existing = PaymentAttempt.get_or_none(PaymentAttempt.key == key)
    if existing is not None:
        return _resume(gateway, existing, guarantor, return_url)
    group = guarantor.group
    card = None
    if stored_card_id is not None:
        if not may_use_saved_cards(session):
            raise PaymentRefused(MSG_SIGN_IN_FOR_CARDS)
        card = StoredCard.get_or_none(
            (StoredCard.id == stored_card_id) & (StoredCard.guarantor == guarantor) & StoredCard.removed_at.is_null()
        )
        if card is None or not group.enable_payment_method_storage or card.gateway != gateway.name:
            raise PaymentRefused(MSG_CARD_GONE)
    elif not group.offers_online_payment:
        raise PaymentRefused(MSG_NO_METHOD.format(group=group.name, phone=group.footer_phone))

    with database.atomic():
        amount = chosen_amount(guarantor, choice, other)
        if amount < getattr(gateway, "minimum", amount):  # Stripe's smallest charge is $0.50
            raise PaymentRefused(balances.MSG_UNDER_MINIMUM.format(group=group.name))
        moved = Guarantor.update(payment_seq=Guarantor.payment_seq + 1).where(
            (Guarantor.id == guarantor.id) & (Guarantor.payment_seq == seq)
        ).execute()
        if not moved:
            raise _Stale()
        attempt = PaymentAttempt.create(
            key=key,
            guarantor=guarantor,
            session=session,
            staff=session.staff_id,
            entrance=PaymentAttempt.QUICKPAY if session.quickpay else PaymentAttempt.PORTAL,
            amount=amount,
            amount_choice=choice,
            stored_card=card,
            gateway=gateway.name,
            live=getattr(gateway, "live", False),
            store_card=store_card and card is None and group.enable_payment_method_storage,
        )
    crash.point(crash.AFTER_ATTEMPT)
    try:
        _close_open_attempts(gateway, guarantor, but=attempt)
        # Another payment may have settled between the check above and now: check again, on
        # the account as it is after every other attempt has been closed or recorded.
        if chosen_amount(guarantor, choice, other) != amount and choice != PaymentAttempt.OTHER:
            raise PaymentRefused(MSG_STALE)
    except PaymentRefused as refusal:
        finish(attempt, PaymentAttempt.CANCELED, message_of(refusal))
        raise
    return _resume(gateway, attempt, guarantor, return_url)


def start_or_resume(gateway: Gateway, session: PatientSession, **kwargs) -> Started:
    """start(), except that a form whose key already started an attempt resumes that attempt.

    A double click's second request waits on the first one's guarantor row and then finds the
    sequence moved; if the first request's attempt carries its key, that is the one to show.
    """
    try:
        return start(gateway, session, **kwargs)
    except _Stale:
        existing = PaymentAttempt.get_or_none(PaymentAttempt.key == kwargs["key"])
        if existing is None:
            raise
        return _resume(gateway, existing, session.guarantor, kwargs["return_url"])


def _resume(gateway: Gateway, attempt: PaymentAttempt, guarantor: Guarantor, return_url: str) -> Started:
    if attempt.guarantor_id != guarantor.id:
        raise PaymentRefused(MSG_STALE)
    if attempt.status not in OPEN:
        return Started(attempt, None)
    if attempt.stored_card_id is not None:
        try:
            result = gateway.charge_stored(attempt.key, attempt.amount, attempt.stored_card.gateway_token)
        except GatewayUnavailable:
            mark_pending(attempt)
            return Started(reload(attempt), None)
        crash.point(crash.AFTER_GATEWAY)
        if result.status == ChargeResult.OPEN and result.redirect:  # the bank asks for 3-D Secure first
            mark_pending(attempt)
            return Started(reload(attempt), result.redirect)
        return Started(settle(attempt, result), None)
    options = replace(checkout_options(guarantor.group), language=guarantor.own_language)
    if attempt.store_card:  # asked on POPS's own form (Stripe) or a payment plan's first payment
        options = replace(options, keep_card=True)
    try:
        checkout = gateway.create_checkout(
            attempt.key, attempt.amount,
            gettext(guarantor.own_language, MSG_DESCRIPTION, group=guarantor.group.name, account=guarantor.account),
            return_url, options,
        )
    except GatewayRefused:  # it answered that it did nothing under this key: the patient's retry is a new attempt
        return Started(finish(attempt, PaymentAttempt.ERROR, MSG_UNAVAILABLE), None)
    except GatewayUnavailable:
        # The gateway may have opened a checkout under this key before the line dropped (and a
        # resubmitted form reaches the same one), so the attempt stays open, never ERROR: the
        # settle job asks the gateway about the key later. The patient is told they were not charged.
        PaymentAttempt.update(**message_columns(MSG_UNAVAILABLE), updated_at=clock.now()).where(
            (PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)
        ).execute()
        return Started(reload(attempt), None)
    crash.point(crash.AFTER_GATEWAY)
    PaymentAttempt.update(
        status=PaymentAttempt.PENDING, gateway_checkout=checkout.id, **message_columns(""), updated_at=clock.now()
    ).where((PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)).execute()
    return Started(reload(attempt), checkout.url)


def _close_open_attempts(gateway: Gateway, guarantor: Guarantor, but: PaymentAttempt) -> None:
    """A new payment closes the guarantor's unfinished checkouts, so an old tab cannot be paid too.

    If one of them was paid after all, it is settled and the new payment is refused.
    """
    for attempt in PaymentAttempt.select().where(
        (PaymentAttempt.guarantor == guarantor) & PaymentAttempt.status.in_(OPEN) & (PaymentAttempt.id != but.id)
    ):
        try:
            if attempt.stored_card_id is not None:
                # A stored-card charge has no page to close: while its answer is unknown it may
                # still go through, so no second payment starts on top of it.
                result = gateway.lookup(attempt.key)
                if result is None or result.status == ChargeResult.OPEN:
                    raise PaymentRefused(MSG_IN_PROGRESS)
            else:
                result = gateway.cancel(attempt.key)
        except GatewayUnavailable as exc:
            raise PaymentRefused(MSG_UNAVAILABLE) from exc
        settled = settle(attempt, result) if result is not None else finish(
            attempt, PaymentAttempt.CANCELED, MSG_NOT_COMPLETED)
        if settled.status == PaymentAttempt.PAID:
            raise PaymentRefused(MSG_EARLIER_PAID)
