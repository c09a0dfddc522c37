"""What the portal pages show, from a ledger built by hand with every figure worked out below."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pops import accounts, clock
from pops.db import database
from pops.models import (
    Appointment,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    Patient,
    Receipt,
    ReceiptApplication,
    Statement,
    StatementEncounter,
    Transaction,
)

D = Decimal
UTC = dt.timezone.utc

# The account of Maria Lopez (A1001), worked by hand. Statements: S-0 (2026-09-01, 30.00 due)
# and S-1 (2026-10-01, 95.00 due), the last one.
#   E0 2026-08-10 Maria, Dr. Okafor, Main St: 100.00 - 60.00 insurance - 10.00 adjusted
#                 - 30.00 paid (office receipt R-OFF1, 2026-09-10)                       =   0.00
#   E1 2026-09-14 Leo, Dr. Okafor, Main St:  line 1 180.00 - 110.00 ins - 25.00 adj - 20.00 paid
#                 (mail receipt R-OFF2) = 25.00; line 2 40.00 - 10.00 adj = 30.00;
#                 POPS receipt R-POPS1 30.00 (2026-10-20) names no line: 25.00 to line 1,
#                 5.00 to line 2                                                          =  25.00
#   E2 2026-09-20 Maria, Dr. Chen, Lab: 60.00, 20.00 insurance pending                   =  40.00
#   E3 2026-10-15 Maria, Dr. Okafor, Main St: 120.00 - 80.00 insurance (after S-1)        =  40.00
#   E4 2026-07-01 Maria, in collections: 200.00                                          = 200.00
#   R-POPS2 50.00 applied to E2 then refunded in full (+50.00 and -50.00): counts nothing.
#   R-POPS3 a declined card: $0.00, Unsuccessful.
# Current Balance 25 + 40 + 40 = 105.00; Collections 200.00.
# Amount Due: 95.00 on S-1 - 30.00 POPS paid after it = 65.00.
# S-0 paid (30 + 20 + 30 paid after 2026-09-01 >= 30.00); S-1 unpaid (30.00 < 95.00).
CURRENT_BALANCE = D("105.00")
AMOUNT_DUE = D("65.00")
COLLECTIONS = D("200.00")


def _line(encounter, ext_id, kind, amount, date=None, applies_to="", receipt=""):
    return EncounterLine.create(encounter=encounter, ext_id=ext_id, kind=kind, description=kind.replace("_", " "),
                                code="99213" if kind == "charge" else "", amount=D(amount),
                                date=date or encounter.date, applies_to=applies_to, receipt_number=receipt)


def _encounter(guarantor, ext_id, patient, date, provider, facility, pending="0.00", collections=False):
    code, name = facility
    return Encounter.create(guarantor=guarantor, ext_id=ext_id, patient=patient, date=date, provider=provider,
                            facility_code=code, facility_name=name, description=f"Visit {ext_id}",
                            insurance_pending=D(pending), in_collections=collections)


def _receipt(guarantor, number, source, day, amount, status="paid", refunded="0.00", method="card",
             card_type="Visa", last4="4242"):
    return Receipt.create(number=number, guarantor=guarantor, source=source, received_date=day,
                          received_at=dt.datetime.combine(day, dt.time(15), tzinfo=UTC), method=method,
                          card_type=card_type, last4=last4, amount=D(amount), refunded_amount=D(refunded),
                          status=status, imported=source != "pops")


MAIN = ("MAIN", "Main St clinic")
LAB = ("LAB", "Riverside Lab")


def build_ledger(guarantor):
    """Maria's account as worked out above; returns the rows a test may want by name."""
    maria = Patient.create(guarantor=guarantor, ext_id="P1", first_name="Maria", last_name="Lopez")
    leo = Patient.create(guarantor=guarantor, ext_id="P2", first_name="Leo", last_name="Lopez")
    e0 = _encounter(guarantor, "E0", maria, dt.date(2026, 8, 10), "Dr. Ann Okafor", MAIN)
    _line(e0, "1", "charge", "100.00")
    _line(e0, "2", "insurance_payment", "-60.00", dt.date(2026, 8, 25), "1")
    _line(e0, "3", "adjustment", "-10.00", dt.date(2026, 8, 25), "1")
    _line(e0, "4", "patient_payment", "-30.00", dt.date(2026, 9, 10), "1", "R-OFF1")
    e1 = _encounter(guarantor, "E1", leo, dt.date(2026, 9, 14), "Dr. Ann Okafor", MAIN)
    _line(e1, "1", "charge", "180.00")
    _line(e1, "2", "charge", "40.00")
    _line(e1, "3", "insurance_payment", "-110.00", dt.date(2026, 9, 28), "1")
    _line(e1, "4", "adjustment", "-25.00", dt.date(2026, 9, 28), "1")
    _line(e1, "5", "patient_payment", "-20.00", dt.date(2026, 9, 14), "1", "R-OFF2")
    _line(e1, "6", "adjustment", "-10.00", dt.date(2026, 9, 28), "2")
    e2 = _encounter(guarantor, "E2", maria, dt.date(2026, 9, 20), "Dr. Wei Chen", LAB, pending="20.00")
    _line(e2, "1", "charge", "60.00")
    e3 = _encounter(guarantor, "E3", maria, dt.date(2026, 10, 15), "Dr. Ann Okafor", MAIN)
    _line(e3, "1", "charge", "120.00")
    _line(e3, "2", "insurance_payment", "-80.00", dt.date(2026, 11, 2), "1")
    e4 = _encounter(guarantor, "E4", maria, dt.date(2026, 7, 1), "Dr. Ann Okafor", MAIN, collections=True)
    _line(e4, "1", "charge", "200.00")

    s0 = Statement.create(guarantor=guarantor, number="S-0", date=dt.date(2026, 9, 1), due_date=dt.date(2026, 9, 26),
                          balance=D("30.00"), amount_due=D("30.00"))
    StatementEncounter.create(statement=s0, encounter=e0)
    s1 = Statement.create(guarantor=guarantor, number="S-1", date=dt.date(2026, 10, 1),
                          due_date=dt.date(2026, 10, 26), balance=D("95.00"), amount_due=D("95.00"))
    StatementEncounter.create(statement=s1, encounter=e1)
    StatementEncounter.create(statement=s1, encounter=e2)

    off1 = _receipt(guarantor, "R-OFF1", "office", dt.date(2026, 9, 10), "30.00", card_type="Visa", last4="1111")
    ReceiptApplication.create(receipt=off1, encounter=e0, line_ext_id="1", amount=D("30.00"), source="import")
    off2 = _receipt(guarantor, "R-OFF2", "mail", dt.date(2026, 9, 14), "20.00", method="check", card_type="", last4="")
    ReceiptApplication.create(receipt=off2, encounter=e1, line_ext_id="1", amount=D("20.00"), source="import")
    pops1 = _receipt(guarantor, "R-POPS1", "pops", dt.date(2026, 10, 20), "30.00", card_type="Mastercard", last4="4444")
    ReceiptApplication.create(receipt=pops1, encounter=e1, line_ext_id="", amount=D("30.00"))
    Transaction.create(receipt=pops1, number="TX-1001", amount=D("30.00"))
    pops2 = _receipt(guarantor, "R-POPS2", "pops", dt.date(2026, 11, 1), "50.00", status="refunded", refunded="50.00")
    ReceiptApplication.create(receipt=pops2, encounter=e2, amount=D("50.00"))
    ReceiptApplication.create(receipt=pops2, encounter=e2, amount=D("-50.00"))
    Transaction.create(receipt=pops2, number="TX-1002", amount=D("50.00"))
    Transaction.create(receipt=pops2, number="TX-1003", kind="refund", amount=D("50.00"))
    pops3 = _receipt(guarantor, "R-POPS3", "pops", dt.date(2026, 11, 20), "0.00", status="unsuccessful")
    Transaction.create(receipt=pops3, number="TX-1004", amount=D("0.00"), status="declined")

    # Appointment times are Chicago time; the clock (2026-11-23 15:00 UTC) reads 09:00 there.
    Appointment.create(guarantor=guarantor, ext_id="AP1", patient=maria, at=dt.datetime(2026, 11, 23, 9, 30),
                       provider="Dr. Ann Okafor", location="Main St clinic", reason="Follow-up visit")
    Appointment.create(guarantor=guarantor, ext_id="AP2", patient=leo, at=dt.datetime(2026, 11, 23, 8, 30),
                       provider="Dr. Ann Okafor", location="Main St clinic", reason="Flu shot", status="completed")
    Appointment.create(guarantor=guarantor, ext_id="AP3", patient=leo, at=dt.datetime(2026, 12, 10, 10, 0),
                       provider="Dr. Ann Okafor", location="Main St clinic", reason="Sports physical")
    Appointment.create(guarantor=guarantor, ext_id="AP4", patient=maria, at=dt.datetime(2026, 6, 1, 14, 0),
                       provider="Dr. Wei Chen", location="Riverside Lab", reason="Lab work", status="completed")
    return {"maria": maria, "leo": leo, "s0": s0, "s1": s1, "pops1": pops1, "off1": off1}


def other_account(group):
    """Another guarantor with a statement and a receipt of their own."""
    other = Guarantor.create(account="A2002", group=group, first_name="Ben", last_name="Ortiz",
                             date_of_birth=dt.date(1970, 1, 1))
    patient = Patient.create(guarantor=other, ext_id="P1", first_name="Ben", last_name="Ortiz")
    e = _encounter(other, "E1", patient, dt.date(2026, 9, 1), "Dr. Ann Okafor", MAIN)
    _line(e, "1", "charge", "75.00")
    Statement.create(guarantor=other, number="S-OTHER", date=dt.date(2026, 10, 1), due_date=dt.date(2026, 10, 26),
                     balance=D("75.00"), amount_due=D("75.00"))
    _receipt(other, "R-OTHER", "office", dt.date(2026, 9, 2), "10.00")
    return other


@pytest.fixture
def ledger_rows(guarantor):
    return build_ledger(guarantor)


def _line_figures(visit):
    return [(l.service_id, l.billed, l.adjusted, l.insurance_paid, l.patient_paid, l.remaining) for l in visit.lines]


def test_account_figures(guarantor, ledger_rows):
    detail = accounts.account_detail(guarantor)
    b = detail.balances
    assert (b.amount_due, b.current_balance, b.collections, b.statement_balance) == (
        AMOUNT_DUE, CURRENT_BALANCE, COLLECTIONS, D("95.00"))
    assert b.last_statement.number == "S-1"


def test_visits_since_last_statement_line_by_line(guarantor, ledger_rows):
    detail = accounts.account_detail(guarantor)
    [group] = detail.since_last_statement
    assert (group.facility, group.provider, group.patient) == ("Main St clinic", "Dr. Ann Okafor", "Maria Lopez")
    [visit] = group.visits
    assert _line_figures(visit) == [("E3-1", D("120.00"), D("0.00"), D("80.00"), D("0.00"), D("40.00"))]


def test_history_shows_open_balances_grouped_by_facility_provider_patient(guarantor, ledger_rows):
    detail = accounts.account_detail(guarantor)
    assert [(g.facility, g.provider, g.patient) for g in detail.history] == [
        ("Riverside Lab", "Dr. Wei Chen", "Maria Lopez"),  # E2, the latest visit first
        ("Main St clinic", "Dr. Ann Okafor", "Leo Lopez"),  # E1
    ]
    assert detail.history_paid_hidden == 1  # E0 is paid in full
    e2 = detail.history[0].visits[0]
    assert e2.balance == D("40.00") and e2.insurance_pending == D("20.00")
    assert _line_figures(e2) == [("E2-1", D("60.00"), D("0.00"), D("0.00"), D("0.00"), D("40.00"))]
    e1 = detail.history[1].visits[0]
    # R-POPS1's 30.00 names no line: the first charge's 25.00, then 5.00 of the second.
    assert _line_figures(e1) == [
        ("E1-1", D("180.00"), D("25.00"), D("110.00"), D("45.00"), D("0.00")),
        ("E1-2", D("40.00"), D("10.00"), D("0.00"), D("5.00"), D("25.00")),
    ]
    assert e1.balance == D("25.00") == sum(l.remaining for l in e1.lines)
    # Collections stay apart from the visit lists.
    assert [v.encounter.ext_id for v in detail.collections] == ["E4"]


def test_history_can_show_every_visit(guarantor, ledger_rows):
    detail = accounts.account_detail(guarantor, history_all=True)
    shown = [v.encounter.ext_id for g in detail.history for v in g.visits]
    assert sorted(shown) == ["E0", "E1", "E2"]
    e0 = next(v for g in detail.history for v in g.visits if v.encounter.ext_id == "E0")
    assert _line_figures(e0) == [("E0-1", D("100.00"), D("10.00"), D("60.00"), D("30.00"), D("0.00"))]
    assert detail.history_paid_hidden == 0


def test_a_posted_back_pops_payment_counts_once(guarantor, ledger_rows):
    # The PM system now carries R-POPS1 as its own line on E1: POPS's application no longer counts.
    e1 = Encounter.get(Encounter.ext_id == "E1")
    _line(e1, "7", "patient_payment", "-30.00", dt.date(2026, 10, 20), "", "R-POPS1")
    Receipt.update(posted_back=True).where(Receipt.number == "R-POPS1").execute()
    detail = accounts.account_detail(guarantor)
    visit = detail.history[1].visits[0]
    assert visit.balance == D("25.00")
    assert sum(l.patient_paid for l in visit.lines) == D("50.00")


def test_account_detail_queries_do_not_grow_with_the_ledger(guarantor, ledger_rows):
    def count_queries():
        executed = []
        original = database.obj.execute_sql

        def spy(sql, *args, **kwargs):
            executed.append(sql)
            return original(sql, *args, **kwargs)

        database.obj.execute_sql = spy
        try:
            accounts.account_detail(guarantor, history_all=True)
        finally:
            del database.obj.execute_sql
        return len(executed)

    before = count_queries()
    patient = ledger_rows["maria"]
    for n in range(10):
        e = _encounter(guarantor, f"EX{n}", patient, dt.date(2026, 5, 1 + n), "Dr. Ann Okafor", MAIN)
        _line(e, "1", "charge", "10.00")
        _line(e, "2", "adjustment", "-1.00", applies_to="1")
    assert count_queries() == before


def test_statements_paid_and_unpaid_by_due_date(guarantor, ledger_rows):
    rows = accounts.statements_for(guarantor)
    assert [(r.statement.number, r.paid) for r in rows] == [("S-1", False), ("S-0", True)]
    assert [r.statement.number for r in accounts.statements_for(guarantor, hide_paid=True)] == ["S-1"]


def test_statement_detail_lists_its_encounters_as_of_its_date(guarantor, ledger_rows):
    detail = accounts.statement_detail(ledger_rows["s1"])
    assert [v.encounter.ext_id for v in detail.visits] == ["E1", "E2"]
    e1 = detail.visits[0]
    # Every E1 line is dated on or before 2026-10-01.
    assert [l.ext_id for l in e1.lines] == ["1", "2", "5", "3", "4", "6"]
    assert e1.total == D("55.00")
    assert not detail.paid


def test_ownership_lives_in_the_loaders(guarantor, ledger_rows, group):
    other_account(group)
    assert accounts.get_statement("S-1", guarantor).number == "S-1"
    assert accounts.get_statement("S-OTHER", guarantor) is None
    assert accounts.get_receipt("R-POPS1", guarantor).number == "R-POPS1"
    assert accounts.get_receipt("R-OTHER", guarantor) is None
    assert accounts.get_receipt("nope", guarantor) is None


def test_receipts_newest_first_with_declines_at_zero(guarantor, ledger_rows):
    rows = accounts.receipts_for(guarantor)
    assert [(r.receipt.number, r.receipt.status, r.shown_amount, r.transactions) for r in rows] == [
        ("R-POPS3", "unsuccessful", D("0.00"), 1),
        ("R-POPS2", "refunded", D("50.00"), 2),
        ("R-POPS1", "paid", D("30.00"), 1),
        ("R-OFF2", "paid", D("20.00"), 0),
        ("R-OFF1", "paid", D("30.00"), 0),
    ]


def test_receipt_detail_names_patient_provider_location_and_service(guarantor, ledger_rows):
    detail = accounts.receipt_detail(ledger_rows["off1"])
    [item] = detail.items
    assert (item.patient, item.provider, item.location, item.service_id, item.amount) == (
        "Maria Lopez", "Dr. Ann Okafor", "Main St clinic", "E0-1", D("30.00"))
    assert item.service == "charge"  # the charge line's description
    refunded = accounts.receipt_detail(Receipt.get(Receipt.number == "R-POPS2"))
    assert [(i.service_id, i.amount) for i in refunded.items] == [("E2", D("50.00"))]
    assert [(t.number, t.kind, t.amount) for t in refunded.transactions] == [
        ("TX-1002", "sale", D("50.00")), ("TX-1003", "refund", D("50.00"))]


def test_appointments_upcoming_in_the_practice_time_zone(guarantor, ledger_rows):
    found = accounts.appointments_for(guarantor)
    # 09:30 Chicago is still ahead at 09:00 Chicago (15:00 UTC), though 09:30 < 15:00.
    assert [a.ext_id for a in found.upcoming] == ["AP1", "AP3"]
    assert [a.ext_id for a in found.past] == ["AP2", "AP4"]
    clock.advance(minutes=31)
    assert [a.ext_id for a in accounts.appointments_for(guarantor).upcoming] == ["AP3"]


def test_appointments_for_one_patient(guarantor, ledger_rows, group):
    leo = ledger_rows["leo"]
    found = accounts.appointments_for(guarantor, leo.id)
    assert found.patient.id == leo.id
    assert [a.ext_id for a in found.upcoming + found.past] == ["AP3", "AP2"]
    # Someone else's patient is not a filter: every patient of this guarantor is shown.
    stranger = Patient.get(Patient.guarantor == other_account(group).id)
    assert len(accounts.appointments_for(guarantor, stranger.id).past) == 2


def test_mark_viewed_once_and_never_by_a_mirror(guarantor, ledger_rows):
    from pops import sessions
    from pops.models import Staff

    staff = Staff.create(email="desk@example.org", password_hash="x", totp_secret="x")
    _, mirror = sessions.start_patient(guarantor, "staff_mirror", "staff", staff=staff)
    _, own = sessions.start_patient(guarantor, "sign_in", "code")
    s1 = ledger_rows["s1"]
    assert accounts.mark_viewed(s1, mirror) is False
    assert Statement.get_by_id(s1.id).first_viewed_at is None
    assert accounts.mark_viewed(s1, own) is True
    first = Statement.get_by_id(s1.id).first_viewed_at
    assert first == clock.now()
    clock.advance(hours=1)
    assert accounts.mark_viewed(Statement.get_by_id(s1.id), own) is False
    assert Statement.get_by_id(s1.id).first_viewed_at == first


def test_latest_and_newest_unopened_statement(guarantor, ledger_rows):
    assert accounts.latest_statement(guarantor).number == "S-1"
    assert accounts.newest_unopened_statement(guarantor).number == "S-1"
    Statement.update(first_viewed_at=clock.now()).where(Statement.number == "S-1").execute()
    # an older statement never opened is history, not news: no notice once the latest was opened
    assert accounts.newest_unopened_statement(guarantor) is None
