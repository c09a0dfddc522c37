"""Taking a payment: attempt -> gateway -> receipt -> applications -> reference batch.

An attempt is stored (with its idempotency key) before the gateway is called, and settled exactly
once by a conditional UPDATE, whoever gets there first: the patient coming back from the hosted
page, a retried request, or the settle job looking the key up. So a double click, a retried POST,
the back button or two tabs never charge twice, and nothing that was paid is lost.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from .. import balances, batches, clock, ledger, notify
from ..audit import POPS, audit
from ..db import database
from ..gateways import ChargeResult, CheckoutOptions, Gateway, GatewayUnavailable, InvalidResult
from ..models import (
    Encounter,
    Guarantor,
    PatientSession,
    PaymentAttempt,
    Receipt,
    ReceiptApplication,
    Staff,
    StoredCard,
    Transaction,
)
from ..money import ZERO, format_money, parse_amount_input

OPEN = ("attempt", "pending")
SETTLE_AFTER = dt.timedelta(minutes=2)  # the settle job leaves younger attempts to the patient's own return

MSG_STALE = "This page was out of date: a payment was started in another window. Please check the amounts and try again."
MSG_CHOOSE = "Please choose an amount to pay."
MSG_NO_METHOD = "Online payment is not available for {group}. Please call {phone}."
MSG_UNAVAILABLE = "We could not reach the payment service. You were not charged. Please try again in a few minutes."
MSG_NOT_COMPLETED = "The payment was not completed. You were not charged."
MSG_EARLIER_PAID = "Your earlier payment went through, so we did not start another one."
MSG_IN_PROGRESS = "A payment on this account is still being processed. Please wait a minute, then check your receipts before paying again."


class PaymentRefused(Exception):
    """The payment cannot start; the message says why, in the patient's words."""


@dataclass(frozen=True)
class Started:
    attempt: PaymentAttempt
    redirect: str | None  # the gateway's hosted page, or None when the attempt is already settled / pending


def new_key() -> str:
    return secrets.token_urlsafe(24)


def can_pay_online(group) -> bool:
    """Whether the group takes any online payment method (card, Google Pay, Apple Pay)."""
    return group.enable_credit_card or group.enable_google_pay or group.enable_apple_pay


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
    if choice == "other":
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
    choice: str,
    other: str = "",
    stored_card_id: int | None = None,
    return_url: str,
) -> Started:
    """Record an attempt for the amount chosen, then open the gateway's checkout (or charge a stored card).

    `key` comes from the form (a retry or double click sends the same one); `seq` is the
    guarantor's payment sequence the form was shown with (a stale form or a second tab is refused).
    """
    guarantor: Guarantor = session.guarantor
    existing = PaymentAttempt.get_or_none(PaymentAttempt.key == key)
    if existing is not None:
        return _resume(gateway, existing, guarantor, return_url)
    group = guarantor.group
    card = None
    if stored_card_id is not None:
        if not may_use_saved_cards(session):
            raise PaymentRefused("Saved cards can be used after you sign in with a code (View Account).")
        card = StoredCard.get_or_none(
            (StoredCard.id == stored_card_id) & (StoredCard.guarantor == guarantor) & StoredCard.removed_at.is_null()
        )
        if card is None or not group.enable_payment_method_storage:
            raise PaymentRefused("That saved card is no longer available. Please choose another way to pay.")
    elif not can_pay_online(group):
        raise PaymentRefused(MSG_NO_METHOD.format(group=group.name, phone=group.footer_phone))

    with database.atomic():
        amount = chosen_amount(guarantor, choice, other)
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
            entrance="quickpay" if session.quickpay else "portal",
            amount=amount,
            amount_choice=choice,
            stored_card=card,
        )
    try:
        _close_open_attempts(gateway, guarantor, but=attempt)
        # Another payment may have settled between the check above and now: check again, on
        # the account as it is after every other attempt has been closed or recorded.
        if chosen_amount(guarantor, choice, other) != amount and choice != "other":
            raise PaymentRefused(MSG_STALE)
    except PaymentRefused as refusal:
        _finish(attempt, "canceled", str(refusal))
        raise
    return _resume(gateway, attempt, guarantor, return_url)


class _Stale(PaymentRefused):
    def __init__(self):
        super().__init__(MSG_STALE)


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
            _mark_pending(attempt)
            return Started(_reload(attempt), None)
        return Started(settle(attempt, result), None)
    try:
        checkout = gateway.create_checkout(
            attempt.key, attempt.amount, f"{guarantor.group.name} · account {guarantor.account}",
            return_url, checkout_options(guarantor.group),
        )
    except GatewayUnavailable:
        # The gateway may have opened a checkout under this key before the line dropped (and a
        # resubmitted form reaches the same one), so the attempt stays open, never "error": the
        # settle job asks the gateway about the key later. The patient is told they were not charged.
        PaymentAttempt.update(message=MSG_UNAVAILABLE, updated_at=clock.now()).where(
            (PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)
        ).execute()
        return Started(_reload(attempt), None)
    PaymentAttempt.update(status="pending", gateway_checkout=checkout.id, message="", updated_at=clock.now()).where(
        (PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)
    ).execute()
    return Started(_reload(attempt), checkout.url)


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
                if result is None or result.status == "open":
                    raise PaymentRefused(MSG_IN_PROGRESS)
            else:
                result = gateway.cancel(attempt.key)
        except GatewayUnavailable as exc:
            raise PaymentRefused(MSG_UNAVAILABLE) from exc
        settled = settle(attempt, result) if result is not None else _finish(attempt, "canceled", MSG_NOT_COMPLETED)
        if settled.status == "paid":
            raise PaymentRefused(MSG_EARLIER_PAID)


def _reload(attempt: PaymentAttempt) -> PaymentAttempt:
    return PaymentAttempt.get_by_id(attempt.id)


def _mark_pending(attempt: PaymentAttempt) -> None:
    PaymentAttempt.update(status="pending", updated_at=clock.now()).where(
        (PaymentAttempt.id == attempt.id) & (PaymentAttempt.status == "attempt")
    ).execute()


def _finish(attempt: PaymentAttempt, status: str, message: str) -> PaymentAttempt:
    """Close an attempt that charged nothing (error or canceled); a no-op if it is already settled."""
    now = clock.now()
    with database.atomic():
        rows = PaymentAttempt.update(status=status, message=message, updated_at=now, settled_at=now).where(
            (PaymentAttempt.id == attempt.id) & PaymentAttempt.status.in_(OPEN)
        ).execute()
        if rows and attempt.session_id:
            _outcome(attempt.session_id, "error" if status == "error" else "")
    return _reload(attempt)


def _outcome(session_id: int, outcome: str) -> None:
    if outcome:
        PatientSession.update(payment_outcome=outcome).where(PatientSession.id == session_id).execute()


def complete(gateway: Gateway, attempt: PaymentAttempt, result_token: str) -> PaymentAttempt:
    """The patient is back from the hosted page: confirm the result server-to-server and settle.

    A reused or forged token changes nothing (the attempt shows as it is); an unreachable
    gateway leaves the attempt pending for the settle job.
    """
    if attempt.receipt_id is not None:
        return attempt
    try:
        result = gateway.confirm(result_token)
    except InvalidResult:
        return _reload(attempt)
    except GatewayUnavailable:
        _mark_pending(attempt)
        return _reload(attempt)
    if result.key != attempt.key or result.status == "open":
        return _reload(attempt)
    if attempt.status not in OPEN and result.status != "approved":
        return _reload(attempt)
    return settle(attempt, result)


def settle(attempt: PaymentAttempt, result: ChargeResult) -> PaymentAttempt:
    """Record the gateway's final answer once: paid (receipt, applications, batch), declined ($0.00 receipt), or not charged."""
    if result.status == "canceled":
        return _finish(attempt, "canceled", MSG_NOT_COMPLETED)
    if result.status == "error":
        return _finish(attempt, "error", result.message or MSG_UNAVAILABLE)
    if result.status == "open":
        return _reload(attempt)
    if result.status == "approved" and result.amount != attempt.amount:
        raise ValueError(f"gateway charged {result.amount} for an attempt of {attempt.amount}")
    now = clock.now()
    charged_at = result.charged_at or now  # the day of the charge, even if recorded after midnight
    status = "paid" if result.status == "approved" else "declined"
    settleable = PaymentAttempt.status.in_(OPEN)
    if status == "paid":
        # Money that arrived after the attempt was given up is still recorded, never dropped.
        settleable |= PaymentAttempt.status.in_(("canceled", "error")) & PaymentAttempt.receipt.is_null()
    with database.atomic():
        rows = PaymentAttempt.update(
            status=status,
            updated_at=now,
            settled_at=now,
            gateway_transaction=result.transaction,
            method=result.wallet or "card",
            card_type=result.brand,
            last4=result.last4,
            message=result.message if status == "declined" else "",
        ).where((PaymentAttempt.id == attempt.id) & settleable).execute()
        if not rows:
            return _reload(attempt)  # someone else settled it first
        attempt = _reload(attempt)
        guarantor = attempt.guarantor
        group = guarantor.group
        received_date = charged_at.astimezone(ZoneInfo(group.timezone)).date()
        receipt = Receipt.create(
            number=f"POPS-{attempt.id:06d}",
            guarantor=guarantor,
            source="pops",
            received_at=charged_at,
            received_date=received_date,
            method=attempt.method,
            card_type=result.brand,
            last4=result.last4,
            amount=attempt.amount if status == "paid" else ZERO,
            status="paid" if status == "paid" else "unsuccessful",
            decline_reason=result.message if status == "declined" else "",
            # the day's open batch, locked until this commits (a Close waits for it)
            batch=batches.batch_for_payment(group, charged_at),
            taken_by=attempt.staff_id,
        )
        Transaction.create(
            receipt=receipt, number=result.transaction, kind="sale",
            amount=receipt.amount, status="approved" if status == "paid" else "declined", created_at=now,
        )
        PaymentAttempt.update(receipt=receipt).where(PaymentAttempt.id == attempt.id).execute()
        if status == "paid":
            apply_oldest_first(receipt, guarantor)
            if result.stored_card is not None and group.enable_payment_method_storage:
                _store_card(guarantor, result.stored_card)
            if group.email_receipts and guarantor.email:
                _receipt_email(receipt, result)  # sent after commit by notify.deliver
        if attempt.session_id:
            _outcome(attempt.session_id, status if status == "paid" else "declined")
    return _reload(attempt)


def apply_oldest_first(receipt: Receipt, guarantor: Guarantor) -> None:
    """Spread a payment over the open encounters, oldest first (collections are never paid here)."""
    facts = ledger.account_facts(guarantor)
    by_ext = {e.ext_id: e for e in Encounter.select().where(Encounter.guarantor == guarantor)}
    left = receipt.amount
    for encounter in sorted(facts.encounters, key=lambda e: (e.date, by_ext[e.id].id)):
        if left <= 0:
            break
        if encounter.in_collections:
            continue
        open_balance = balances.encounter_balance(encounter)
        if open_balance <= 0:
            continue
        part = min(open_balance, left)
        ReceiptApplication.create(receipt=receipt, encounter=by_ext[encounter.id], amount=part, source="pops")
        left -= part
    if left > 0:
        # The ledger changed between the start and the gateway's answer (an import, say). The
        # money was received all the same: keep the receipt whole and flag the rest for staff.
        audit(None, "receipt_not_fully_applied", guarantor, f"{receipt.number}: {format_money(left)} left unapplied",
              actor=POPS)


def _store_card(guarantor: Guarantor, token) -> None:
    if StoredCard.get_or_none(StoredCard.gateway_token == token.token) is None:
        StoredCard.create(
            guarantor=guarantor, gateway_token=token.token, brand=token.brand, last4=token.last4,
            exp_month=token.exp_month, exp_year=token.exp_year,
        )


def may_use_saved_cards(session: PatientSession) -> bool:
    """A saved card is charged only for someone who proved who they are: a link alone is not enough.

    A forwarded text or a statement QR opens QuickPay, but charging the card on file needs a
    signed-in patient (a one-time code) or a staff member taking the payment in a mirror.
    """
    return not session.quickpay and session.auth in ("code", "staff")


def remove_card(guarantor: Guarantor, card_id: int) -> bool:
    return bool(StoredCard.update(removed_at=clock.now()).where(
        (StoredCard.id == card_id) & (StoredCard.guarantor == guarantor) & StoredCard.removed_at.is_null()
    ).execute())


def saved_cards(guarantor: Guarantor) -> list[StoredCard]:
    today = clock.now().date()
    return [
        card for card in StoredCard.select().where(
            (StoredCard.guarantor == guarantor) & StoredCard.removed_at.is_null()
        ).order_by(StoredCard.created_at.desc())
        if (card.exp_year, card.exp_month) >= (today.year, today.month)
    ]


def paid_with(receipt_or_attempt) -> str:
    """"Visa ••4242", "Google Pay (Visa ••4242)", or "" when nothing is known."""
    card = f"{receipt_or_attempt.card_type} ••{receipt_or_attempt.last4}" if receipt_or_attempt.last4 else receipt_or_attempt.card_type
    wallet = {"google_pay": "Google Pay", "apple_pay": "Apple Pay"}.get(receipt_or_attempt.method)
    return f"{wallet} ({card})" if wallet and card else (wallet or card)


def _receipt_email(receipt: Receipt, result: ChargeResult):
    guarantor = receipt.guarantor
    group = guarantor.group
    lines = [
        f"Thank you for your payment to {group.name}.",
        "",
        f"Receipt number: {receipt.number}",
        f"Guarantor: {guarantor.full_name}",
        f"Account: {guarantor.account}",
        f"Date paid: {receipt.received_date.strftime('%B %-d, %Y')}",
        f"Transaction number: {result.transaction}",
        f"Card type: {paid_with(receipt)}",
        f"Amount paid: {format_money(receipt.amount)}",
    ]
    if group.footer_phone:
        lines += ["", f"Questions? Call {group.footer_phone}."]
    return notify.queue_email(
        guarantor.email, f"Your payment receipt {receipt.number} – {group.name}", "\n".join(lines),
        purpose="receipt", guarantor=guarantor,
    )


def _ask_gateway(gateway: Gateway, attempt: PaymentAttempt) -> PaymentAttempt:
    """Look an unfinished attempt up by its key and record what the gateway says: a charge is
    settled, a checkout that can no longer be paid closes the attempt as not charged, a checkout
    still open leaves it as it is. Raises GatewayUnavailable."""
    result = gateway.lookup(attempt.key)
    if result is None:
        return _finish(attempt, "canceled", MSG_NOT_COMPLETED)
    return settle(attempt, result)  # an "open" result changes nothing


def settle_pending(gateway: Gateway, *, older_than: dt.timedelta = SETTLE_AFTER) -> dict[str, int]:
    """Ask the gateway about every unfinished attempt older than `older_than` and record the answers.

    An unreachable gateway leaves everything for the next run. Returns counts by outcome ("open"
    for checkouts the patient may still pay on).
    """
    counts: dict[str, int] = {}
    cutoff = clock.now() - older_than
    for attempt in PaymentAttempt.select().where(
        PaymentAttempt.status.in_(OPEN) & (PaymentAttempt.updated_at <= cutoff)
    ).order_by(PaymentAttempt.id):
        try:
            status = _ask_gateway(gateway, attempt).status
        except GatewayUnavailable:
            status = "unreachable"
        status = "open" if status in OPEN else status
        counts[status] = counts.get(status, 0) + 1
    return counts


def refresh(gateway: Gateway, attempt: PaymentAttempt) -> PaymentAttempt:
    """Ask the gateway about one unfinished attempt (the patient is waiting on it) and settle it if it is done."""
    if attempt.status not in OPEN or (not attempt.gateway_checkout and attempt.stored_card_id is None):
        return attempt
    try:
        return _ask_gateway(gateway, attempt)
    except GatewayUnavailable:
        return attempt


def unconfirmed(gateway: Gateway, guarantor: Guarantor) -> list[PaymentAttempt]:
    """The guarantor's payments the gateway has not confirmed yet (Home and Receipts show them as
    Pending); any that did finish meanwhile are recorded on the way, and checkouts the patient
    never paid on are not payments at all."""
    waiting = []
    for attempt in PaymentAttempt.select().where(
        (PaymentAttempt.guarantor == guarantor) & PaymentAttempt.status.in_(OPEN)
        & ((PaymentAttempt.gateway_checkout != "") | PaymentAttempt.stored_card.is_null(False))
    ).order_by(PaymentAttempt.id.desc()):
        try:
            _ask_gateway(gateway, attempt)
        except GatewayUnavailable:
            waiting.append(attempt)
    return waiting


def attempt_for(key: str) -> PaymentAttempt | None:
    return PaymentAttempt.get_or_none(PaymentAttempt.key == key)


class RefundRefused(Exception):
    """A refund that cannot be made; the message says why."""


def refund(gateway: Gateway, receipt: Receipt, amount: Decimal, staff: Staff, key: str | None = None) -> Transaction:
    """Refund part or all of a POPS receipt through the gateway, by a staff member.

    Never more than was paid less earlier refunds. `key` comes from the refund form, so a double
    click or a retried POST refunds once. The refund joins the day's open batch and takes its
    amount back off the encounters, newest application first.
    """
    key = key or new_key()
    done = Transaction.get_or_none(Transaction.idempotency_key == key)
    if done is not None:
        return done
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise RefundRefused("Enter a refund amount of at least $0.01.")
    if receipt.source != "pops" or receipt.status not in ("paid", "partially_refunded"):
        raise RefundRefused("Only a paid POPS receipt can be refunded here.")
    left = receipt.amount - receipt.refunded_amount
    if amount > left:
        raise RefundRefused(f"At most {format_money(left)} can be refunded on this receipt.")
    sale = Transaction.get_or_none((Transaction.receipt == receipt) & (Transaction.kind == "sale"))
    if sale is None:
        raise RefundRefused("This receipt has no card transaction to refund.")
    # Claim the amount first, so two refunds at once can never add up to more than was paid.
    with database.atomic():
        claimed = Receipt.update(refunded_amount=Receipt.refunded_amount + amount).where(
            (Receipt.id == receipt.id) & (Receipt.refunded_amount + amount <= Receipt.amount)
        ).execute()
    if not claimed:
        raise RefundRefused("The receipt changed meanwhile; reload it and try again.")
    try:
        result = gateway.refund(key, sale.number, amount)
    except GatewayUnavailable:
        result = None
    if result is None or result.status != "approved":
        _release(receipt, amount)
        if result is None:
            # A timeout does not prove nothing happened: the form keeps its key, so trying again
            # gets back a refund the gateway did make instead of making a second one.
            raise RefundRefused("The payment service did not answer, so the refund is not confirmed. "
                                "Try again with this form: it cannot refund twice.")
        raise RefundRefused(f"{result.message} Nothing was refunded.")
    now = clock.now()
    try:
        with database.atomic():
            # One refund records at a time per receipt (PostgreSQL locks the row; SQLite's write
            # transactions are serial), so each sees the refunds recorded before it.
            locked = Receipt.select().where(Receipt.id == receipt.id)
            receipt = (locked.for_update() if database.for_update else locked).get()
            earlier = [t.amount for t in Transaction.select().where(
                (Transaction.receipt == receipt) & (Transaction.kind == "refund"))]
            transaction = Transaction.create(
                receipt=receipt, number=result.transaction, kind="refund", amount=amount, status="approved",
                created_at=now, refund_receipt_number=f"{receipt.number}-R{len(earlier) + 1}", staff=staff,
                batch=batches.batch_for_payment(receipt.guarantor.group, now), idempotency_key=key,
            )
            # The status counts refunds made, not amounts still being claimed by a refund in flight.
            refunded = sum(earlier, ZERO) + amount
            status = "refunded" if refunded >= receipt.amount else "partially_refunded"
            Receipt.update(status=status).where(Receipt.id == receipt.id).execute()
            _unapply(receipt, amount, refunded_before=sum(earlier, ZERO))
    except IntegrityError:
        # The same form twice at the same moment: the gateway refunded once, under this key.
        _release(receipt, amount)
        return Transaction.get(Transaction.idempotency_key == key)
    return transaction


def _release(receipt: Receipt, amount: Decimal) -> None:
    Receipt.update(refunded_amount=Receipt.refunded_amount - amount).where(Receipt.id == receipt.id).execute()


def _unapply(receipt: Receipt, amount: Decimal, refunded_before: Decimal) -> None:
    """Take a refund back off the encounters: first from what was never applied, then newest first."""
    applied: dict[int, Decimal] = {}
    for application in ReceiptApplication.select().where(
        (ReceiptApplication.receipt == receipt) & (ReceiptApplication.source == "pops")
    ):
        applied[application.encounter_id] = applied.get(application.encounter_id, ZERO) + application.amount
    # Money the receipt holds that no encounter got (flagged when it was paid) goes back first.
    unapplied = receipt.amount - refunded_before - sum(applied.values(), ZERO)
    left = amount - min(amount, max(unapplied, ZERO))
    for encounter_id in sorted(applied, reverse=True):
        if left <= 0:
            break
        part = min(applied[encounter_id], left)
        if part > 0:
            ReceiptApplication.create(receipt=receipt, encounter=encounter_id, amount=-part, source="pops")
            left -= part
