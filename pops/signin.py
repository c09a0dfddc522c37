"""Signing a patient in: who they are (name and date of birth), a code to a contact on file, a new session.

One IP may look people up LOOKUPS_PER_HOUR times an hour (a counter per IP in the throttle
table, moved by a conditional UPDATE; each lookup is also an audit row). A View Account visit (a QuickPay session verifying with a code)
carries its origin and link into the new session.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from . import limits, otp, sessions
from .audit import PATIENT, audit
from .contacts import Destination
from .db import database
from .models import Group, Guarantor, OneTimeCode, OutboxMessage, PatientSession, Throttle

LOOKUPS_PER_HOUR = 20  # per IP
LOOKUP_ACTION = "sign_in.lookup"


# --- who is signing in --------------------------------------------------------------------

def name_key(text: str) -> str:
    """A name as compared at sign-in: case, accents' forms and all spacing forgiven."""
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def find_candidates(first: str, last: str, date_of_birth: dt.date, group: Group | None = None) -> list[Guarantor]:
    """Guarantors whose first or preferred name, last name and date of birth match (in `group` if given)."""
    first_key, last_key = name_key(first), name_key(last)
    if not first_key or not last_key:
        return []
    query = Guarantor.select(Guarantor, Group).join(Group).where(Guarantor.date_of_birth == date_of_birth)
    if group is not None:
        query = query.where(Guarantor.group == group.id)
    return [
        g
        for g in query.order_by(Group.name, Guarantor.id)
        if name_key(g.last_name) == last_key and first_key in {name_key(g.first_name), name_key(g.preferred_name)}
    ]


def look_up(first: str, last: str, date_of_birth: dt.date, group: Group | None, ip: str) -> list[Guarantor] | None:
    """The guarantors these details match, the lookup counted against the IP; None past the hourly limit."""
    with database.atomic():
        if not limits.take(Throttle.SIGN_IN_LOOKUP, ip[:64], LOOKUPS_PER_HOUR, otp.HOUR).ok:
            return None
        found = find_candidates(first, last, date_of_birth, group)
        audit(None, LOOKUP_ACTION, detail=f"matches: {len(found)}", actor=PATIENT, ip=ip)
    return found


def candidates(ids: list[int]) -> list[Guarantor]:
    """The guarantors with these ids (the sign-in's signed state), in the same order; gone ones left out."""
    by_id = {g.id: g for g in Guarantor.select().where(Guarantor.id.in_(ids))} if ids else {}
    return [by_id[i] for i in ids if i in by_id]


# --- the code -----------------------------------------------------------------------------

def send_code(destination: Destination, *, secret_key: str, ip: str) -> OneTimeCode:
    """Queue a sign-in code to `destination`; raises otp.RateLimited past the hourly limit."""
    with database.atomic():
        return otp.send_code(destination.guarantor, destination.channel, destination.address, purpose="sign_in",
                             secret_key=secret_key, ip=ip)


def text_refused(attempt: str) -> bool:
    """Whether the SMS provider refused the text carrying this attempt's code (a number that replied STOP to
    the provider, say): codes still go to an opted-out number, but a provider may not carry them."""
    row = OneTimeCode.get_or_none(OneTimeCode.attempt == attempt)
    if row is None or row.channel != "sms":
        return False
    return OutboxMessage.select().where(
        (OutboxMessage.channel == OutboxMessage.SMS) & (OutboxMessage.recipient == row.destination)
        & (OutboxMessage.purpose == row.purpose) & (OutboxMessage.guarantor == row.guarantor_id)
        & (OutboxMessage.expires_at == row.expires_at) & (OutboxMessage.error != "")
        & (OutboxMessage.status != OutboxMessage.SENT)).exists()


@dataclass(frozen=True)
class SignIn:
    """How a code ended: `check` says why not; when it is ok, the new session's cookie token and its guarantor."""

    check: otp.Check
    token: str = ""
    guarantor: Guarantor | None = None

    @property
    def ok(self) -> bool:
        return self.check.ok


def finish(attempt: str, code: str, *, candidate_ids: list[int], quickpay_session_id: object, secret_key: str,
           replacing: PatientSession | None = None, ip: str = "", user_agent: str = "") -> SignIn:
    """Check the code of `attempt`; when right (and for one of the candidates), start a portal session.

    The browser's current session (`replacing`) ends; a View Account visit (its QuickPay session
    id) keeps the origin and link it came in by, the report counting entrances.
    """
    with database.atomic():
        check = otp.check_code(attempt, code, purpose="sign_in", secret_key=secret_key)
        if not check.ok:
            return SignIn(check)
        if check.code.guarantor_id not in candidate_ids:
            return SignIn(otp.Check("unknown"))
        guarantor = check.code.guarantor
        origin, link = "sign_in", None
        quickpay = (PatientSession.get_or_none(PatientSession.id == quickpay_session_id)
                    if isinstance(quickpay_session_id, int) else None)
        if quickpay is not None and quickpay.guarantor_id == guarantor.id and quickpay.staff_id is None:
            origin, link = quickpay.origin, quickpay.link
            if quickpay.ended_at is None:
                sessions.end(quickpay, "replaced")
        if replacing is not None and replacing.ended_at is None:
            sessions.end(replacing, "replaced")
        token, _ = sessions.start_patient(guarantor, origin, "code", link=link, ip=ip, user_agent=user_agent)
        audit(None, "sign_in", guarantor, detail=f"code by {check.code.channel}; origin {origin}", actor=PATIENT, ip=ip)
    return SignIn(check, token, guarantor)
