"""Balances from the ledger's rows (imported lines, POPS receipts) against figures worked by hand."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from pops import ledger
from pops.importer import import_document, load
from pops.models import Encounter, Group, Guarantor, Receipt, ReceiptApplication

from factories import make_receipt

D = Decimal


def line(kind: str, amount: str, date: str | None = None, **extra) -> dict:
    out = {"kind": kind, "description": kind, "amount": amount, **extra}
    if date:
        out["date"] = date
    return out


def encounter(id: str, date: str, lines: list[dict], pending: str = "0.00", collections: bool = False) -> dict:
    return {
        "id": id, "patient": "P1", "date": date, "provider": "Dr. Ann Okafor", "description": "Visit",
        "in_collections": collections, "insurance_pending": pending, "lines": lines,
    }


# The account, worked by hand (statement S-2 of 2026-10-01 is the last one):
#   E1 2026-08-01  300.00 - 200.00 insurance - 20.00 adjustment - 30.00 paid 2026-10-15  =  50.00
#   E2 2026-09-10  150.00, 100.00 insurance pending, 20.00 paid in POPS 2026-11-01      =  30.00
#   E3 2026-10-20  40.00, after the statement                                            =  40.00
#   E4 2026-07-01  500.00 - 100.00 paid 2026-07-15, in collections                       = 400.00
#   E5 2026-09-20  25.00 - 35.00 insurance: an overpaid encounter, a credit, not a debt  = -10.00
#   Current Balance: 50 + 30 + 40 = 120.00; Collections: 400.00
#   Amount Due: 100.00 due on S-2 - 30.00 (line, 10-15) - 20.00 (POPS, 11-01) = 50.00;
#   with new charges, + E3 40.00 = 90.00
ACCOUNT = {
    "format": "pops-import/1",
    "groups": [{"code": "SUN", "name": "Sunrise Pediatrics"}],
    "guarantors": [{
        "account": "B2001", "group": "SUN", "first_name": "Sam", "last_name": "Reyes",
        "date_of_birth": "1975-02-03", "sms_opt_out": False, "escrow": "5.00", "unapplied": "2.50",
        "patients": [{"id": "P1", "first_name": "Sam", "last_name": "Reyes", "date_of_birth": "1975-02-03"}],
        "encounters": [
            encounter("E1", "2026-08-01", [
                line("charge", "300.00", id="1"),
                line("insurance_payment", "-200.00", "2026-08-20", applies_to="1"),
                line("adjustment", "-20.00", "2026-08-20", applies_to="1"),
                line("patient_payment", "-30.00", "2026-10-15", applies_to="1", receipt="R-1"),
            ]),
            encounter("E2", "2026-09-10", [line("charge", "150.00")], pending="100.00"),
            encounter("E3", "2026-10-20", [line("charge", "40.00")]),
            encounter("E4", "2026-07-01", [
                line("charge", "500.00"), line("patient_payment", "-100.00", "2026-07-15"),
            ], collections=True),
            encounter("E5", "2026-09-20", [line("charge", "25.00"), line("insurance_payment", "-35.00")]),
        ],
        "statements": [
            {"number": "S-1", "date": "2026-09-01", "due_date": "2026-10-01", "balance": "80.00",
             "amount_due": "80.00", "encounters": ["E1"]},
            {"number": "S-2", "date": "2026-10-01", "due_date": "2026-10-31", "balance": "130.00",
             "amount_due": "100.00", "encounters": ["E1", "E2"]},
        ],
        "receipts": [
            {"number": "R-1", "date": "2026-10-15", "method": "check", "amount": "30.00", "status": "paid",
             "source": "mail", "applications": [{"encounter": "E1", "line": "1", "amount": "30.00"}]},
        ],
    }],
}


def pops_payment(g: Guarantor, number: str, amount: str, on: dt.date, encounter: str, status: str = "paid",
                 refunded: str = "0.00", applied: str | None = None) -> Receipt:
    receipt = make_receipt(g, number, amount, on, status=status, refunded=refunded, card_type="", last4="", hour=16)
    if applied != "":
        ReceiptApplication.create(
            receipt=receipt, encounter=Encounter.get(Encounter.ext_id == encounter),
            amount=D(applied or amount), source="pops",
        )
    return receipt


@pytest.fixture
def account(db) -> Guarantor:
    import_document(load(json.dumps(ACCOUNT)))
    g = Guarantor.get(Guarantor.account == "B2001")
    pops_payment(g, "P-1", "20.00", dt.date(2026, 11, 1), "E2")
    # money that does not count: a decline, a payment still pending
    pops_payment(g, "P-2", "0.00", dt.date(2026, 11, 2), "E2", status="unsuccessful", applied="")
    pops_payment(g, "P-3", "99.00", dt.date(2026, 11, 3), "E2", status="pending")
    return g


def fresh(g: Guarantor) -> Guarantor:
    return Guarantor.get_by_id(g.id)


def test_facts_come_from_the_ledger(account):
    facts = ledger.account_facts(account)
    by_id = {e.id: e for e in facts.encounters}
    assert {k: (e.lines_total, e.insurance_pending, e.pops_applied, e.in_collections) for k, e in by_id.items()} == {
        "E1": (D("50.00"), D("0.00"), D("0.00"), False),
        "E2": (D("150.00"), D("100.00"), D("20.00"), False),
        "E3": (D("40.00"), D("0.00"), D("0.00"), False),
        "E4": (D("400.00"), D("0.00"), D("0.00"), True),
        "E5": (D("-10.00"), D("0.00"), D("0.00"), False),
    }
    assert by_id["E3"].date == dt.date(2026, 10, 20)
    assert [(s.number, s.balance, s.amount_due) for s in facts.statements] == [
        ("S-1", D("80.00"), D("80.00")), ("S-2", D("130.00"), D("100.00"))]
    assert sorted((p.date, p.amount) for p in facts.patient_payments) == [
        (dt.date(2026, 7, 15), D("100.00")),
        (dt.date(2026, 10, 15), D("30.00")),
        (dt.date(2026, 11, 1), D("20.00")),
    ]
    assert (facts.escrow, facts.unapplied) == (D("5.00"), D("2.50"))


def test_balances_match_the_hand_computed_figures(account):
    b = ledger.balances_for(account)
    assert b.statement_balance == D("130.00")
    assert b.last_statement.number == "S-2"
    assert b.amount_due == D("50.00")
    assert b.current_balance == D("120.00")
    assert b.collections == D("400.00")
    assert b.escrow == D("5.00")
    assert b.unapplied == D("2.50")


def test_amount_due_with_the_groups_include_new_charges(account):
    Group.update(include_new_charges_in_amount_due=True).where(Group.code == "SUN").execute()
    b = ledger.balances_for(fresh(account))
    assert b.amount_due == D("90.00")
    assert b.current_balance == D("120.00")


def test_refunds_and_posted_back_payments(account):
    # a partly refunded POPS payment counts what the practice kept: 15.00 - 5.00 on E3
    receipt = pops_payment(account, "P-4", "15.00", dt.date(2026, 11, 10), "E3", status="partially_refunded",
                           refunded="5.00")
    ReceiptApplication.create(receipt=receipt, encounter=Encounter.get(Encounter.ext_id == "E3"),
                              amount=D("-5.00"), source="pops")
    b = ledger.balances_for(account)
    assert (b.current_balance, b.amount_due) == (D("110.00"), D("40.00"))

    # once the PM system posts P-1 back, its line carries the 20.00 and POPS's own stops counting
    Receipt.update(posted_back=True).where(Receipt.number == "P-1").execute()
    b = ledger.balances_for(account)
    assert (b.current_balance, b.amount_due) == (D("130.00"), D("60.00"))


def test_eligibility_follows_the_balances(account):
    refused = ledger.eligibility_for(account)
    assert (refused.allowed, refused.reason) == (False, "escrow")
    assert "Sunrise Pediatrics" in refused.message

    Guarantor.update(escrow=D("0.00")).where(Guarantor.id == account.id).execute()
    assert ledger.eligibility_for(fresh(account)).reason == "unapplied"

    Guarantor.update(unapplied=D("0.00")).where(Guarantor.id == account.id).execute()
    assert ledger.eligibility_for(fresh(account)).allowed is True


def test_an_account_with_nothing_on_it(db):
    doc = json.loads(json.dumps(ACCOUNT))
    g = doc["guarantors"][0]
    g.update(encounters=[], statements=[], receipts=[], escrow="0.00", unapplied="0.00")
    import_document(load(json.dumps(doc)))
    account = Guarantor.get(Guarantor.account == "B2001")
    b = ledger.balances_for(account)
    assert (b.statement_balance, b.amount_due, b.current_balance, b.collections) == (D("0.00"),) * 4
    assert b.last_statement is None
    assert ledger.eligibility_for(account).reason == "zero_balance"
