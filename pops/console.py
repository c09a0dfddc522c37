"""What the staff console does, without the web: find guarantors, notify them, edit a group's options."""
from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import fn

from . import ledger, links, notify
from .dates import parse_date
from .models import GROUP_DEFAULTS, Group, Guarantor, Staff, is_colour
from .money import format_money

MAX_RESULTS = 50


# --- finding a guarantor --------------------------------------------------------------------

def find_guarantors(*, name: str = "", account: str = "", dob: str = "", phone: str = "") -> tuple[list[Guarantor], str | None]:
    """Guarantors matching every field given (name words, account, date of birth, phone digits).

    Returns the matches (at most MAX_RESULTS) and a sentence when the search itself is wrong.
    """
    query = Guarantor.select(Guarantor, Group).join(Group)
    given = False
    for word in name.split():
        query = query.where(Guarantor.first_name.contains(word) | Guarantor.last_name.contains(word)
                            | Guarantor.preferred_name.contains(word))
        given = True
    if account.strip():
        query = query.where(fn.UPPER(Guarantor.account) == account.strip().upper())
        given = True
    if dob.strip():
        day = parse_date(dob)
        if day is None:
            return [], "Type the date of birth as MM/DD/YYYY."
        query = query.where(Guarantor.date_of_birth == day)
        given = True
    if phone.strip():
        digits = re.sub(r"\D", "", phone)
        if len(digits) < 4:
            return [], "Type at least the last 4 digits of the phone number."
        # Phones are stored as imported (+15555550123); the last ten digits are the number.
        query = query.where(Guarantor.mobile.contains(digits[-10:]))
        given = True
    if not given:
        return [], None
    return list(query.order_by(Guarantor.last_name, Guarantor.first_name, Guarantor.account).limit(MAX_RESULTS)), None


# --- Send Balance Notification -------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    sent: bool
    message: str  # what staff read: where it went, or why it was refused


def send_balance_notification(guarantor: Guarantor, channel: str, staff: Staff, *, secret_key: str,
                              base_url: str) -> Notification:
    """Queue the QuickPay link by SMS or email, or say why not. Run inside a transaction."""
    if channel not in ("sms", "email"):
        return Notification(False, "Choose text message or email.")
    balances = ledger.balances_for(guarantor)
    if balances.last_statement is None:
        return Notification(False, "Not sent: this guarantor has no current statement.")
    if balances.amount_due <= 0:
        return Notification(False, "Not sent: nothing is owed (the Amount Due is $0.00).")
    if channel == "sms":
        if not guarantor.mobile:
            return Notification(False, "Not sent: there is no mobile number on this account.")
        if guarantor.sms_opt_out:
            return Notification(False, "Not sent: this guarantor has opted out of text messages.")
        if not guarantor.notify_balance_text:
            return Notification(False, "Not sent: the patient chose not to get balance notices by text (Profile).")
    elif not guarantor.email:
        return Notification(False, "Not sent: there is no email address on this account.")
    elif not guarantor.notify_balance_email:
        return Notification(False, "Not sent: the patient chose not to get balance notices by email (Profile).")
    group = guarantor.group
    code, _ = links.mint(guarantor, channel, secret_key, created_by=staff)
    url = links.url(base_url, code)
    due = format_money(balances.amount_due)
    if channel == "sms":
        notify.queue_sms(guarantor.mobile, f"{group.name}: your amount due is {due}. Pay securely at {url}",
                         purpose="balance", guarantor=guarantor)
        return Notification(True, f"Text message queued to {guarantor.mobile}.")
    body = (f"Hello {guarantor.display_name},\n\n"
            f"Your amount due to {group.name} is {due}.\n"
            f"You can see your balance and pay securely here:\n{url}\n\n"
            + (f"Questions? Call {group.footer_phone}.\n" if group.footer_phone else ""))
    notify.queue_email(guarantor.email, f"Your balance with {group.name}: {due}", body,
                       purpose="balance", guarantor=guarantor)
    return Notification(True, f"Email queued to {guarantor.email}.")


# --- a group's options ----------------------------------------------------------------------

TEXT_LIMITS = {"name": 200, "logo": 500, "brand_color": 7, "timezone": 64, "footer_phone": 40,
               "footer_email": 200, "footer_text": 2000, "landing_page": 8}
GROUP_FIELDS = ["name", *GROUP_DEFAULTS]
BOOL_FIELDS = [k for k, v in GROUP_DEFAULTS.items() if isinstance(v, bool)]
INT_FIELDS = [k for k, v in GROUP_DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)]
LANDING_PAGES = ("home", "pay")


def _valid_timezone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def group_changes(group: Group, form: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """The changed options from a submitted form (every field; unchecked boxes are False) and the errors.

    Nothing is written here; with any error, nothing should be.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for field in GROUP_FIELDS:
        if field in BOOL_FIELDS:
            values[field] = form.get(field) in ("on", "true", "1", "yes")
            continue
        text = str(form.get(field, "")).strip()
        if field in INT_FIELDS:
            if not text.isdigit() or int(text) < 1 or int(text) > 100_000:
                errors[field] = "Use a whole number of at least 1."
            else:
                values[field] = int(text)
            continue
        if len(text) > TEXT_LIMITS[field]:
            errors[field] = f"Use at most {TEXT_LIMITS[field]} characters."
        values[field] = text
    if not values.get("name"):
        errors["name"] = "The group needs a name."
    if not is_colour(values.get("brand_color", "")):
        errors["brand_color"] = "Use a colour like #1f5f8b."
    if not _valid_timezone(str(values.get("timezone", ""))):
        errors["timezone"] = "Use a time zone name like America/New_York."
    if values.get("landing_page") not in LANDING_PAGES:
        errors["landing_page"] = "Choose Home or Pay."
    email = str(values.get("footer_email", ""))
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["footer_email"] = "Use an email address like billing@example.org, or leave it empty."
    logo = str(values.get("logo", ""))
    if logo and not (logo.startswith("https://") or (logo.startswith("/") and not logo.startswith("//"))):
        errors["logo"] = "Use an https:// address or a path on this site, or leave it empty."
    changes = {k: v for k, v in values.items() if k not in errors and getattr(group, k) != v}
    return changes, errors
