"""What Home says of a plan or autopay notice that reached no phone or address (PlanNotice channel "page")."""
from __future__ import annotations

import datetime as dt

from ..i18n import N_

PAGE_TEXT = {
    "started": N_("Your payment plan is set up."),
    "reminder": N_("A payment plan payment is due in 3 days."),
    "paid": N_("Your payment plan payment went through."),
    "declined": N_("Your payment plan payment did not go through. We will try once more in 3 days."),
    "past_due": N_("Your payment plan is past due: please pay with another card or call us."),
    "on_hold": N_("Your payment plan is on hold while money is held on your account. Please call us."),
    "confirm": N_("Your bank asks you to confirm a payment plan payment."),
    "completed": N_("Your payment plan is complete. Thank you!"),
    "cancelled": N_("Your payment plan was cancelled."),
    "autopay_upcoming": N_("A statement will be paid automatically on its due date."),
    "autopay_reminder": N_("A statement will be paid automatically in 3 days."),
    "autopay_over_cap": N_("Your new statement is above your autopay limit, so it will not be paid automatically."),
    "autopay_paid": N_("Your statement was paid automatically."),
    "autopay_declined": N_("Your automatic payment did not go through. Please pay your statement."),
}


def for_home(notices: tuple[tuple[str, dt.datetime], ...], count: int = 3) -> list[tuple[str, dt.datetime]]:
    """The newest `count` notices (ledger.Account.plan_notices) as Home says them."""
    return [(PAGE_TEXT.get(kind, kind), at) for kind, at in notices[:count]]
