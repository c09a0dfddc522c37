"""Import format v1 (docs/import-v1.md): what a document writes, what it refuses, and idempotence."""
from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from pops import importer, ledger
from pops.importer import ImportRefused, format_problems, import_document, load, validate
from pops.models import (
    MODELS,
    Appointment,
    ContactChange,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    Patient,
    Receipt,
    ReceiptApplication,
    Statement,
    StatementEncounter,
)

from factories import make_receipt

D = Decimal
UTC = dt.timezone.utc

# The example document of docs/import-v1.md, verbatim.
EXAMPLE = """
{
  "format": "pops-import/1",
  "groups": [
    {
      "code": "RFM",
      "name": "Riverside Family Medicine",
      "footer_phone": "(555) 010-2000",
      "brand_color": "#0b6e4f",
      "show_collections": true,
      "email_receipts": true,
      "quickpay_max_uses": 10,
      "link_days": 365,
      "allow_session_extension": true,
      "timezone": "America/Chicago",
      "desk_qr_minutes": 15
    }
  ],
  "guarantors": [
    {
      "account": "A1001",
      "group": "RFM",
      "first_name": "Maria",
      "last_name": "Lopez",
      "preferred_name": "Mari",
      "date_of_birth": "1981-04-12",
      "email": "maria@example.org",
      "mobile": "+15555550123",
      "sms_opt_out": false,
      "address": {"line1": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"},
      "escrow": "0.00",
      "unapplied": "0.00",
      "patients": [
        {"id": "P1", "first_name": "Maria", "last_name": "Lopez", "date_of_birth": "1981-04-12"},
        {"id": "P2", "first_name": "Leo", "last_name": "Lopez", "date_of_birth": "2015-08-30"}
      ],
      "encounters": [
        {
          "id": "E9001",
          "patient": "P2",
          "date": "2026-09-14",
          "provider": "Dr. Ann Okafor",
          "facility": {"code": "MAIN", "name": "Main St clinic"},
          "description": "Office visit",
          "in_collections": false,
          "insurance_pending": "0.00",
          "lines": [
            {"id": "1", "kind": "charge", "code": "99213", "description": "Office visit, est. patient", "amount": "180.00"},
            {"id": "2", "kind": "insurance_payment", "description": "Blue Shield", "amount": "-110.00", "date": "2026-10-02", "applies_to": "1"},
            {"id": "3", "kind": "adjustment", "description": "Contractual", "amount": "-25.00", "date": "2026-10-02", "applies_to": "1"},
            {"id": "4", "kind": "patient_payment", "description": "Copay", "amount": "-20.00", "receipt": "R-88412", "applies_to": "1"}
          ]
        }
      ],
      "statements": [
        {"number": "S-2026-10-A1001", "date": "2026-10-01", "due_date": "2026-10-31",
         "balance": "25.00", "amount_due": "25.00", "encounters": ["E9001"]}
      ],
      "receipts": [
        {"number": "R-88412", "date": "2026-09-14", "method": "card", "card_type": "Visa",
         "last4": "4242", "amount": "20.00", "status": "paid", "source": "office",
         "applications": [{"encounter": "E9001", "line": "1", "amount": "20.00"}]}
      ],
      "appointments": [
        {"id": "AP-301", "patient": "P1", "at": "2026-12-03T09:30:00", "provider": "Dr. Ann Okafor",
         "location": "Main St clinic", "reason": "Annual physical", "status": "scheduled"}
      ]
    }
  ]
}
"""

G = "$.guarantors[0]"
E = f"{G}.encounters[0]"


def L(i: int) -> str:
    return f"{E}.lines[{i}]"


def example() -> dict:
    """A fresh, plain (json.loads) copy of the example, to change in a test."""
    return json.loads(EXAMPLE)


def run(doc: dict | str):
    """Import a document the way `pops import` does: from JSON text."""
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return import_document(load(text))


def dump() -> dict[str, list[tuple]]:
    """Every row of every table, to compare before and after."""
    return {m.__name__: list(m.select().order_by(m.id).tuples()) for m in MODELS}


def guarantor(account: str = "A1001") -> Guarantor:
    return Guarantor.get(Guarantor.account == account)


def lines_of(encounter_id: str = "E9001") -> dict[str, EncounterLine]:
    query = EncounterLine.select().join(Encounter).where(Encounter.ext_id == encounter_id)
    return {line.ext_id: line for line in query}


def pops_receipt(number: str, amount: str, on: dt.date, encounter: str = "E9001", status: str = "paid") -> Receipt:
    """A payment made in POPS, as the payments module records it."""
    receipt = make_receipt(guarantor(), number, amount, on, status=status)
    ReceiptApplication.create(
        receipt=receipt, encounter=Encounter.get(Encounter.ext_id == encounter), amount=D(amount), source="pops"
    )
    return receipt


# --- a good document ------------------------------------------------------------------------

def test_the_spec_example_imports_exactly_what_it_says(db):
    result = run(example())

    group = Group.get(Group.code == "RFM")
    assert group.name == "Riverside Family Medicine"
    assert group.footer_phone == "(555) 010-2000"
    assert group.brand_color == "#0b6e4f"
    assert group.show_collections is True
    assert group.email_receipts is True
    assert group.quickpay_max_uses == 10
    assert group.link_days == 365
    assert group.allow_session_extension is True
    assert group.timezone == "America/Chicago"
    assert group.desk_qr_minutes == 15
    # options the document leaves out start from the defaults
    assert group.show_current_balance is True
    assert group.include_new_charges_in_amount_due is False
    assert group.landing_page == "home"
    assert group.session_idle_timeout == 15

    g = guarantor()
    assert g.group_id == group.id
    assert (g.first_name, g.last_name, g.preferred_name) == ("Maria", "Lopez", "Mari")
    assert g.date_of_birth == dt.date(1981, 4, 12)
    assert (g.email, g.mobile, g.sms_opt_out) == ("maria@example.org", "+15555550123", False)
    assert (g.address_line1, g.address_line2, g.city, g.state, g.zip) == ("12 Elm St", "", "Springfield", "IL", "62701")
    assert (g.escrow, g.unapplied) == (D("0.00"), D("0.00"))

    patients = {p.ext_id: p for p in Patient.select().where(Patient.guarantor == g)}
    assert sorted(patients) == ["P1", "P2"]
    assert (patients["P2"].first_name, patients["P2"].date_of_birth) == ("Leo", dt.date(2015, 8, 30))

    e = Encounter.get(Encounter.ext_id == "E9001")
    assert (e.guarantor_id, e.patient_id) == (g.id, patients["P2"].id)
    assert e.date == dt.date(2026, 9, 14)
    assert (e.provider, e.facility_code, e.facility_name, e.description) == (
        "Dr. Ann Okafor", "MAIN", "Main St clinic", "Office visit")
    assert (e.in_collections, e.insurance_pending) == (False, D("0.00"))

    lines = lines_of()
    assert {k: (v.kind, v.amount, v.date, v.applies_to, v.provider) for k, v in lines.items()} == {
        "1": ("charge", D("180.00"), dt.date(2026, 9, 14), "", "Dr. Ann Okafor"),
        "2": ("insurance_payment", D("-110.00"), dt.date(2026, 10, 2), "1", "Dr. Ann Okafor"),
        "3": ("adjustment", D("-25.00"), dt.date(2026, 10, 2), "1", "Dr. Ann Okafor"),
        "4": ("patient_payment", D("-20.00"), dt.date(2026, 9, 14), "1", "Dr. Ann Okafor"),
    }
    assert (lines["1"].code, lines["1"].description) == ("99213", "Office visit, est. patient")
    assert lines["4"].receipt_number == "R-88412"
    assert lines["1"].service_id == "E9001-1"

    s = Statement.get(Statement.number == "S-2026-10-A1001")
    assert (s.guarantor_id, s.date, s.due_date, s.balance, s.amount_due) == (
        g.id, dt.date(2026, 10, 1), dt.date(2026, 10, 31), D("25.00"), D("25.00"))
    assert [se.encounter_id for se in s.statement_encounters] == [e.id]

    r = Receipt.get(Receipt.number == "R-88412")
    assert (r.guarantor_id, r.source, r.method, r.card_type, r.last4) == (g.id, "office", "card", "Visa", "4242")
    assert (r.amount, r.refunded_amount, r.status) == (D("20.00"), D("0.00"), "paid")
    assert r.received_date == dt.date(2026, 9, 14)
    # midnight in Chicago (CDT, UTC-5) as an instant
    assert r.received_at == dt.datetime(2026, 9, 14, 5, 0, tzinfo=UTC)
    assert (r.imported, r.posted_back, r.batch_id) == (True, False, None)
    assert [(a.encounter_id, a.line_ext_id, a.amount, a.source) for a in r.applications] == [
        (e.id, "1", D("20.00"), "import")]

    a = Appointment.get(Appointment.ext_id == "AP-301")
    assert (a.guarantor_id, a.patient_id) == (g.id, patients["P1"].id)
    assert a.at == dt.datetime(2026, 12, 3, 9, 30)
    assert (a.provider, a.location, a.reason, a.status) == (
        "Dr. Ann Okafor", "Main St clinic", "Annual physical", "scheduled")

    created = {kind: c.created for kind, c in result.counts.items()}
    assert created == {"groups": 1, "guarantors": 1, "patients": 2, "encounters": 1, "lines": 4,
                       "statements": 1, "receipts": 1, "appointments": 1}
    assert result.warnings == [] and result.changed
    # nothing else was written
    assert {name: len(rows) for name, rows in dump().items() if rows} == {
        "Group": 1, "Guarantor": 1, "Patient": 2, "Encounter": 1, "EncounterLine": 4, "Statement": 1,
        "StatementEncounter": 1, "Appointment": 1, "Receipt": 1, "ReceiptApplication": 1}


def test_importing_the_same_document_twice_changes_nothing(db):
    run(example())
    before = dump()
    result = run(example())
    assert dump() == before
    assert not result.changed
    for kind, counts in result.counts.items():
        assert (counts.created, counts.updated, counts.voided) == (0, 0, 0), kind
    assert result.counts["lines"].unchanged == 4
    assert result.counts["receipts"].unchanged == 1


def test_a_newer_document_updates_what_it_names_and_leaves_the_rest(db):
    run(example())
    newer = {
        "format": "pops-import/1",
        "groups": [{"code": "RFM", "name": "Riverside Family Medicine", "link_days": 30}],
        "guarantors": [{
            "account": "A1001", "group": "RFM", "first_name": "Maria", "last_name": "Lopez",
            "date_of_birth": "1981-04-12", "sms_opt_out": False, "escrow": "0.00", "unapplied": "0.00",
            "patients": [],
            "encounters": [
                {"id": "E9001", "patient": "P2", "date": "2026-09-14", "provider": "Dr. Ann Okafor",
                 "description": "Office visit", "in_collections": False,
                 "lines": [{"id": "1", "kind": "charge", "description": "Office visit, est. patient",
                            "amount": "200.00"}]},
                {"id": "E9002", "patient": "P1", "date": "2026-11-02", "provider": "Dr. Ben Hale",
                 "description": "Lab work", "in_collections": False,
                 "lines": [{"kind": "charge", "description": "Panel", "amount": "95.00"}]},
            ],
            "statements": [
                {"number": "S-2026-11-A1001", "date": "2026-11-05", "due_date": "2026-12-05",
                 "balance": "140.00", "amount_due": "140.00", "encounters": ["E9001", "E9002"]},
            ],
        }],
    }
    result = run(newer)

    group = Group.get(Group.code == "RFM")
    assert group.link_days == 30
    # options left out keep their value
    assert (group.brand_color, group.show_collections, group.timezone) == ("#0b6e4f", True, "America/Chicago")
    g = guarantor()
    # optional fields left out keep their value
    assert (g.preferred_name, g.email, g.mobile, g.city) == ("Mari", "maria@example.org", "+15555550123", "Springfield")
    assert Patient.select().count() == 2

    lines = lines_of("E9001")
    assert lines["1"].amount == D("200.00")
    assert lines["1"].code == "99213"  # left out: kept
    assert sorted(lines) == ["1", "2", "3", "4"]  # lines the document does not name stay
    assert Encounter.get(Encounter.ext_id == "E9001").facility_code == "MAIN"
    new_lines = lines_of("E9002")
    assert list(new_lines) == ["1"]  # a line without an id is known by its position
    assert new_lines["1"].date == dt.date(2026, 11, 2)
    assert new_lines["1"].provider == "Dr. Ben Hale"

    assert Statement.select().count() == 2
    old = Statement.get(Statement.number == "S-2026-10-A1001")
    assert [se.encounter.ext_id for se in old.statement_encounters] == ["E9001"]
    new = Statement.get(Statement.number == "S-2026-11-A1001")
    assert sorted(se.encounter.ext_id for se in new.statement_encounters) == ["E9001", "E9002"]
    assert Receipt.select().count() == 1 and Appointment.select().count() == 1

    c = result.counts
    assert (c["groups"].updated, c["guarantors"].unchanged, c["patients"].unchanged) == (1, 1, 0)
    assert (c["encounters"].unchanged, c["encounters"].created) == (1, 1)
    assert (c["lines"].updated, c["lines"].created, c["lines"].unchanged) == (1, 1, 0)
    assert (c["statements"].created, c["receipts"].unchanged) == (1, 0)

    # a statement's encounter list and a receipt's applications are replaced by the document's
    again = example()
    again["guarantors"][0]["statements"][0]["encounters"] = ["E9001"]
    newer["guarantors"][0]["statements"][0]["encounters"] = ["E9002"]
    run(newer)
    assert [se.encounter.ext_id for se in new.statement_encounters] == ["E9002"]
    again["guarantors"][0]["receipts"][0]["applications"] = [
        {"encounter": "E9001", "line": "1", "amount": "15.00"},
        {"encounter": "E9001", "line": "2", "amount": "5.00"},
    ]
    result = run(again)
    assert result.counts["receipts"].updated == 1
    applications = ReceiptApplication.select().order_by(ReceiptApplication.line_ext_id)
    assert [(a.line_ext_id, a.amount, a.source) for a in applications] == [
        ("1", D("15.00"), "import"), ("2", D("5.00"), "import")]


def test_void_removes_what_it_names(db):
    run(example())
    doc = example()
    g = doc["guarantors"][0]
    g["encounters"][0]["lines"] = [{"id": "3", "void": True}, {"id": "99", "void": True}]
    g["statements"] = [{"number": "S-2026-10-A1001", "void": True}]
    g["receipts"] = [{"number": "R-88412", "void": True}]
    g["appointments"] = [{"id": "AP-301", "void": True}]
    result = run(doc)

    assert sorted(lines_of()) == ["1", "2", "4"]
    assert Statement.select().count() == 0 and StatementEncounter.select().count() == 0
    assert Receipt.select().count() == 0 and ReceiptApplication.select().count() == 0
    assert Appointment.select().count() == 0
    c = result.counts
    assert (c["lines"].voided, c["lines"].unchanged) == (1, 1)  # line 99 never existed
    assert (c["statements"].voided, c["receipts"].voided, c["appointments"].voided) == (1, 1, 1)

    before = dump()
    again = run(doc)
    assert dump() == before and not again.changed


def test_voiding_an_encounter_removes_it_and_what_hangs_off_it(db):
    run(example())
    doc = example()
    g = doc["guarantors"][0]
    g["encounters"] = [{"id": "E9001", "void": True}]
    del g["statements"], g["receipts"]
    result = run(doc)
    assert result.counts["encounters"].voided == 1
    assert Encounter.select().count() == 0 and EncounterLine.select().count() == 0
    assert StatementEncounter.select().count() == 0 and ReceiptApplication.select().count() == 0
    # the statement and the receipt themselves were not named: they stay
    assert Statement.select().count() == 1 and Receipt.select().count() == 1


def test_voiding_an_encounter_with_pops_payments_is_refused(db):
    run(example())
    pops_receipt("P-1001", "5.00", dt.date(2026, 11, 20))
    doc = example()
    doc["guarantors"][0]["encounters"][0] = {"id": "E9001", "void": True}
    doc["guarantors"][0]["statements"][0]["void"] = True
    doc["guarantors"][0]["receipts"][0]["void"] = True
    before = dump()
    with pytest.raises(ImportRefused) as refused:
        run(doc)
    assert [str(p) for p in refused.value.problems] == [
        f'{E}.void: Encounter "E9001" has payments made in POPS applied; it cannot be voided.']
    assert dump() == before


# --- documents refused whole, every problem listed --------------------------------------------

def wrong_types(doc):
    doc["groups"][0]["show_collections"] = "yes"
    doc["groups"][0]["quickpay_max_uses"] = "10"
    doc["groups"][0]["desk_qr_minutes"] = 2.5
    g = doc["guarantors"][0]
    g["first_name"] = 7
    g["sms_opt_out"] = "no"
    g["address"] = "12 Elm St"
    g["encounters"][0]["in_collections"] = 0
    g["encounters"][0]["lines"][0]["description"] = None
    g["appointments"] = {"id": "AP-301"}
    g["receipts"][0]["applications"][0] = "E9001-1"
    return doc


WRONG_TYPES = {
    "$.groups[0].show_collections", "$.groups[0].quickpay_max_uses", "$.groups[0].desk_qr_minutes",
    f"{G}.first_name", f"{G}.sms_opt_out", f"{G}.address", f"{E}.in_collections", f"{L(0)}.description",
    f"{G}.appointments", f"{G}.receipts[0].applications[0]",
}


def bad_values(doc):
    group = doc["groups"][0]
    group.update(brand_color="green", timezone="Mars/Olympus", landing_page="account", link_days=0)
    g = doc["guarantors"][0]
    g["escrow"] = "-5.00"
    g["unapplied"] = "5"
    g["encounters"][0]["insurance_pending"] = "-1.00"
    g["encounters"][0]["lines"][3]["kind"] = "copay"
    g["statements"][0]["amount_due"] = "-25.00"
    r = g["receipts"][0]
    r.update(amount="-20.00", method="bitcoin", status="declined", source="web", last4="42")
    g["appointments"][0]["status"] = "maybe"
    g["patients"][0]["id"] = ""
    return doc


BAD_VALUES = {
    "$.groups[0].brand_color", "$.groups[0].timezone", "$.groups[0].landing_page", "$.groups[0].link_days",
    f"{G}.escrow", f"{G}.unapplied", f"{E}.insurance_pending", f"{L(3)}.kind",
    f"{G}.statements[0].amount_due", f"{G}.receipts[0].amount", f"{G}.receipts[0].method",
    f"{G}.receipts[0].status", f"{G}.receipts[0].source", f"{G}.receipts[0].last4",
    f"{G}.appointments[0].status", f"{G}.patients[0].id",
}


def negative_charge(doc):
    doc["guarantors"][0]["encounters"][0]["lines"][0]["amount"] = "-180.00"
    return doc


def unknown_group(doc):
    doc["guarantors"][0]["group"] = "NOPE"
    return doc


def duplicate_keys(doc):
    g = doc["guarantors"][0]
    twin = copy.deepcopy(g)  # the same account again, so its statement, receipt, appointment too
    doc["guarantors"].append(twin)
    doc["groups"].append(copy.deepcopy(doc["groups"][0]))
    g["patients"].append({"id": "P1", "first_name": "M", "last_name": "L", "date_of_birth": "1981-04-12"})
    lines = g["encounters"][0]["lines"]
    lines.append({"id": "2", "kind": "adjustment", "description": "again", "amount": "-1.00"})
    lines.append({"kind": "adjustment", "description": "sixth, no id", "amount": "-1.00"})
    lines.append({"id": "6", "kind": "adjustment", "description": "id 6 taken by position", "amount": "-1.00"})
    g["encounters"].append(copy.deepcopy(g["encounters"][0]))
    return doc


DUPLICATE_KEYS = {
    "$.groups[1].code", f"{G}.patients[2].id", f"{L(4)}.id", f"{L(6)}.id", f"{G}.encounters[1].id",
    "$.guarantors[1].account", "$.guarantors[1].statements[0].number", "$.guarantors[1].receipts[0].number",
    "$.guarantors[1].appointments[0].id",
}


def taken_by_another_account(doc):
    doc["guarantors"][0]["account"] = "A1002"
    return doc


TAKEN = {f"{G}.statements[0].number", f"{G}.receipts[0].number", f"{G}.appointments[0].id"}


def float_money(doc):
    doc["guarantors"][0]["encounters"][0]["lines"][0]["amount"] = 180.0
    doc["guarantors"][0]["statements"][0]["balance"] = 25.5
    return doc


def int_money(doc):
    doc["guarantors"][0]["escrow"] = 0
    doc["guarantors"][0]["receipts"][0]["amount"] = 20
    return doc


def missing_fields(doc):
    del doc["groups"][0]["name"]
    g = doc["guarantors"][0]
    del g["first_name"], g["escrow"]
    del g["address"]["zip"]
    e = g["encounters"][0]
    del e["date"], e["facility"]["name"]
    del e["lines"][1]["kind"], e["lines"][2]["amount"]
    del g["statements"][0]["due_date"]
    del g["receipts"][0]["applications"], g["receipts"][0]["status"]
    del g["appointments"][0]["status"]
    return doc


MISSING = {
    "$.groups[0].name", f"{G}.first_name", f"{G}.escrow", f"{G}.address.zip", f"{E}.date", f"{E}.facility.name",
    f"{L(1)}.kind", f"{L(2)}.amount", f"{G}.statements[0].due_date", f"{G}.receipts[0].applications",
    f"{G}.receipts[0].status", f"{G}.appointments[0].status",
}


def bad_dates(doc):
    g = doc["guarantors"][0]
    g["date_of_birth"] = "04/12/1981"
    g["encounters"][0]["date"] = "2026-02-30"
    g["encounters"][0]["lines"][1]["date"] = "2026-10-2"
    g["statements"][0]["due_date"] = "2026-10-31T00:00:00"
    g["appointments"][0]["at"] = "2026-12-03 09:30"
    g["receipts"][0]["date"] = "yesterday"
    return doc


BAD_DATES = {
    f"{G}.date_of_birth", f"{E}.date", f"{L(1)}.date", f"{G}.statements[0].due_date",
    f"{G}.appointments[0].at", f"{G}.receipts[0].date",
}


def bad_references(doc):
    g = doc["guarantors"][0]
    e = g["encounters"][0]
    e["patient"] = "P9"
    e["lines"][1]["applies_to"] = "7"
    e["lines"][2]["applies_to"] = "3"  # itself
    e["lines"][3]["applies_to"] = "2"  # an insurance payment, not a charge
    g["statements"][0]["encounters"] = ["E9001", "E404"]
    g["receipts"][0]["applications"] = [
        {"encounter": "E404", "line": "1", "amount": "10.00"},
        {"encounter": "E9001", "line": "9", "amount": "10.00"},
    ]
    g["appointments"][0]["patient"] = "P7"
    return doc


BAD_REFERENCES = {
    f"{E}.patient", f"{L(1)}.applies_to", f"{L(2)}.applies_to", f"{L(3)}.applies_to",
    f"{G}.statements[0].encounters[1]", f"{G}.receipts[0].applications[0].encounter",
    f"{G}.receipts[0].applications[1].line", f"{G}.appointments[0].patient",
}


def wrong_format(doc):
    doc["format"] = "pops-import/2"
    return doc


def missing_format(doc):
    del doc["format"]
    return doc


REFUSED = [
    pytest.param(wrong_types, WRONG_TYPES, "Must be", id="wrong-types"),
    pytest.param(bad_values, BAD_VALUES, "", id="bad-values"),
    pytest.param(negative_charge, {f"{L(0)}.amount"}, "A charge cannot be negative", id="negative-charge"),
    pytest.param(unknown_group, {f"{G}.group"}, "neither in this document nor in POPS", id="unknown-group"),
    pytest.param(duplicate_keys, DUPLICATE_KEYS, "more than once", id="duplicate-keys"),
    pytest.param(taken_by_another_account, TAKEN, "already belongs to account A1001", id="duplicate-in-database"),
    pytest.param(float_money, {f"{L(0)}.amount", f"{G}.statements[0].balance"},
                 'must be a decimal string like "25.00", not a number', id="float-money"),
    pytest.param(int_money, {f"{G}.escrow", f"{G}.receipts[0].amount"},
                 'must be a decimal string like "25.00", not a number', id="int-money"),
    pytest.param(missing_fields, MISSING, "Missing: every", id="missing-fields"),
    pytest.param(bad_dates, BAD_DATES, "", id="bad-dates"),
    pytest.param(bad_references, BAD_REFERENCES, "", id="bad-references"),
    pytest.param(wrong_format, {"$.format"}, 'Must be "pops-import/1"', id="wrong-format"),
    pytest.param(missing_format, {"$.format"}, 'needs "format"', id="missing-format"),
    pytest.param(lambda doc: '{"format": "pops-import/1", "groups": [,]}', {"$"},
                 "not valid JSON: Expecting value at line 1, column 40", id="invalid-json"),
    pytest.param(lambda doc: "[]", {"$"}, "Must be an object", id="not-an-object"),
]


@pytest.mark.parametrize(("mutate", "paths", "says"), REFUSED)
def test_a_bad_document_is_refused_whole_with_every_problem(db, mutate, paths, says):
    run(example())  # references to rows already in POPS resolve
    before = dump()
    with pytest.raises(ImportRefused) as refused:
        run(mutate(example()))
    problems = refused.value.problems
    assert sorted(p.path for p in problems) == sorted(paths), format_problems(problems)
    if says:
        assert all(says.lower() in p.message.lower() for p in problems), format_problems(problems)
    assert all(p.message.endswith(".") for p in problems)
    assert dump() == before


def test_refused_on_an_empty_database_too(db):
    with pytest.raises(ImportRefused) as refused:
        run(bad_references(example()))
    assert sorted(p.path for p in refused.value.problems) == sorted(BAD_REFERENCES)
    assert dump() == {m.__name__: [] for m in MODELS}


def test_a_document_with_many_problems_lists_them_all(db):
    doc = example()
    doc["format"] = "pops-import/0"
    doc["groups"][0]["brand_color"] = "#0b6e4"
    g = doc["guarantors"][0]
    g["escrow"] = 12.5
    del g["last_name"]
    g["patients"][1]["date_of_birth"] = "2015-8-30"
    e = g["encounters"][0]
    e["lines"][0]["amount"] = "-180.00"
    e["lines"][1]["amount"] = "-110"
    e["lines"][2]["kind"] = "writeoff"
    e["lines"][3]["applies_to"] = "12"
    g["encounters"].append({"id": "E9001", "patient": "P2", "date": "2026-09-15", "provider": "",
                            "description": "", "in_collections": False, "lines": []})
    g["encounters"].append({"id": "E9003", "void": True})
    g["statements"][0]["encounters"] = ["E9003"]
    g["receipts"][0]["amount"] = 20
    g["receipts"][0]["applications"][0]["line"] = "8"
    g["appointments"][0]["at"] = "2026-12-03"
    g["group"] = "RFX"
    g["nickname"] = "Mari"  # a warning, not an error

    errors, warnings = validate(load(json.dumps(doc)))
    expected = {
        "$.format": 'Must be "pops-import/1", not the text "pops-import/0".',
        "$.groups[0].brand_color": 'Must be a colour written #rrggbb, like "#0b6e4f", not the text "#0b6e4".',
        f"{G}.escrow": 'Must be a decimal string like "25.00", not a number (12.5).',
        f"{G}.last_name": 'Missing: every guarantor needs "last_name".',
        f"{G}.group": 'Group "RFX" is neither in this document nor in POPS.',
        f"{G}.patients[1].date_of_birth":
            'Must be a date written YYYY-MM-DD, like "2026-09-14", not the text "2015-8-30".',
        f"{L(0)}.amount": 'A charge cannot be negative (-180.00) unless it reverses another charge: '
                          'give "applies_to" naming the charge line of this encounter it reverses.',
        f"{L(1)}.amount": 'Must be an amount with two decimal places, like "25.00" or "-110.00", not the text "-110".',
        f"{L(2)}.kind": 'Must be "charge", "insurance_payment", "adjustment" or "patient_payment", '
                        'not the text "writeoff".',
        f"{L(3)}.applies_to": 'Line "12" is not a line of encounter "E9001", in this document or in POPS.',
        f"{G}.encounters[1].id":
            'Encounter "E9001" appears more than once in this document (first at $.guarantors[0].encounters[0]).',
        f"{G}.statements[0].encounters[0]":
            'Encounter "E9003" is voided in this document, so nothing can refer to it.',
        f"{G}.receipts[0].amount": 'Must be a decimal string like "25.00", not a number (20).',
        f"{G}.receipts[0].applications[0].line":
            'Line "8" is not a line of encounter "E9001", in this document or in POPS.',
        f"{G}.appointments[0].at": "Must be a local date and time written YYYY-MM-DDTHH:MM or "
                                   'YYYY-MM-DDTHH:MM:SS, like "2026-12-03T09:30:00", not the text "2026-12-03".',
    }
    assert {p.path: p.message for p in errors} == expected
    assert len(errors) == len(expected)
    assert [str(w) for w in warnings] == [f'{G}.nickname: Unknown field "nickname"; it was ignored.']

    with pytest.raises(ImportRefused) as refused:
        run(doc)
    assert str(refused.value) == format_problems(refused.value.problems)
    assert len(str(refused.value).splitlines()) == len(expected)
    assert dump() == {m.__name__: [] for m in MODELS}


def test_import_file_reads_utf8_json(db, tmp_path):
    path = tmp_path / "ledger.json"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.encode("utf-8"))  # a BOM is tolerated
    assert importer.import_file(path).counts["guarantors"].created == 1
    path.write_bytes(b'{"format": "pops-import/1", "groups": [], "guarantors": [], "x": "\xff"}')
    with pytest.raises(ImportRefused) as refused:
        importer.import_file(path)
    assert refused.value.problems[0].path == "$"
    assert "not UTF-8" in refused.value.problems[0].message


def test_load_keeps_numbers_as_written():
    doc = load('{"a": 25.10, "b": 3, "c": 1e400}')
    assert repr(doc["a"]) == "25.10" and doc["b"] == 3 and repr(doc["c"]) == "1e400"
    with pytest.raises(ImportRefused) as refused:
        load('{"a": 1,\n "b": }')
    assert [str(p) for p in refused.value.problems] == [
        "$: The document is not valid JSON: Expecting value at line 2, column 7."]


def test_a_field_given_twice_in_one_object_is_an_error(db):
    text = EXAMPLE.replace('"escrow": "0.00",', '"escrow": "0.00", "escrow": "9.00",')
    errors, _ = validate(load(text))
    assert [p.path for p in errors] == [f"{G}.escrow"]


# --- what the format allows --------------------------------------------------------------------

def test_a_negative_charge_that_reverses_a_charge_is_accepted(db):
    doc = example()
    doc["guarantors"][0]["encounters"][0]["lines"].append(
        {"id": "5", "kind": "charge", "description": "Reversal of 99213", "amount": "-180.00", "applies_to": "1"})
    run(doc)
    assert lines_of()["5"].amount == D("-180.00")
    # the reversed charge may also already be in POPS rather than in this document
    doc["guarantors"][0]["encounters"][0]["lines"] = [
        {"id": "6", "kind": "charge", "description": "Reversal again", "amount": "-1.00", "applies_to": "1"}]
    run(doc)
    assert sorted(lines_of()) == ["1", "2", "3", "4", "5", "6"]


def test_unknown_keys_are_warnings_not_errors(db):
    doc = example()
    doc["exported_by"] = "PM 9.1"
    doc["guarantors"][0]["nickname"] = "Mari"
    doc["guarantors"][0]["encounters"][0]["lines"][0]["modifier-1"] = "25"
    errors, warnings = validate(load(json.dumps(doc)))
    assert errors == []
    expected = ["$.exported_by", f"{G}.nickname", f'{L(0)}["modifier-1"]']
    assert [w.path for w in warnings] == expected
    result = run(doc)
    assert [w.path for w in result.warnings] == expected
    assert Guarantor.select().count() == 1


def test_a_group_in_pops_may_be_named_without_being_in_the_document(db):
    run(example())
    doc = example()
    doc["groups"] = []
    doc["guarantors"][0]["account"] = "A2002"
    for key in ("statements", "receipts", "appointments"):
        del doc["guarantors"][0][key]
    run(doc)
    assert guarantor("A2002").group.code == "RFM"


# --- contact changes made in the portal ---------------------------------------------------------

def test_a_contact_change_stands_against_the_old_value_and_clears_with_the_new(db, frozen_clock):
    run(example())
    g = guarantor()
    # the patient changes their email in Profile
    Guarantor.update(email="mari.lopez@example.net").where(Guarantor.id == g.id).execute()
    change = ContactChange.create(guarantor=g, field="email", old_value="maria@example.org",
                                  new_value="mari.lopez@example.net")

    before = dump()
    result = run(example())  # the PM system still has the old address
    assert guarantor().email == "mari.lopez@example.net"
    assert ContactChange.get_by_id(change.id).cleared_at is None
    assert [p.path for p in result.contacts_kept] == [f"{G}.email"]
    assert dump() == before and not result.changed

    doc = example()
    doc["guarantors"][0]["email"] = "someone.else@example.com"  # any other value: still kept
    run(doc)
    assert guarantor().email == "mari.lopez@example.net"

    doc["guarantors"][0]["email"] = "mari.lopez@example.net"  # the PM system caught up
    result = run(doc)
    assert guarantor().email == "mari.lopez@example.net"
    assert ContactChange.get_by_id(change.id).cleared_at == frozen_clock
    assert result.contacts_cleared == 1 and result.contacts_kept == []

    # cleared: from now on the PM system's value rules again
    run(example())
    assert guarantor().email == "maria@example.org"


# --- POPS payments posted back by the PM system ------------------------------------------------

def posted_back_line(doc, number: str, amount: str, on: str) -> dict:
    doc["guarantors"][0]["encounters"][0]["lines"].append(
        {"id": "5", "kind": "patient_payment", "description": "POPS payment", "amount": amount,
         "date": on, "receipt": number, "applies_to": "1"})
    return doc


def test_a_posted_back_pops_payment_is_counted_once(db):
    run(example())
    receipt = pops_receipt("P-1001", "10.00", dt.date(2026, 11, 20))
    # E9001: 180 - 110 - 25 - 20 = 25.00, less 10.00 paid in POPS
    b = ledger.balances_for(guarantor())
    assert (b.current_balance, b.amount_due) == (D("15.00"), D("15.00"))

    result = run(posted_back_line(example(), "P-1001", "-10.00", "2026-11-20"))
    assert result.posted_back == ["P-1001"]
    receipt = Receipt.get_by_id(receipt.id)
    assert receipt.posted_back is True
    assert (receipt.imported, receipt.amount, receipt.source) == (False, D("10.00"), "pops")
    # the PM system's line now carries the 10.00; POPS's application is kept but not counted
    assert [(a.amount, a.source) for a in receipt.applications] == [(D("10.00"), "pops")]
    b = ledger.balances_for(guarantor())
    assert (b.current_balance, b.amount_due) == (D("15.00"), D("15.00"))

    again = run(posted_back_line(example(), "P-1001", "-10.00", "2026-11-20"))
    assert again.posted_back == [] and not again.changed


def test_a_pops_receipt_in_the_receipts_list_only_marks_it_posted_back(db):
    run(example())
    receipt = pops_receipt("P-1001", "10.00", dt.date(2026, 11, 20))
    doc = posted_back_line(example(), "P-1001", "-10.00", "2026-11-20")
    doc["guarantors"][0]["receipts"].append(
        {"number": "P-1001", "date": "2026-11-21", "method": "check", "amount": "99.00", "status": "paid",
         "source": "pops", "applications": [{"encounter": "E9001", "line": "5", "amount": "10.00"}]})
    result = run(doc)
    assert result.posted_back == ["P-1001"]
    assert Receipt.select().where(Receipt.number == "P-1001").count() == 1
    after = Receipt.get_by_id(receipt.id)
    assert (after.posted_back, after.imported, after.source) == (True, False, "pops")
    # POPS's own fields are not overwritten, and its applications stay POPS's
    assert (after.method, after.amount, after.received_date) == ("card", D("10.00"), dt.date(2026, 11, 20))
    assert [(a.amount, a.source) for a in after.applications] == [(D("10.00"), "pops")]

    doc["guarantors"][0]["receipts"][-1]["source"] = "office"
    with pytest.raises(ImportRefused) as refused:
        run(doc)
    assert [p.path for p in refused.value.problems] == [f"{G}.receipts[1].source"]


def test_a_posted_back_line_naming_another_accounts_pops_receipt_is_a_warning(db):
    run(example())
    pops_receipt("P-1001", "10.00", dt.date(2026, 11, 20))
    doc = example()
    g = doc["guarantors"][0]
    g["account"] = "A1002"
    for key in ("statements", "receipts", "appointments"):
        del g[key]
    posted_back_line(doc, "P-1001", "-10.00", "2026-11-20")
    result = run(doc)
    assert [w.path for w in result.warnings] == [f"{L(4)}.receipt"]
    assert result.posted_back == []
    assert Receipt.get(Receipt.number == "P-1001").posted_back is False


def test_an_imported_refunded_receipt(db):
    doc = example()
    doc["guarantors"][0]["receipts"][0]["status"] = "refunded"
    del doc["guarantors"][0]["receipts"][0]["card_type"], doc["guarantors"][0]["receipts"][0]["last4"]
    run(doc)
    r = Receipt.get(Receipt.number == "R-88412")
    assert (r.status, r.refunded_amount, r.card_type, r.last4) == ("refunded", D("20.00"), "", "")


def test_a_pops_receipt_listed_without_a_line_naming_it_keeps_counting_in_pops(db):
    """receipts[] never change a balance: only a patient_payment line naming it takes a POPS payment over."""
    run(example())
    pops_receipt("P-1001", "10.00", dt.date(2026, 11, 20))
    doc = example()
    doc["guarantors"][0]["receipts"].append(
        {"number": "P-1001", "date": "2026-11-20", "method": "card", "amount": "10.00", "status": "paid",
         "source": "pops", "applications": []})
    result = run(doc)
    assert result.posted_back == [] and Receipt.get(Receipt.number == "P-1001").posted_back is False
    assert ledger.balances_for(guarantor()).current_balance == D("15.00")


def test_a_voided_post_back_line_gives_the_payment_back_to_pops(db):
    run(example())
    pops_receipt("P-1001", "10.00", dt.date(2026, 11, 20))
    run(posted_back_line(example(), "P-1001", "-10.00", "2026-11-20"))
    assert Receipt.get(Receipt.number == "P-1001").posted_back is True
    doc = example()
    doc["guarantors"][0]["encounters"][0]["lines"].append({"id": "5", "void": True})
    run(doc)
    assert Receipt.get(Receipt.number == "P-1001").posted_back is False
    b = ledger.balances_for(guarantor())
    assert (b.current_balance, b.amount_due) == (D("15.00"), D("15.00"))  # counted once, by POPS again


@pytest.mark.parametrize("field, changed, incoming", [
    ("mobile", "+15555550199", "(555) 555-0199"),
    ("mobile", "+15555550199", "1-555-555-0199"),
    ("email", "mari.lopez@example.net", "Mari.Lopez@Example.NET"),
])
def test_a_contact_change_clears_however_the_pm_system_writes_the_new_value(db, field, changed, incoming):
    run(example())
    g = guarantor()
    Guarantor.update(**{field: changed}).where(Guarantor.id == g.id).execute()
    change = ContactChange.create(guarantor=g, field=field, old_value="", new_value=changed)
    doc = example()
    doc["guarantors"][0][field] = incoming
    result = run(doc)
    assert ContactChange.get_by_id(change.id).cleared_at is not None and result.contacts_cleared == 1


def test_a_posted_back_receipt_shows_where_the_pm_system_applied_it(db):
    from pops import accounts

    run(example())
    doc = example()
    doc["guarantors"][0]["encounters"].append(
        {"id": "E9002", "patient": "P1", "date": "2026-10-05", "provider": "Dr. Ann Okafor", "description": "Lab",
         "in_collections": False, "lines": [{"id": "1", "kind": "charge", "description": "Lab", "amount": "40.00"}]})
    run(doc)
    receipt = pops_receipt("P-1001", "10.00", dt.date(2026, 11, 20))  # POPS applied it to E9001
    doc["guarantors"][0]["encounters"][1]["lines"].append(
        {"id": "2", "kind": "patient_payment", "description": "POPS payment", "amount": "-10.00",
         "date": "2026-11-20", "receipt": "P-1001", "applies_to": "1"})
    run(doc)
    detail = accounts.receipt_detail(Receipt.get_by_id(receipt.id))
    assert [(i.service_id, i.amount) for i in detail.items] == [("E9002-1", D("10.00"))]
