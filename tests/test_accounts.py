"""What the portal pages show, from a ledger built by hand with every figure worked out (factories.build_ledger)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pops import accounts, clock, portal_lists
from pops.models import Encounter, Patient, Receipt, Statement

from factories import (
    AMOUNT_DUE,
    COLLECTIONS,
    CURRENT_BALANCE,
    MAIN,
    make_staff,
    other_account,
    patient_session,
    pm_line,
    pm_visit,
)
from http_helpers import counting_statements

D = Decimal


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
    pm_line(e1, "7", "patient_payment", "-30.00", dt.date(2026, 10, 20), "", "R-POPS1")
    Receipt.update(posted_back=True).where(Receipt.number == "R-POPS1").execute()
    detail = accounts.account_detail(guarantor)
    visit = detail.history[1].visits[0]
    assert visit.balance == D("25.00")
    assert sum(l.patient_paid for l in visit.lines) == D("50.00")


def test_account_detail_queries_do_not_grow_with_the_ledger(guarantor, ledger_rows):
    def count_queries():
        with counting_statements() as executed:
            accounts.account_detail(guarantor, history_all=True)
        return len(executed)

    before = count_queries()
    patient = ledger_rows["maria"]
    for n in range(10):
        e = pm_visit(guarantor, f"EX{n}", patient, dt.date(2026, 5, 1 + n), "Dr. Ann Okafor", MAIN)
        pm_line(e, "1", "charge", "10.00")
        pm_line(e, "2", "adjustment", "-1.00", applies_to="1")
    assert count_queries() == before


def test_statements_paid_and_unpaid_by_due_date(guarantor, ledger_rows):
    rows = portal_lists.statements_for(guarantor)
    assert [(r.statement.number, r.paid) for r in rows] == [("S-1", False), ("S-0", True)]
    assert [r.statement.number for r in portal_lists.statements_for(guarantor, hide_paid=True)] == ["S-1"]


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
    rows = portal_lists.receipts_for(guarantor)
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
    _, mirror = patient_session(guarantor, origin="staff_mirror", staff=make_staff())
    _, own = patient_session(guarantor)
    s1 = ledger_rows["s1"]
    assert accounts.mark_viewed(s1, mirror) is False
    assert Statement.get_by_id(s1.id).first_viewed_at is None
    assert accounts.mark_viewed(s1, own) is True
    first = Statement.get_by_id(s1.id).first_viewed_at
    assert first == clock.now()
    clock.advance(hours=1)
    assert accounts.mark_viewed(Statement.get_by_id(s1.id), own) is False
    assert Statement.get_by_id(s1.id).first_viewed_at == first


def test_latest_and_new_statement(guarantor, ledger_rows):
    assert accounts.latest_statement(guarantor).number == "S-1"
    assert [r.statement.number for r in portal_lists.statements_for(guarantor) if r.new] == ["S-1"]
    Statement.update(first_viewed_at=clock.now()).where(Statement.number == "S-1").execute()
    # an older statement never opened is history, not news: nothing is New once the latest was opened
    assert [r.statement.number for r in portal_lists.statements_for(guarantor) if r.new] == []
