"""Cards: the ones a patient asked the gateway to keep, who may charge them, and how a payment's card reads."""
from __future__ import annotations

import functools

from .. import clock, db
from ..gateways import GatewayUnavailable, StoredCardToken, for_payment
from ..models import Guarantor, PatientSession, Receipt, StoredCard


def may_use_saved_cards(session: PatientSession) -> bool:
    """A saved card is charged only for someone who proved who they are: a link alone is not enough.

    A forwarded text or a statement QR opens QuickPay, but charging the card on file needs a
    signed-in patient (a one-time code) or a staff member taking the payment in a mirror.
    """
    return not session.quickpay and session.auth in ("code", "staff")


def saved_cards(guarantor: Guarantor) -> list[StoredCard]:
    """The guarantor's saved cards that have not expired, newest first."""
    today = clock.now().date()
    cards = (StoredCard.from_row(row) for row in db.execute(_saved_cards_sql(), (guarantor.id,)))
    return [card for card in cards if (card.exp_year, card.exp_month) >= (today.year, today.month)]


@functools.cache
def _saved_cards_sql() -> str:
    # The Pay page runs it on every visit: written once, not built by the ORM each time (pops.db.execute).
    return (f'SELECT {StoredCard.columns("c")} FROM "{StoredCard._meta.table_name}" AS c'
            ' WHERE c."guarantor_id" = ? AND c."removed_at" IS NULL ORDER BY c."created_at" DESC')


def remove_card(guarantor: Guarantor, card_id: int, gateway=None) -> bool:
    """Remove a saved card; a gateway that keeps cards on its side (Stripe: `detach`) forgets it too."""
    card = StoredCard.get_or_none((StoredCard.id == card_id) & (StoredCard.guarantor == guarantor))
    removed = bool(StoredCard.update(removed_at=clock.now()).where(
        (StoredCard.id == card_id) & (StoredCard.guarantor == guarantor) & StoredCard.removed_at.is_null()
    ).execute())
    keeper = for_payment(gateway, card.gateway) if removed and gateway is not None else None
    if keeper is not None and hasattr(keeper, "detach"):
        try:
            keeper.detach(card.gateway_token)
        except GatewayUnavailable:
            pass  # removed in POPS all the same: POPS never charges it again
    return removed


def store_card(guarantor: Guarantor, token: StoredCardToken, *, gateway: str = "sandbox", live: bool = False) -> None:
    """Keep the card the gateway stored for this payment (its token, brand, last four and expiry)."""
    if StoredCard.get_or_none(StoredCard.gateway_token == token.token) is None:
        StoredCard.create(
            guarantor=guarantor, gateway_token=token.token, brand=token.brand, last4=token.last4,
            exp_month=token.exp_month, exp_year=token.exp_year, gateway=gateway, live=live,
        )


def paid_with(receipt_or_attempt) -> str:
    """"Visa ••4242", "Google Pay (Visa ••4242)", or "" when nothing is known."""
    card = f"{receipt_or_attempt.card_type} ••{receipt_or_attempt.last4}" if receipt_or_attempt.last4 else receipt_or_attempt.card_type
    wallet = Receipt.WALLET_NAMES.get(receipt_or_attempt.method)
    return f"{wallet} ({card})" if wallet and card else (wallet or card)
