"""What the staff console does, without the web: find a guarantor, the dashboard, notify, the desk QR,
mirror, the outbox; and POPS Management: a group's options, the staff members.

Each action owns its transaction and its audit row; `ip` is where the staff member works from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from peewee import fn

from . import language, ledger, links, notify, qr, sessions, timezones
from .audit import audit
from .balances import Balances, Eligibility
from .dates import parse_date
from .i18n import N_, gettext
from .db import database
from .models import GROUP_DEFAULTS, Group, Guarantor, Link, OutboxMessage, PatientSession, Receipt, Staff, is_colour
from .money import parse_amount_input
from .plans import notices
from .settings import Settings
from .staff import create_staff, provisioning_uri
from .templating import format_date
from .texts import content, reminders

MAX_RESULTS = 50
RECEIPTS_SHOWN = 50
OUTBOX_PAGE = 200
SEARCH_FIELDS = ("name", "account", "dob", "phone")


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


@dataclass(frozen=True)
class Search:
    fields: dict[str, str]  # as typed, one for each of SEARCH_FIELDS
    results: list[Guarantor]
    problem: str | None

    @property
    def searched(self) -> bool:
        return any(v.strip() for v in self.fields.values())


def search(fields: dict[str, str], staff: Staff, *, ip: str) -> Search:
    """Find a guarantor by the fields typed; a search that ran is recorded (the date of birth only as "dob")."""
    results, problem = find_guarantors(**fields)
    found = Search(fields, results, problem)
    if found.searched and not problem:
        used = ", ".join(f"{k}={v.strip()}" for k, v in fields.items() if v.strip() and k != "dob")
        audit(staff, "search", detail=f"{used}{' dob' if fields['dob'].strip() else ''}; {len(results)} found", ip=ip)
    return found


def guarantor_by_account(account: str) -> Guarantor | None:
    """The guarantor with this account number, with its group."""
    return Guarantor.select(Guarantor, Group).join(Group).where(Guarantor.account == account).get_or_none()


def groups_by_name() -> list[Group]:
    return list(Group.select().order_by(Group.name))


def groups_by_code() -> list[Group]:
    return list(Group.select().order_by(Group.code))


# --- the dashboard ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Dashboard:
    guarantor: Guarantor
    balances: Balances  # the figures the patient sees
    eligibility: Eligibility
    receipts: list[Receipt]  # newest first, at most RECEIPTS_SHOWN
    texting: bool = False  # a texting consent in force (else staff read "No texting consent", no text button)
    reminders: tuple = ()  # the statement reminders sent, newest first

    @property
    def group(self) -> Group:
        return self.guarantor.group


def dashboard(guarantor: Guarantor, staff: Staff, *, ip: str) -> Dashboard:
    """An account as staff see it: the patient's figures, whether they may pay online, the newest receipts. Recorded."""
    audit(staff, "view_dashboard", guarantor, ip=ip)
    figures = ledger.balances_for(guarantor)
    receipts = (Receipt.select().where(Receipt.guarantor == guarantor)
                .order_by(Receipt.received_at.desc(), Receipt.id.desc()).limit(RECEIPTS_SHOWN))
    return Dashboard(guarantor, figures, ledger.eligibility_for(guarantor, figures), list(receipts),
                     texting=notices.may_text(guarantor), reminders=tuple(reminders.sent_to(guarantor)))


# --- Send Balance Notification -------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    sent: bool
    message: str  # what staff read: where it went, or why it was refused


# The balance notice the patient gets, in their language (the console around it stays English).
BALANCE_SUBJECT = N_("Your balance with {group}: {due}")
BALANCE_EMAIL = N_("Hello {name},\n\nYour amount due to {group} is {due}.\nYou can see your balance and pay securely "
                   "here:\n{url}\n")


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
        if not notices.may_text(guarantor):
            return Notification(False, f"Not sent: {content.NO_CONSENT.lower()} is recorded for this mobile.")
    elif not guarantor.email:
        return Notification(False, "Not sent: there is no email address on this account.")
    elif not guarantor.notify_balance_email:
        return Notification(False, "Not sent: the patient chose not to get balance notices by email (Profile).")
    group = guarantor.group
    code, _ = links.mint(guarantor, channel, secret_key, created_by=staff)
    url = links.url(base_url, code)
    lang = language.of_guarantor(guarantor)  # what the patient reads is in their language
    due = balances.amount_due
    if channel == "sms":
        notify.queue_sms(guarantor.mobile, content.statement_text(guarantor, url), purpose="balance",
                         guarantor=guarantor)  # never an amount in a text
        return Notification(True, f"Text message queued to {guarantor.mobile}.")
    body = (gettext(lang, BALANCE_EMAIL, name=guarantor.greeting_name, group=group.name, due=due, url=url) + "\n"
            + (gettext(lang, notify.QUESTIONS, phone=group.footer_phone) + "\n" if group.footer_phone else ""))
    notify.queue_email(guarantor.email, gettext(lang, BALANCE_SUBJECT, group=group.name, due=due), body,
                       purpose="balance", guarantor=guarantor)
    return Notification(True, f"Email queued to {guarantor.email}.")


def notify_guarantor(guarantor: Guarantor, channel: str, staff: Staff, settings: Settings, *, ip: str) -> Notification:
    """Send Balance Notification: queue the link (or refuse, saying why), recorded either way; the job runner sends it."""
    with database.atomic():
        result = send_balance_notification(guarantor, channel, staff, secret_key=settings.secret_key,
                                           base_url=settings.base_url)
        audit(staff, "notification_sent" if result.sent else "notification_refused", guarantor,
              detail=f"{channel}: {result.message}", ip=ip)
    return result  # the job runner sends it


# --- at the desk: a QR code, a mirror -----------------------------------------------------------

@dataclass(frozen=True)
class DeskCode:
    code: str  # never stored: this is the only time it can be shown
    url: str
    svg: str
    link: Link


def desk_code(guarantor: Guarantor, staff: Staff, settings: Settings, *, ip: str) -> DeskCode:
    """A one-use QuickPay code for the patient at the desk, valid the group's desk minutes. Recorded."""
    with database.atomic():
        code, link = links.mint(guarantor, "desk", settings.secret_key, created_by=staff)
        expires = format_date(link.expires_at, "stamp_zone", guarantor.group.timezone)
        audit(staff, "desk_qr", guarantor, detail=f"expires {expires}", ip=ip)
    url = links.url(settings.base_url, code)
    return DeskCode(code, url, qr.qr_svg(url), link)


def mirror_guarantor(group_code: str, account: str) -> Guarantor | None:
    """The guarantor with this account in this group (a mirror names both)."""
    return (Guarantor.select(Guarantor, Group).join(Group)
            .where((Group.code == group_code) & (Guarantor.account == account)).get_or_none())


def start_mirror(guarantor: Guarantor, staff: Staff, *, quickpay: bool, replacing: PatientSession | None, ip: str,
                 user_agent: str) -> tuple[str, str]:
    """A staff mirror of what the guarantor sees (QuickPay, or the portal), replacing the browser's patient-side
    session. Recorded. Returns the session's cookie token and the page it lands on."""
    with database.atomic():
        if replacing is not None:
            sessions.end(replacing, "replaced")
        token, _ = sessions.start_patient(guarantor, "staff_mirror", "staff", quickpay=quickpay, staff=staff,
                                          ip=ip, user_agent=user_agent)
        audit(staff, "mirror_start", guarantor, detail="QuickPay" if quickpay else "portal", ip=ip)
    return token, "/quickpay" if quickpay else guarantor.group.landing_path


def end_mirror(session: PatientSession, *, ip: str) -> str:
    """End a staff mirror (its banner's way out), recorded; returns the mirrored guarantor's account."""
    with database.atomic():
        sessions.end(session, "logout")
        audit(session.staff, "mirror_end", session.guarantor, ip=ip)
    return session.guarantor.account


# --- the outbox -------------------------------------------------------------------------------

def outbox(staff: Staff, *, ip: str) -> list[OutboxMessage]:
    """Every text and email sent or waiting, newest first (the latest OUTBOX_PAGE). Viewing it is recorded."""
    messages = list(OutboxMessage.select().order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                    .limit(OUTBOX_PAGE))
    audit(staff, "view_outbox", ip=ip)
    return messages


def retry_message(message_id: int | None, staff: Staff, *, ip: str) -> OutboxMessage | None:
    """Put a failed message back in the outbox for a fresh round of tries, recorded; None if there
    is no such failed message (never sent, already retried, or sent)."""
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id) if message_id is not None else None
    if message is None:
        return None
    with database.atomic():
        if not notify.retry(message):
            return None
        audit(staff, "outbox_retry", message.guarantor_id,
              detail=f"{message.channel} #{message.id} to {message.recipient} ({message.error})", ip=ip)
    return message


# --- POPS Management: a group's options ----------------------------------------------------

TEXT_LIMITS = {"name": 200, "logo": 500, "brand_color": 7, "timezone": 64, "footer_phone": 40,
               "footer_email": 200, "footer_text": 2000, "landing_page": 8, "text_sender": 30}
GROUP_FIELDS = ["name", *GROUP_DEFAULTS]
BOOL_FIELDS = [k for k, v in GROUP_DEFAULTS.items() if isinstance(v, bool)]
INT_FIELDS = [k for k, v in GROUP_DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)]
MONEY_FIELDS = [k for k, v in GROUP_DEFAULTS.items() if isinstance(v, Decimal)]
INT_RANGES = {"plan_max_months": (2, 60), "plan_down_payment_percent": (0, 90),
              "reminder_first_days": (1, 60), "reminder_second_days": (1, 90)}  # others: 1 to 100,000
LANDING_PAGES = ("home", "pay")


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
            low, high = INT_RANGES.get(field, (1, 100_000))
            number = int(text) if re.fullmatch(r"[0-9]{1,6}", text) else -1  # not "²", "١٢", nor 5,000 digits
            if not low <= number <= high:
                errors[field] = ("Use a whole number of at least 1." if (low, high) == (1, 100_000)
                                 else f"Use a whole number from {low} to {high}.")
            else:
                values[field] = number
            continue
        if field in MONEY_FIELDS:
            try:
                amount = parse_amount_input(text)
            except ValueError:
                amount = Decimal(-1)
            if not Decimal("1.00") <= amount <= Decimal("100000.00"):
                errors[field] = "Use an amount from $1.00 to $100,000.00, like 100.00."
            else:
                values[field] = amount
            continue
        if len(text) > TEXT_LIMITS[field]:
            errors[field] = f"Use at most {TEXT_LIMITS[field]} characters."
        values[field] = text
    if not values.get("name"):
        errors["name"] = "The group needs a name."
    if not is_colour(values.get("brand_color", "")):
        errors["brand_color"] = "Use a colour like #1f5f8b."
    if not timezones.is_zone(values.get("timezone")):
        errors["timezone"] = "Choose a time zone from the list."
    if values.get("landing_page") not in LANDING_PAGES:
        errors["landing_page"] = "Choose Home or Pay."
    email = str(values.get("footer_email", ""))
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["footer_email"] = "Use an email address like billing@example.org, or leave it empty."
    if values.get("payment_plans") and not values.get("enable_payment_method_storage"):
        errors["payment_plans"] = "Payment plans charge a stored card: turn on Enable payment method storage too."
    if values.get("autopay") and not values.get("enable_payment_method_storage"):
        errors["autopay"] = "Autopay charges a stored card: turn on Enable payment method storage too."
    if ("reminder_second_days" not in errors and "reminder_first_days" not in errors
            and values["reminder_second_days"] <= values["reminder_first_days"]):
        errors["reminder_second_days"] = "The second reminder comes after the first: use more days than for the first."
    logo = str(values.get("logo", ""))
    if logo and not (logo.startswith("https://") or (logo.startswith("/") and not logo.startswith("//"))):
        errors["logo"] = "Use an https:// address or a path on this site, or leave it empty."
    changes = {k: v for k, v in values.items() if k not in errors and getattr(group, k) != v}
    return changes, errors


def group_values(group: Group) -> dict[str, object]:
    """The group's options as its form shows them."""
    return {f: getattr(group, f) for f in GROUP_FIELDS}


def submitted_values(form: dict[str, str]) -> dict[str, object]:
    """What a refused form shows again: the values as typed, the boxes as ticked."""
    return {f: (f in form) if f in BOOL_FIELDS else form.get(f, "") for f in GROUP_FIELDS}


def save_group(group: Group, form: dict[str, str], staff: Staff, *, ip: str) -> dict[str, str]:
    """Save a group's options from its form, each change recorded with its old and new value.

    Returns the errors; with any, nothing is saved.
    """
    changes, errors = group_changes(group, form)
    if errors:
        return errors
    with database.atomic():
        for field, new in changes.items():
            audit(staff, "group_setting", detail=f"{group.code} {field}: {getattr(group, field)!r} → {new!r}", ip=ip)
        if changes:
            Group.update(**changes).where(Group.id == group.id).execute()
    return {}


# --- POPS Management: staff members -------------------------------------------------------------

@dataclass(frozen=True)
class Management:
    groups: list[Group]
    staff_members: list[Staff]


def management() -> Management:
    """The groups by name and the staff members by email."""
    return Management(groups_by_name(), list(Staff.select().order_by(Staff.email)))


@dataclass(frozen=True)
class NewStaff:
    member: Staff
    uri: str  # the authenticator's otpauth:// address, with the secret: shown once, never logged
    svg: str


def add_staff_member(email: str, password: str, role: str, by: Staff, *, ip: str) -> NewStaff:
    """A new staff member (StaffError says why not), recorded without their secret."""
    with database.atomic():
        member = create_staff(email, password, role=role)
        audit(by, "staff_create", detail=f"{member.email} ({member.role})", ip=ip)
    uri = provisioning_uri(member)
    return NewStaff(member, uri, qr.qr_svg(uri))


def staff_member(member_id: int) -> Staff | None:
    return Staff.get_or_none(Staff.id == member_id)


def deactivate(member: Staff, by: Staff, *, ip: str) -> bool:
    """Deactivate a staff member (their sessions end at their next request), recorded. Never oneself: False."""
    if member.id == by.id:
        return False
    with database.atomic():
        Staff.update(active=False).where(Staff.id == member.id).execute()
        audit(by, "staff_deactivate", detail=member.email, ip=ip)
    return True


def unlock(member: Staff, by: Staff, *, ip: str) -> None:
    """Lift a staff member's lockout and clear their failed sign-ins, recorded."""
    with database.atomic():
        Staff.update(locked_until=None, failed_sign_ins=0).where(Staff.id == member.id).execute()
        audit(by, "staff_unlock", detail=member.email, ip=ip)
