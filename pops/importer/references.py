"""The second half of checking: keys unique where the spec says so, every reference resolving."""
from __future__ import annotations

from .known import Known
from .shape import Checker, Row, at


def _is_pops_own(receipt: tuple[str, str, bool] | None) -> bool:
    return receipt is not None and receipt[1] == "pops" and not receipt[2]


class References:
    """Keys unique where the spec says so; every reference resolving to a row that will exist."""

    def __init__(self, known: Known, checker: Checker):
        self.known = known
        self.checker = checker
        self.error = checker.error
        # document-wide keys -> the path of the row that first used them
        self.statements: dict[str, str] = {}
        self.receipts: dict[str, str] = {}
        self.appointments: dict[str, str] = {}

    def unique(self, seen: dict[str, str], value: str, path: str, label: str, where: str = "this document"):
        """Record a key's first use; an error, and False, when it was used before."""
        if value in seen:
            self.error(path, f'{label} "{value}" appears more than once in {where} (first at {seen[value]}).')
            return False
        seen[value] = path.rsplit(".", 1)[0]
        return True

    def document(self, top: Row) -> None:
        group_codes: dict[str, str] = {}
        for g in top.children.get("groups", []):
            if "code" in g.data:
                self.unique(group_codes, g.data["code"], at(g.path, "code"), "Group")
        accounts: dict[str, str] = {}
        for g in top.children.get("guarantors", []):
            account = g.data.get("account")
            if account is not None:
                self.unique(accounts, account, at(g.path, "account"), "Account")
            code = g.data.get("group")
            if code is not None and code not in group_codes and code not in self.known.groups:
                self.error(at(g.path, "group"), f'Group "{code}" is neither in this document nor in POPS.')
            _Account(self, g, account).check()


class _Account:
    """The references within one guarantor's part of the document."""

    def __init__(self, refs: References, g: Row, account: str | None):
        self.refs, self.g, self.account = refs, g, account
        self.known = refs.known
        self.error = refs.error
        self.gid = self.known.guarantors.get(account) if account is not None else None
        self.who = f"account {account}" if account is not None else "this guarantor"
        self.patients: set[str] = set(self.known.patients.get(self.gid, ())) if self.gid else set()
        db_encounters = self.known.encounters.get(self.gid, {}) if self.gid else {}
        self.db_encounters = db_encounters
        # each encounter's lines as they will be after the import: line id -> (kind, applies_to)
        self.lines: dict[str, dict[str, tuple[str, str]]] = {
            ext_id: dict(self.known.lines.get(eid, {})) for ext_id, eid in db_encounters.items()
        }
        self.voided: set[str] = set()
        self.repeated_lines: set[str] = set()  # paths of lines whose id an earlier line took

    def check(self) -> None:
        self.check_patients()
        encounters = self.check_encounters()
        for e in encounters:
            self.check_lines(e)
        self.check_statements()
        self.check_receipts()
        self.check_appointments()

    def check_patients(self) -> None:
        seen: dict[str, str] = {}
        for p in self.g.children.get("patients", []):
            if "id" in p.data and self.refs.unique(seen, p.data["id"], at(p.path, "id"), "Patient"):
                self.patients.add(p.data["id"])

    def patient(self, row: Row) -> None:
        patient = row.data.get("patient")
        if patient is not None and patient not in self.patients:
            self.error(
                at(row.path, "patient"),
                f'Patient "{patient}" is not a patient of {self.who}, in this document or in POPS.',
            )

    def check_encounters(self) -> list[Row]:
        """Encounters kept by the import (first of each id, not voided), with their lines recorded."""
        seen: dict[str, str] = {}
        kept = []
        for e in self.g.children.get("encounters", []):
            ext_id = e.data.get("id")
            if ext_id is None or not self.refs.unique(seen, ext_id, at(e.path, "id"), "Encounter"):
                continue
            if e.void:
                self.voided.add(ext_id)
                self.lines.pop(ext_id, None)
                eid = self.db_encounters.get(ext_id)
                if eid is not None and eid in self.known.pops_paid_encounters:
                    self.error(
                        at(e.path, "void"),
                        f'Encounter "{ext_id}" has payments made in POPS applied; it cannot be voided.',
                    )
                continue
            self.patient(e)
            effective = self.lines.setdefault(ext_id, {})
            line_ids: dict[str, str] = {}
            for line in e.children.get("lines", []):
                line_id = line.data["id"]
                where = f'encounter "{ext_id}"'
                if not self.refs.unique(line_ids, line_id, at(line.path, "id"), "Line", where):
                    self.repeated_lines.add(line.path)
                elif line.void:
                    effective.pop(line_id, None)
                elif "kind" in line.data:
                    current = effective.get(line_id, ("", ""))
                    effective[line_id] = (line.data["kind"], line.data.get("applies_to", current[1]))
            kept.append(e)
        return kept

    def check_lines(self, e: Row) -> None:
        ext_id = e.data["id"]
        effective = self.lines[ext_id]
        for line in e.children.get("lines", []):
            line_id = line.data["id"]
            if line.void or line.path in self.repeated_lines or line_id not in effective:
                continue
            kind, applies_to = effective[line_id]
            if applies_to:
                self.check_applies_to(line, ext_id, applies_to, effective)
            amount = line.data.get("amount")
            if kind == "charge" and amount is not None and amount < 0 and not applies_to:
                self.error(
                    at(line.path, "amount"),
                    f"A charge cannot be negative ({amount}) unless it reverses another charge: "
                    'give "applies_to" naming the charge line of this encounter it reverses.',
                )
            receipt = line.data.get("receipt")
            if receipt and kind == "patient_payment":
                found = self.known.receipts.get(receipt)
                if _is_pops_own(found) and found[0] != self.account:
                    self.refs.checker.warn(
                        at(line.path, "receipt"),
                        f'Receipt "{receipt}" is a POPS payment of account {found[0]}, not of {self.who}; '
                        "it was not marked as posted back.",
                    )

    def check_applies_to(self, line: Row, ext_id: str, applies_to: str, effective) -> None:
        path = at(line.path, "applies_to")
        target = effective.get(applies_to)
        if applies_to == line.data["id"]:
            self.error(path, f'Line "{applies_to}" cannot apply to itself.')
        elif target is None:
            message = f'Line "{applies_to}" is not a line of encounter "{ext_id}", in this document or in POPS.'
            self.error(path, message)
        elif target[0] != "charge":
            self.error(
                path,
                f'Line "{applies_to}" of encounter "{ext_id}" is not a charge (its kind is {target[0]}); '
                '"applies_to" names the charge line a line settles.',
            )

    def encounter(self, ext_id: str, path: str) -> bool:
        if ext_id in self.voided:
            self.error(path, f'Encounter "{ext_id}" is voided in this document, so nothing can refer to it.')
            return False
        if ext_id not in self.lines:
            message = f'Encounter "{ext_id}" is not an encounter of {self.who}, in this document or in POPS.'
            self.error(path, message)
            return False
        return True

    def numbered(self, seen: dict[str, str], row: Row, key: str, label: str, owner: str | None) -> None:
        """A document-wide key: once in the document, and not another account's in POPS."""
        value = row.data.get(key)
        if value is None or not self.refs.unique(seen, value, at(row.path, key), label):
            return
        if owner is not None and owner != self.account:
            self.error(at(row.path, key), f'{label} "{value}" already belongs to account {owner} in POPS.')

    def check_statements(self) -> None:
        for s in self.g.children.get("statements", []):
            owner = self.known.statements.get(s.data.get("number"))
            self.numbered(self.refs.statements, s, "number", "Statement", owner)
            if not s.void:
                for path, ext_id in s.data.get("encounters", []):
                    self.encounter(ext_id, path)

    def check_receipts(self) -> None:
        for r in self.g.children.get("receipts", []):
            number = r.data.get("number")
            found = self.known.receipts.get(number)
            self.numbered(self.refs.receipts, r, "number", "Receipt", found[0] if found else None)
            if _is_pops_own(found) and found[0] == self.account:
                if r.void:
                    message = f'Receipt "{number}" is a payment made in POPS; an import cannot void it.'
                    self.error(at(r.path, "void"), message)
                elif r.data.get("source", "pops") != "pops":
                    message = f'Receipt "{number}" is a payment made in POPS; its source must be "pops".'
                    self.error(at(r.path, "source"), message)
            if r.void:
                continue
            for a in r.children.get("applications", []):
                ext_id, line_id = a.data.get("encounter"), a.data.get("line")
                if ext_id is None or not self.encounter(ext_id, at(a.path, "encounter")):
                    continue
                if line_id is not None and line_id not in self.lines[ext_id]:
                    self.error(
                        at(a.path, "line"),
                        f'Line "{line_id}" is not a line of encounter "{ext_id}", in this document or in POPS.',
                    )

    def check_appointments(self) -> None:
        for a in self.g.children.get("appointments", []):
            owner = self.known.appointments.get(a.data.get("id"))
            self.numbered(self.refs.appointments, a, "id", "Appointment", owner)
            if not a.void:
                self.patient(a)
