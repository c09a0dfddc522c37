"""Writing one guarantor's account: patients, encounters and their lines, statements, receipts,
appointments, and which POPS payments the PM system now carries."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..models import (
    Appointment,
    Encounter,
    EncounterLine,
    Link,
    Patient,
    Receipt,
    ReceiptApplication,
    Statement,
    StatementEncounter,
)
from ..money import ZERO
from .known import chunks
from .result import ImportResult
from .shape import Row

_UTC = dt.timezone.utc


class AccountWriter:
    """Writes the rows on an account; every row is compared first and written only when it differs."""

    def __init__(self, result: ImportResult):
        self.result = result

    def tally(self, kind: str, outcome: str) -> None:
        counts = self.result.counts[kind]
        setattr(counts, outcome, getattr(counts, outcome) + 1)

    @staticmethod
    def save(model, existing, values: dict[str, object]):
        """Create the row, or update the fields that differ; (row, "created" | "updated" | "unchanged")."""
        if existing is None:
            return model.create(**values), "created"
        # __data__ holds foreign keys as ids, which is what `values` carries
        changes = {k: v for k, v in values.items() if existing.__data__.get(k) != v}
        if not changes:
            return existing, "unchanged"
        model.update(**changes).where(model.id == existing.id).execute()
        existing.__data__.update(changes)
        return existing, "updated"

    def patients(self, gid: int, rows: list[Row]) -> dict[str, int]:
        existing = {p.ext_id: p for p in Patient.select().where(Patient.guarantor == gid)}
        for row in rows:
            d = row.data
            values = {
                "guarantor": gid,
                "ext_id": d["id"],
                "first_name": d["first_name"],
                "last_name": d["last_name"],
                "date_of_birth": d["date_of_birth"],
            }
            existing[d["id"]], outcome = self.save(Patient, existing.get(d["id"]), values)
            self.tally("patients", outcome)
        return {ext_id: p.id for ext_id, p in existing.items()}

    def encounters(
        self, gid: int, patients: dict[str, int], rows: list[Row]
    ) -> tuple[dict[str, int], set[str]]:
        """Upsert encounters and their lines: (encounter ids by key, receipts their payment lines name)."""
        existing = {e.ext_id: e for e in Encounter.select().where(Encounter.guarantor == gid)}
        named = [existing[r.data["id"]].id for r in rows if r.data["id"] in existing and not r.void]
        lines: dict[int, dict[str, EncounterLine]] = defaultdict(dict)
        for chunk in chunks(named):
            for line in EncounterLine.select().where(EncounterLine.encounter.in_(chunk)):
                lines[line.encounter_id][line.ext_id] = line
        receipts: set[str] = set()
        for row in rows:
            d = row.data
            current = existing.get(d["id"])
            if row.void:
                if current is None:
                    self.tally("encounters", "unchanged")
                else:
                    self.void_encounter(current.id)
                    del existing[d["id"]]
                    self.tally("encounters", "voided")
                continue
            values = {
                "guarantor": gid,
                "ext_id": d["id"],
                "patient": patients[d["patient"]],
                "date": d["date"],
                "provider": d["provider"],
                "description": d["description"],
                "in_collections": d["in_collections"],
            }
            if "insurance_pending" in d:
                values["insurance_pending"] = d["insurance_pending"]
            if row.children.get("facility"):
                facility = row.children["facility"][0].data
                values.update(facility_code=facility["code"], facility_name=facility["name"])
            encounter, outcome = self.save(Encounter, current, values)
            existing[d["id"]] = encounter
            self.tally("encounters", outcome)
            receipts |= self.lines(encounter, lines[encounter.id], row.children.get("lines", []))
        return {ext_id: e.id for ext_id, e in existing.items()}, receipts

    def lines(self, encounter: Encounter, existing: dict[str, EncounterLine], rows: list[Row]) -> set[str]:
        receipts = set()
        for row in rows:
            d = row.data
            current = existing.get(d["id"])
            if row.void:
                if current is None:
                    self.tally("lines", "unchanged")
                else:
                    EncounterLine.delete().where(EncounterLine.id == current.id).execute()
                    del existing[d["id"]]
                    self.tally("lines", "voided")
                continue
            values = {
                "encounter": encounter.id,
                "ext_id": d["id"],
                "kind": d["kind"],
                "description": d["description"],
                "amount": d["amount"],
                # a line's date and provider default to its encounter's
                "date": d.get("date", encounter.date),
                "provider": d.get("provider", encounter.provider),
            }
            optional = {"code": "code", "applies_to": "applies_to", "receipt": "receipt_number"}
            values.update((column, d[key]) for key, column in optional.items() if key in d)
            existing[d["id"]], outcome = self.save(EncounterLine, current, values)
            self.tally("lines", outcome)
            if d["kind"] == "patient_payment" and d.get("receipt"):
                receipts.add(d["receipt"])
        return receipts

    @staticmethod
    def void_encounter(encounter_id: int) -> None:
        # Validation refused voiding an encounter with POPS payments; what is left on it was imported.
        StatementEncounter.delete().where(StatementEncounter.encounter == encounter_id).execute()
        ReceiptApplication.delete().where(
            (ReceiptApplication.encounter == encounter_id) & (ReceiptApplication.source == "import")
        ).execute()
        EncounterLine.delete().where(EncounterLine.encounter == encounter_id).execute()
        Encounter.delete().where(Encounter.id == encounter_id).execute()

    def statements(self, gid: int, encounters: dict[str, int], rows: list[Row]) -> None:
        existing: dict[str, Statement] = {}
        for chunk in chunks([r.data["number"] for r in rows]):
            existing.update((s.number, s) for s in Statement.select().where(Statement.number.in_(chunk)))
        listed: dict[int, set[int]] = defaultdict(set)
        for chunk in chunks([s.id for s in existing.values()]):
            query = StatementEncounter.select(StatementEncounter.statement, StatementEncounter.encounter)
            for sid, eid in query.where(StatementEncounter.statement.in_(chunk)).tuples():
                listed[sid].add(eid)
        for row in rows:
            d = row.data
            current = existing.get(d["number"])
            if row.void:
                if current is None:
                    self.tally("statements", "unchanged")
                else:
                    Link.update(statement=None).where(Link.statement == current.id).execute()
                    StatementEncounter.delete().where(StatementEncounter.statement == current.id).execute()
                    Statement.delete().where(Statement.id == current.id).execute()
                    self.tally("statements", "voided")
                continue
            values = {
                "guarantor": gid,
                "number": d["number"],
                "date": d["date"],
                "due_date": d["due_date"],
                "balance": d["balance"],
                "amount_due": d["amount_due"],
            }
            statement, outcome = self.save(Statement, current, values)
            wanted = {encounters[ext_id] for _, ext_id in d["encounters"]}
            have = listed.get(statement.id, set())
            if wanted != have:
                if have - wanted:
                    StatementEncounter.delete().where(
                        (StatementEncounter.statement == statement.id)
                        & StatementEncounter.encounter.in_(list(have - wanted))
                    ).execute()
                if wanted - have:
                    StatementEncounter.insert_many(
                        [{"statement": statement.id, "encounter": eid} for eid in sorted(wanted - have)]
                    ).execute()
                outcome = "updated" if outcome == "unchanged" else outcome
            self.tally("statements", outcome)

    def receipts(self, gid: int, tz: ZoneInfo, encounters: dict[str, int], rows: list[Row]) -> None:
        existing: dict[str, Receipt] = {}
        for chunk in chunks([r.data["number"] for r in rows]):
            existing.update((r.number, r) for r in Receipt.select().where(Receipt.number.in_(chunk)))
        applied: dict[int, list[tuple[int, str, Decimal]]] = defaultdict(list)
        for chunk in chunks([r.id for r in existing.values() if r.imported]):
            query = ReceiptApplication.select().where(
                ReceiptApplication.receipt.in_(chunk) & (ReceiptApplication.source == "import")
            )
            for a in query:
                applied[a.receipt_id].append((a.encounter_id, a.line_ext_id, a.amount))
        for row in rows:
            d = row.data
            current = existing.get(d["number"])
            if current is not None and current.source == "pops" and not current.imported:
                # POPS's own payment listed back: receipts[] never change a balance; only the PM
                # system's patient_payment lines that name it take it over (post_back below).
                self.tally("receipts", "unchanged")
                continue
            if row.void:
                if current is None:
                    self.tally("receipts", "unchanged")
                else:
                    ReceiptApplication.delete().where(ReceiptApplication.receipt == current.id).execute()
                    Receipt.delete().where(Receipt.id == current.id).execute()
                    self.tally("receipts", "voided")
                continue
            values = {
                "number": d["number"],
                "guarantor": gid,
                "source": d["source"],
                "received_date": d["date"],
                # the practice's midnight of that date, as an instant
                "received_at": dt.datetime.combine(d["date"], dt.time(), tzinfo=tz).astimezone(_UTC),
                "method": d["method"],
                "amount": d["amount"],
                "status": d["status"],
                "refunded_amount": d["amount"] if d["status"] == "refunded" else ZERO,
                "imported": True,
            }
            for key in ("card_type", "last4"):
                if key in d:
                    values[key] = d[key]
            receipt, outcome = self.save(Receipt, current, values)
            wanted = sorted(
                (encounters[a.data["encounter"]], a.data["line"], a.data["amount"])
                for a in row.children.get("applications", [])
            )
            if wanted != sorted(applied.get(receipt.id, [])):
                ReceiptApplication.delete().where(
                    (ReceiptApplication.receipt == receipt.id) & (ReceiptApplication.source == "import")
                ).execute()
                if wanted:
                    ReceiptApplication.insert_many(
                        [
                            {
                                "receipt": receipt.id,
                                "encounter": eid,
                                "line_ext_id": line,
                                "amount": amount,
                                "source": "import",
                            }
                            for eid, line, amount in wanted
                        ]
                    ).execute()
                outcome = "updated" if outcome == "unchanged" else outcome
            self.tally("receipts", outcome)

    def appointments(self, gid: int, patients: dict[str, int], rows: list[Row]) -> None:
        existing: dict[str, Appointment] = {}
        for chunk in chunks([r.data["id"] for r in rows]):
            existing.update((a.ext_id, a) for a in Appointment.select().where(Appointment.ext_id.in_(chunk)))
        for row in rows:
            d = row.data
            current = existing.get(d["id"])
            if row.void:
                if current is None:
                    self.tally("appointments", "unchanged")
                else:
                    Appointment.delete().where(Appointment.id == current.id).execute()
                    self.tally("appointments", "voided")
                continue
            values = {
                "guarantor": gid,
                "ext_id": d["id"],
                "patient": patients[d["patient"]],
                "at": d["at"],
                "provider": d["provider"],
                "location": d["location"],
                "reason": d["reason"],
                "status": d["status"],
            }
            _, outcome = self.save(Appointment, current, values)
            self.tally("appointments", outcome)

    def post_back(self, gid: int) -> None:
        """POPS payments the PM system's patient_payment lines carry are counted there, once.

        Worked out again from the lines as they now stand (not only the ones this document
        names), so a line the PM system voids gives the payment back to POPS.
        """
        carried = {
            number for (number,) in EncounterLine.select(EncounterLine.receipt_number).join(Encounter)
            .where((Encounter.guarantor == gid) & (EncounterLine.kind == "patient_payment")
                   & (EncounterLine.receipt_number != "")).distinct().tuples()
        }
        own = Receipt.select(Receipt.id, Receipt.number, Receipt.posted_back).where(
            (Receipt.guarantor == gid) & (Receipt.source == "pops") & (Receipt.imported == False)  # noqa: E712 (SQL)
        )
        for rid, number, was in own.tuples():
            now = number in carried
            if now != was:
                Receipt.update(posted_back=now).where(Receipt.id == rid).execute()
                if now:
                    self.result.posted_back.append(number)
