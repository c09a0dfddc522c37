"""A patient's page may keep an account's facts between visits (pops.ledger.reusing_facts), and they hold only
while the account's ledger version stands: the database writes a new one in the same statement as any change
to a row the facts are read from (migration 0014's triggers), and the page reads it with its session.
On SQLite, and on PostgreSQL with POPS_TEST_DATABASE_URL."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest

from pops import clock, ledger, sessions
from pops import db as pops_db
from pops.models import (
    Appointment,
    Encounter,
    EncounterLine,
    Guarantor,
    LedgerVersion,
    PatientSession,
    PaymentAttempt,
    Receipt,
    ReceiptApplication,
    Statement,
    Transaction,
)
from pops.plans.tables import Instalment, PaymentPlan, PlanNotice, PlanOffer

from factories import add_line, make_encounter, make_receipt, make_statement
from http_helpers import counting_statements, sign_in_as


def version(guarantor: Guarantor) -> int | None:
    row = LedgerVersion.get_or_none(LedgerVersion.guarantor_id == guarantor.id)
    return None if row is None else row.version


def _line(encounter: str, line: str) -> EncounterLine:
    return EncounterLine.get((EncounterLine.encounter == Encounter.get(Encounter.ext_id == encounter).id)
                             & (EncounterLine.ext_id == line))


def _plan(g: Guarantor) -> PaymentPlan:
    offer = PlanOffer.create(key="k" * 30, guarantor=g, terms="{}", authorisation="", authorisation_version="x")
    attempt = PaymentAttempt.create(key="a" * 24, guarantor=g, entrance="plan", amount=D("20.00"), amount_choice="plan",
                                    status=PaymentAttempt.PAID, created_at=clock.now(), updated_at=clock.now())
    plan = PaymentPlan.create(guarantor=g, offer=offer, key=offer.key, balance=D("120.00"), down_payment=D("20.00"),
                              months=2, day_of_month=1, first_attempt=attempt)
    Instalment.create(plan=plan, number=1, due_date=dt.date(2027, 1, 1), amount=D("50.00"))
    return plan


def _receipt_without_transactions(rows, guarantor) -> Receipt:
    receipt = Receipt.get(Receipt.number == "R-POPS3")
    Transaction.delete().where(Transaction.receipt == receipt).execute()
    return receipt


# name -> (setup(rows, guarantor) -> thing, change(thing, guarantor)): the change moves the version, not the setup's
CHANGES = {
    "encounter added": (lambda rows, g: None, lambda _, g: make_encounter(g, "E-NEW", patient=None)),
    "encounter changed": (lambda rows, g: Encounter.get(Encounter.ext_id == "E2"),
                          lambda e, g: Encounter.update(insurance_pending=D("5.00")).where(Encounter.id == e.id).execute()),
    "encounter deleted": (lambda rows, g: Encounter.get(Encounter.ext_id == "E3"),
                          lambda e, g: Encounter.delete().where(Encounter.id == e.id).execute()),
    "line added": (lambda rows, g: Encounter.get(Encounter.ext_id == "E2"), lambda e, g: add_line(e, "9", "charge", "5.00")),
    "line changed": (lambda rows, g: _line("E2", "1"),
                     lambda line, g: EncounterLine.update(amount=D("61.00")).where(EncounterLine.id == line.id).execute()),
    "line deleted": (lambda rows, g: _line("E3", "2"),
                     lambda line, g: EncounterLine.delete().where(EncounterLine.id == line.id).execute()),
    "application added": (lambda rows, g: rows["pops1"], lambda r, g: ReceiptApplication.create(
        receipt=r, encounter=Encounter.get(Encounter.ext_id == "E3"), amount=D("1.00"))),
    "application changed": (lambda rows, g: rows["pops1"], lambda r, g: ReceiptApplication.update(
        amount=D("29.00")).where(ReceiptApplication.receipt == r.id).execute()),
    "application deleted": (lambda rows, g: rows["pops1"], lambda r, g: ReceiptApplication.delete().where(
        ReceiptApplication.receipt == r.id).execute()),
    "statement added": (lambda rows, g: None, lambda _, g: make_statement(g, "S-9", balance="1.00")),
    "statement viewed": (lambda rows, g: rows["s1"], lambda s, g: Statement.update(
        first_viewed_at=clock.now()).where(Statement.id == s.id).execute()),
    "statement deleted": (lambda rows, g: rows["s0"], lambda s, g: Statement.delete().where(Statement.id == s.id).execute()),
    "receipt added": (lambda rows, g: None, lambda _, g: make_receipt(g, "R-NEW", "1.00", dt.date(2026, 11, 22))),
    "receipt refunded": (lambda rows, g: rows["pops1"], lambda r, g: Receipt.update(
        refunded_amount=D("30.00"), status="refunded").where(Receipt.id == r.id).execute()),
    "receipt deleted": (_receipt_without_transactions, lambda r, g: Receipt.delete().where(Receipt.id == r.id).execute()),
    "plan added": (lambda rows, g: None, lambda _, g: _plan(g)),
    "plan changed": (lambda rows, g: _plan(g), lambda p, g: PaymentPlan.update(status="on_hold").where(
        PaymentPlan.id == p.id).execute()),
    "instalment paid": (lambda rows, g: _plan(g), lambda p, g: Instalment.update(status="paid").where(
        Instalment.plan == p.id).execute()),
    "instalment deleted": (lambda rows, g: _plan(g), lambda p, g: Instalment.delete().where(
        Instalment.plan == p.id).execute()),
    "first payment's amount": (lambda rows, g: _plan(g), lambda p, g: PaymentAttempt.update(amount=D("25.00")).where(
        PaymentAttempt.id == p.first_attempt_id).execute()),
    "notice added": (lambda rows, g: _plan(g), lambda p, g: PlanNotice.create(guarantor=g, plan=p, kind="plan_paused",
                                                                              channel="page", ref="x")),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_to_what_the_facts_are_read_from_moves_that_accounts_version_only(guarantor, ledger_rows,
                                                                                       second, change):
    setup, do = CHANGES[change]
    thing = setup(ledger_rows, guarantor)
    make_encounter(second, "E-SAM", charge="10.00")
    before, others = version(guarantor), version(second)
    assert before is not None and others is not None
    do(thing, guarantor)
    assert version(guarantor) != before
    assert version(second) == others


def test_what_the_facts_do_not_read_leaves_the_version_alone(guarantor, ledger_rows):
    before = version(guarantor)
    Guarantor.update(email="new@example.org").where(Guarantor.id == guarantor.id).execute()
    Appointment.update(reason="Changed").where(Appointment.guarantor == guarantor.id).execute()
    PaymentAttempt.create(key="b" * 24, guarantor=guarantor, entrance="portal", amount=D("5.00"), amount_choice="other",
                          status=PaymentAttempt.PENDING, created_at=clock.now(), updated_at=clock.now())
    assert version(guarantor) == before


def _as_a_page_reads_it(token: str) -> Guarantor:
    """The session's guarantor as a page reads it: with its group and ledger version (pops.sessions)."""
    return sessions.load(PatientSession, token, touch=False).guarantor


def test_a_page_reads_the_facts_once_for_a_version_and_again_when_it_moves(guarantor, ledger_rows):
    token, _ = sessions.start_patient(guarantor, "sign_in", "code")
    with ledger.reusing_facts():
        first = ledger.read_account(_as_a_page_reads_it(token))
        with counting_statements() as executed:
            again = ledger.read_account(_as_a_page_reads_it(token))
        assert len(executed) == 1 and again is first  # the session's statement only
        make_receipt(guarantor, "R-NEW", "10.00", dt.date(2026, 11, 22))
        with counting_statements() as executed:
            moved = ledger.read_account(_as_a_page_reads_it(token))
        assert len(executed) == 2 and moved is not first
        assert moved.facts.patient_payments != first.facts.patient_payments
    with counting_statements() as executed:  # a form, a job, a report: read afresh every time
        assert ledger.read_account(guarantor).facts == moved.facts
        ledger.read_account(_as_a_page_reads_it(token))
    assert len(executed) == 3


def test_a_kept_accounts_plan_notices_still_end_after_30_days(guarantor, ledger_rows):
    plan = _plan(guarantor)
    PlanNotice.create(guarantor=guarantor, plan=plan, kind="plan_paused", channel="page", ref="x")  # at 15:00

    def read_on_a_new_session():
        return ledger.read_account(_as_a_page_reads_it(sessions.start_patient(guarantor, "sign_in", "code")[0]))

    with ledger.reusing_facts():
        clock.advance(days=ledger.NOTICE_DAYS - 1, hours=20)  # 11:00, 29 days 20 hours on: kept with its notice
        assert len(read_on_a_new_session().plan_notices) == 1
        clock.advance(hours=4, minutes=1)  # 15:01 the same day: 30 days and a minute after the notice
        with counting_statements() as executed:
            assert read_on_a_new_session().plan_notices == ()
        assert not [sql for sql in executed if "plan_notice" in sql]  # the kept facts, less the old notice


def _amount_due(client) -> str:
    response = client.get("/quickpay")
    assert response.status_code == 200
    return re.search(r'data-testid="amount-due">([^<]+)<', response.text).group(1)


def test_quickpay_shows_a_payment_recorded_elsewhere_at_once(client, guarantor, ledger_rows):
    """Another process (a worker settling a payment, the desk, an import) changes the ledger between two views."""
    sign_in_as(client, guarantor, quickpay=True)
    shown = _amount_due(client)
    with counting_statements() as executed:
        assert _amount_due(client) == shown
    # the session (with its version) and its touch, in one statement on PostgreSQL's event loop: the facts were kept
    assert len(executed) == (1 if pops_db.is_postgres() else 2), executed
    receipt = make_receipt(guarantor, "R-DESK", "25.00", dt.date(2026, 11, 22))
    ReceiptApplication.create(receipt=receipt, encounter=Encounter.get(Encounter.ext_id == "E1"), amount=D("25.00"))
    now_due = _amount_due(client)
    assert now_due != shown
    fresh = Guarantor.get_by_id(guarantor.id)
    assert now_due == f"${ledger.balances_for(fresh).amount_due:,.2f}"
