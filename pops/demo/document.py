"""The simulated ledger written out as a `pops-import/1` document."""
from __future__ import annotations

import datetime as dt

from .practices import GROUPS
from .records import Guarantor, Line, money_text
from .simulate import Builder

FORMAT = "pops-import/1"
STATEMENT_DUE_DAYS = 25


def _line_json(line: Line, encounter_date: dt.date) -> dict:
    out: dict = {"id": line.id, "kind": line.kind}
    if line.code:
        out["code"] = line.code
    out["description"] = line.description
    out["amount"] = money_text(line.amount)
    if line.on != encounter_date or line.kind != "charge":
        out["date"] = line.on.isoformat()
    if line.applies_to:
        out["applies_to"] = line.applies_to
    if line.receipt is not None:
        out["receipt"] = line.receipt.number
    return out


def _guarantor_json(g: Guarantor) -> dict:
    out: dict = {"account": g.account, "group": g.group, "first_name": g.first_name, "last_name": g.last_name}
    if g.preferred_name:
        out["preferred_name"] = g.preferred_name
    out["date_of_birth"] = g.born.isoformat()
    if g.email:
        out["email"] = g.email
    if g.mobile:
        out["mobile"] = g.mobile
    out["sms_opt_out"] = g.sms_opt_out
    if g.mobile and not g.sms_opt_out and g.encounters:  # agreed to texts on the form at the first visit
        out["sms_consent"] = {"at": f"{min(e.on for e in g.encounters).isoformat()}T09:00:00",
                              "how": "paper form at registration"}
    if g.address:
        out["address"] = dict(g.address)
    out["escrow"] = money_text(g.escrow)
    out["unapplied"] = money_text(g.unapplied)
    out["patients"] = [{"id": p.id, "first_name": p.first_name, "last_name": p.last_name,
                        "date_of_birth": p.born.isoformat()} for p in g.patients]
    out["encounters"] = [
        {
            "id": e.id,
            "patient": e.patient.id,
            "date": e.on.isoformat(),
            "provider": e.provider,
            "facility": {"code": e.facility[0], "name": e.facility[1]},
            "description": e.description,
            "in_collections": e.in_collections,
            "insurance_pending": money_text(e.insurance_pending),
            "lines": [_line_json(line, e.on) for line in e.lines],
        }
        for e in sorted(g.encounters, key=lambda e: e.id)
    ]
    out["statements"] = [
        {
            "number": f"S-{s.on:%Y-%m}-{g.account}",
            "date": s.on.isoformat(),
            "due_date": (s.on + dt.timedelta(days=STATEMENT_DUE_DAYS)).isoformat(),
            "balance": money_text(s.balance),
            "amount_due": money_text(s.balance),
            "encounters": [e.id for e in s.encounters],
        }
        for s in g.statements
    ]
    receipts = []
    for r in sorted(g.receipts, key=lambda r: r.number):
        receipt: dict = {"number": r.number, "date": r.on.isoformat(), "method": r.method}
        if r.card_type:
            receipt["card_type"] = r.card_type
            receipt["last4"] = r.last4
        receipt.update({
            "amount": money_text(r.amount),
            "status": "paid",
            "source": r.source,
            "applications": [{"encounter": e.id, "line": line, "amount": money_text(amount)}
                             for e, line, amount in r.applications],
        })
        receipts.append(receipt)
    out["receipts"] = receipts
    out["appointments"] = [
        {"id": a.id, "patient": a.patient.id, "at": a.at.strftime("%Y-%m-%dT%H:%M:%S"),
         "provider": a.provider, "location": a.location, "reason": a.reason, "status": a.status}
        for a in sorted(g.appointments, key=lambda a: a.at)
    ]
    return out


def build_document(today: dt.date, seed: int = 7) -> dict:
    """The demo ledger as a `pops-import/1` document, dated relative to `today`.

    The same (today, seed) always gives the same document.
    """
    return {
        "format": FORMAT,
        "groups": [dict(group) for group in GROUPS],
        "guarantors": [_guarantor_json(g) for g in Builder(today, seed).simulate()],
    }
