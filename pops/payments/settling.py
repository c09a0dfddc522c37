"""Settling an attempt: the gateway's answer recorded once, as a receipt applied oldest first in the day's batch.

The answer comes with the patient back from the hosted page (`complete`), from the patient
waiting on the result page (`refresh`), from Home and Receipts (`unconfirmed`) or from the
settle job (`settle_pending`); whichever records it first wins, the others change nothing.
"""
from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from .. import balances, batches, clock, crash, db, ledger
from ..audit import POPS, audit
from ..db import database
from ..gateways import ChargeResult, Gateway, GatewayUnavailable, InvalidResult, for_payment
from ..models import Encounter, Guarantor, PaymentAttempt, Receipt, ReceiptApplication, Transaction
from ..money import ZERO, format_money
from .attempts import (
    MSG_NOT_COMPLETED,
    MSG_UNAVAILABLE,
    OPEN,
    finish,
    mark_pending,
    message_columns,
    record_outcome,
    reload,
)
from .cards import store_card
from .declines import close_declined, declined_receipt, latest_decline
from .receipt_email import queue_receipt_email

SETTLE_AFTER = dt.timedelta(minutes=2)  # the settle job leaves younger attempts to the patient's own return


def complete(gateway: Gateway, attempt: PaymentAttempt, result_token: str, *, canceled: bool = False) -> PaymentAttempt:
    """The patient is back from the hosted page: confirm the result server-to-server and settle.

    A reused or forged token changes nothing (the attempt shows as it is); an unreachable
    gateway leaves the attempt pending for the settle job. A gateway that sends no result token
    (Stripe: `confirms_by_key`) is asked about the attempt's own stored checkout; `canceled`, the
    patient left its page, closes that checkout first.
    """
    if attempt.receipt_id is not None:
        return attempt
    try:
        if getattr(gateway, "confirms_by_key", False):
            result = gateway.cancel(attempt.key) if canceled else gateway.lookup(attempt.key)
            if result is None:
                return reload(attempt)
        else:
            result = gateway.confirm(result_token)
    except InvalidResult:
        return reload(attempt)
    except GatewayUnavailable:
        mark_pending(attempt)
        return reload(attempt)
    crash.point(crash.DURING_RETURN)
    if result.key != attempt.key or result.status == ChargeResult.OPEN:
        return reload(attempt)
    if attempt.status not in OPEN and result.status != ChargeResult.APPROVED:
        return reload(attempt)
    return settle(attempt, result)


def settle(attempt: PaymentAttempt, result: ChargeResult) -> PaymentAttempt:
    """Record the gateway's final answer once: paid (receipt, applications, batch), declined ($0.00 receipt), or not charged."""
    if result.status == ChargeResult.CANCELED:
        declined = latest_decline(attempt)  # the patient gave up on the gateway's page after a decline
        if declined is not None:
            return close_declined(attempt, declined)
        return finish(attempt, PaymentAttempt.CANCELED, MSG_NOT_COMPLETED)
    if result.status == ChargeResult.ERROR:
        return finish(attempt, PaymentAttempt.ERROR, result.message or MSG_UNAVAILABLE)
    if result.status == ChargeResult.OPEN:
        return reload(attempt)
    if result.status == ChargeResult.DECLINED and result.transaction:
        recorded = declined_receipt(result.transaction)  # its webhook recorded this decline first
        if recorded is not None:
            return close_declined(attempt, recorded)
    if result.status == ChargeResult.APPROVED and result.amount != attempt.amount:
        raise ValueError(f"gateway charged {result.amount} for an attempt of {attempt.amount}")
    now = clock.now()
    charged_at = result.charged_at or now  # the day of the charge, even if recorded after midnight
    paid = result.status == ChargeResult.APPROVED
    status = PaymentAttempt.PAID if paid else PaymentAttempt.DECLINED
    settleable = PaymentAttempt.status.in_(OPEN)
    if paid:
        # Money that arrived after the attempt was given up is still recorded, never dropped.
        settleable |= PaymentAttempt.status.in_(PaymentAttempt.NOT_CHARGED) & PaymentAttempt.receipt.is_null()
    with database.atomic():
        rows = PaymentAttempt.update(
            status=status,
            updated_at=now,
            settled_at=now,
            gateway_transaction=result.transaction,
            method=result.wallet or Receipt.CARD,
            card_type=result.brand,
            last4=result.last4,
            **message_columns("" if paid else result.message),
        ).where((PaymentAttempt.id == attempt.id) & settleable).execute()
        if not rows:
            return reload(attempt)  # someone else settled it first
        attempt = reload(attempt)
        guarantor = attempt.guarantor
        group = guarantor.group
        received_date = charged_at.astimezone(ZoneInfo(group.timezone)).date()
        receipt = Receipt.create(
            number=f"POPS-{attempt.id:06d}",
            guarantor=guarantor,
            source=Receipt.POPS,
            received_at=charged_at,
            received_date=received_date,
            method=attempt.method,
            card_type=result.brand,
            last4=result.last4,
            amount=attempt.amount if paid else ZERO,
            status=Receipt.PAID if paid else Receipt.UNSUCCESSFUL,
            decline_reason="" if paid else str(result.message),
            # the day's open batch, locked until this commits (a Close waits for it)
            batch=batches.batch_for_payment(group, charged_at),
            taken_by=attempt.staff_id,
        )
        Transaction.create(
            receipt=receipt, number=result.transaction, kind=Transaction.SALE,
            amount=receipt.amount, status=Transaction.APPROVED if paid else Transaction.DECLINED, created_at=now,
            gateway=attempt.gateway, live=result.live,
        )
        PaymentAttempt.update(receipt=receipt).where(PaymentAttempt.id == attempt.id).execute()
        if paid:
            apply_oldest_first(receipt, guarantor)
            if result.stored_card is not None and group.enable_payment_method_storage:
                store_card(guarantor, result.stored_card, gateway=attempt.gateway, live=result.live)
            _plan_started(attempt, result)
            if group.email_receipts and guarantor.email:
                queue_receipt_email(receipt, result)  # the job runner sends it after commit
        if attempt.session_id:
            record_outcome(attempt.session_id, status)
    return reload(attempt)


def _plan_started(attempt: PaymentAttempt, result: ChargeResult) -> None:
    """A payment plan's first payment: the plan is made now, in this transaction (pops.plans.setup)."""
    from ..plans import setup  # plans build on payments, not the other way round

    setup.started(attempt, result.stored_card.token if result.stored_card is not None else None)


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
        ReceiptApplication.create(receipt=receipt, encounter=by_ext[encounter.id], amount=part,
                                  source=ReceiptApplication.POPS)
        left -= part
    if left > 0:
        # The ledger changed between the start and the gateway's answer (an import, say). The
        # money was received all the same: keep the receipt whole and flag the rest for staff.
        audit(None, "receipt_not_fully_applied", guarantor, f"{receipt.number}: {format_money(left)} left unapplied",
              actor=POPS)


def _ask_gateway(gateway: Gateway, attempt: PaymentAttempt) -> PaymentAttempt:
    """Look an unfinished attempt up by its key and record what the gateway says: a charge is
    settled, a checkout that can no longer be paid closes the attempt as not charged, a checkout
    still open leaves it as it is. Raises GatewayUnavailable."""
    result = for_payment(gateway, attempt.gateway).lookup(attempt.key)
    crash.point(crash.AFTER_LOOKUP)
    if result is None:
        return finish(attempt, PaymentAttempt.CANCELED, MSG_NOT_COMPLETED)
    return settle(attempt, result)  # an OPEN result changes nothing


def settle_pending(gateway: Gateway, *, older_than: dt.timedelta = SETTLE_AFTER) -> dict[str, int]:
    """Ask the gateway about every unfinished attempt older than `older_than` and record the answers.

    An unreachable gateway leaves everything for the next run. Returns counts by outcome ("open"
    for checkouts the patient may still pay on, "unreachable" when the gateway did not answer).
    """
    counts: dict[str, int] = {}
    cutoff = clock.now() - older_than
    for attempt in PaymentAttempt.select().where(
        PaymentAttempt.status.in_(OPEN) & (PaymentAttempt.updated_at <= cutoff) & ~PaymentAttempt.needs_review
    ).order_by(PaymentAttempt.id):
        if for_payment(gateway, attempt.gateway).name != attempt.gateway:
            continue  # another gateway's attempt (and this process does not hold it): never closed here
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


def unconfirmed(guarantor: Guarantor) -> list[PaymentAttempt]:
    """The guarantor's card charges the gateway has not answered yet (Home and Receipts show them as
    Pending). Read from the database only: no page waits on the gateway. A hosted checkout is not
    listed: whether the patient paid on it is the settle job's to find out (then it is a receipt)."""
    return [PaymentAttempt.from_row(row) for row in db.execute(_unconfirmed_sql(), (guarantor.id, *OPEN))]


@functools.cache
def _unconfirmed_sql() -> str:
    # Home runs it on every visit: written once, not built by the ORM each time (pops.db.execute).
    return (f'SELECT {PaymentAttempt.columns("a")} FROM "{PaymentAttempt._meta.table_name}" AS a'
            f' WHERE a."guarantor_id" = ? AND a."status" IN ({", ".join("?" * len(OPEN))})'
            ' AND a."stored_card_id" IS NOT NULL ORDER BY a."id" DESC')
