"""Writing a checked document: groups and guarantors, in one transaction with the check."""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from .. import clock
from ..db import database
from ..models import CONTACT_FIELDS, GROUP_DEFAULTS, ContactChange, Group, Guarantor
from ..contacts import normalize_mobile
from ..plans.notices import record_text_consent
from ..plans.tables import TextConsent
from ..texts.tables import stopped
from .check import check
from .known import chunks
from .read import load_file
from .result import ImportRefused, ImportResult, Problem
from .shape import Row, at
from .write_account import AccountWriter


def import_document(doc: object) -> ImportResult:
    """Validate, then upsert the whole document in one transaction.

    Any error raises ImportRefused (with every problem) and writes nothing.
    """
    with database.atomic():
        top, errors, warnings = check(doc)
        if errors:
            raise ImportRefused(errors)
        writer = Writer(ImportResult(warnings=warnings))
        writer.document(top)
    return writer.result


def import_file(path: str | Path) -> ImportResult:
    """Read a UTF-8 JSON file and import it (see import_document)."""
    return import_document(load_file(path))


class Writer(AccountWriter):
    """Writes a validated document: its groups, then each guarantor and everything on the account."""

    def __init__(self, result: ImportResult):
        super().__init__(result)
        self.groups: dict[str, Group] = {}

    def document(self, top: Row) -> None:
        self.write_groups(top.children.get("groups", []))
        for g in top.children.get("guarantors", []):
            self.guarantor(g)

    # -- groups

    def write_groups(self, rows: list[Row]) -> None:
        codes = [g.data["code"] for g in rows]
        for chunk in chunks(codes):
            self.groups.update((g.code, g) for g in Group.select().where(Group.code.in_(chunk)))
        for row in rows:
            code = row.data["code"]
            values = {k: v for k, v in row.data.items() if k != "code"}
            current = self.groups.get(code)
            if current is None:
                values = {**GROUP_DEFAULTS, **values, "code": code}
            group, outcome = self.save(Group, current, values)
            self.groups[code] = group
            self.tally("groups", outcome)

    def group(self, code: str) -> Group:
        if code not in self.groups:
            self.groups[code] = Group.get(Group.code == code)
        return self.groups[code]

    # -- a guarantor and everything on the account

    def guarantor(self, g: Row) -> None:
        d = g.data
        group = self.group(d["group"])
        values: dict[str, object] = {
            "account": d["account"],
            "group": group.id,
            "first_name": d["first_name"],
            "last_name": d["last_name"],
            "date_of_birth": d["date_of_birth"],
            "sms_opt_out": d["sms_opt_out"],
            "escrow": d["escrow"],
            "unapplied": d["unapplied"],
        }
        for name in CONTACT_FIELDS:
            if name in d:
                values[name] = d[name]
        if "language" in d:  # the patient's own choice in POPS (chosen_language) still wins where it is read
            values["language"] = d["language"]
        if g.children.get("address"):
            # an address is replaced whole: a missing line2 clears the old one
            a = g.children["address"][0].data
            values.update(
                address_line1=a["line1"],
                address_line2=a.get("line2", ""),
                city=a["city"],
                state=a["state"],
                zip=a["zip"],
            )
        current = Guarantor.get_or_none(Guarantor.account == d["account"])
        if current is not None:
            self.contact_changes(current, values, g.path)
        mobile = values.get("mobile", current.mobile if current is not None else "")
        if mobile and stopped(str(mobile)):  # a STOP POPS received stands until START, whatever the import says
            values["sms_opt_out"] = True
        guarantor, outcome = self.save(Guarantor, current, values)
        self.tally("guarantors", outcome)
        if g.children.get("sms_consent"):
            self.text_consent(guarantor, group, g.children["sms_consent"][0].data)

        gid = guarantor.id
        patients = self.patients(gid, g.children.get("patients", []))
        encounters, posted = self.encounters(gid, patients, g.children.get("encounters", []))
        self.statements(gid, encounters, g.children.get("statements", []))
        self.receipts(gid, ZoneInfo(group.timezone), encounters, g.children.get("receipts", []))
        self.appointments(gid, patients, g.children.get("appointments", []))
        self.post_back(gid)

    def text_consent(self, guarantor: Guarantor, group: Group, consent: dict) -> None:
        """The PM system's record of the patient's consent to texts, kept once with its when and how; never
        over a newer consent or withdrawal (Profile, a STOP)."""
        at = consent["at"].replace(tzinfo=ZoneInfo(group.timezone)).astimezone(dt.timezone.utc)
        if not guarantor.mobile or TextConsent.select().where(
                (TextConsent.guarantor == guarantor.id) & (TextConsent.recorded_at >= at)).exists():
            return
        record_text_consent(guarantor, True, f"import: {consent['how']}", at=at)

    def contact_changes(self, guarantor: Guarantor, values: dict[str, object], path: str) -> None:
        """A contact detail the patient changed in the portal stands until the import carries it."""
        pending: dict[str, list[ContactChange]] = defaultdict(list)
        query = (
            ContactChange.select()
            .where((ContactChange.guarantor == guarantor.id) & ContactChange.cleared_at.is_null())
            .order_by(ContactChange.changed_at, ContactChange.id)
        )
        for change in query:
            pending[change.field].append(change)
        for name, changes in pending.items():
            if name not in values:
                continue
            if _same_contact(name, values[name], changes[-1].new_value):
                ids = [c.id for c in changes]
                ContactChange.update(cleared_at=clock.now()).where(ContactChange.id.in_(ids)).execute()
                self.result.contacts_cleared += len(ids)
            else:
                incoming = values.pop(name)
                self.result.contacts_kept.append(
                    Problem(
                        at(path, name),
                        f"Kept {json.dumps(getattr(guarantor, name))}, which the patient set in the portal; "
                        f"the import's {json.dumps(incoming)} applies once the PM system has the new value.",
                    )
                )


def _same_contact(field: str, incoming: object, changed: str) -> bool:
    """Whether the PM system now has the patient's new value, however it writes it:
    "(555) 555-0199" is "+15555550199", and an email's case does not matter."""
    if isinstance(incoming, bool):  # sms_opt_out, changed by a STOP or START reply
        incoming = "true" if incoming else "false"
    incoming = "" if incoming is None else str(incoming)
    if field == "mobile":
        return (normalize_mobile(incoming) or incoming) == (normalize_mobile(changed) or changed)
    if field == "email":
        return incoming.strip().casefold() == changed.strip().casefold()
    return " ".join(incoming.split()) == " ".join(changed.split())
