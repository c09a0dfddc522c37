"""Test data, one home for every test module: the practice, ledgers, staff and sessions.

Plain functions, called by tests and by the fixtures in conftest.py (test modules never import each
other). Money goes in as a string (or a Decimal) and is stored as Decimal; instants are UTC (`at`).
Each builder writes rows the way the production code or an import would.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyotp

from pops import batches, clock, sessions
from pops.db import database
from pops.models import (
    Appointment,
    Encounter,
    EncounterLine,
    Group,
    Guarantor,
    Patient,
    PatientSession,
    Receipt,
    ReceiptApplication,
    ReferenceBatch,
    Staff,
    Statement,
    StatementEncounter,
    Transaction,
)
from pops.staff import create_staff

D = Decimal
UTC = dt.timezone.utc
PASSWORD = "correct horse battery"  # every test staff member's password


def at(*args) -> dt.datetime:
    """An instant in UTC: `at(2026, 11, 23, 15, 0)`."""
    return dt.datetime(*args, tzinfo=UTC)


# --- the practice and its guarantors -----------------------------------------------------------

RIVERSIDE = {"code": "RFM", "name": "Riverside Family Medicine", "footer_phone": "(555) 010-2000",
             "timezone": "America/Chicago", "session_idle_timeout": 15}
WEST = {"code": "WEST", "name": "West Clinic", "timezone": "America/Los_Angeles"}  # two hours behind Riverside
MARIA = {"account": "A1001", "first_name": "Maria", "last_name": "Lopez", "date_of_birth": dt.date(1981, 4, 12),
         "email": "maria@example.org", "mobile": "+15555550123"}
SAM = {"account": "B2002", "first_name": "Sam", "last_name": "Lee, Jr.", "date_of_birth": dt.date(1970, 1, 2)}


def make_group(preset: dict = RIVERSIDE, **fields) -> Group:
    """A practice: Riverside Family Medicine (RFM, America/Chicago) or another preset, with `fields` changed."""
    return Group.create(**{**preset, **fields})


def make_guarantor(group: Group, account: str, first_name: str, last_name: str,
                   date_of_birth: dt.date = dt.date(1970, 1, 1), **fields) -> Guarantor:
    """A guarantor of `group`; MARIA and SAM are ready-made: `make_guarantor(group, **MARIA)`."""
    return Guarantor.create(account=account, group=group, first_name=first_name, last_name=last_name,
                            date_of_birth=date_of_birth, **fields)


# --- ledgers: patients, visits and their lines, statements ---------------------------------------

def make_patient(guarantor: Guarantor, ext_id: str = "P1", first_name: str | None = None,
                 last_name: str | None = None, **fields) -> Patient:
    """The guarantor's patient `ext_id`, made the first time it is asked for; named as the guarantor unless told."""
    patient, _ = Patient.get_or_create(guarantor=guarantor, ext_id=ext_id, defaults={
        "first_name": first_name or guarantor.first_name, "last_name": last_name or guarantor.last_name, **fields})
    return patient


def make_encounter(guarantor: Guarantor, ext_id: str, *, patient: Patient | None = None,
                   date: dt.date = dt.date(2026, 9, 1), charge=None, **fields) -> Encounter:
    """A visit on `date` of `patient` (the guarantor's P1 unless told); `charge` gives it one charge line, "1"."""
    encounter = Encounter.create(guarantor=guarantor, ext_id=ext_id, patient=patient or make_patient(guarantor),
                                 date=date, **fields)
    if charge is not None:
        add_line(encounter, "1", "charge", charge)
    return encounter


def add_line(encounter: Encounter, ext_id: str, kind: str, amount, date: dt.date | None = None,
             **fields) -> EncounterLine:
    """A line of the visit (credits are negative), dated the visit's day unless told."""
    return EncounterLine.create(encounter=encounter, ext_id=ext_id, kind=kind, amount=D(amount),
                                date=date or encounter.date, **fields)


def make_statement(guarantor: Guarantor, number: str = "S-1", *, balance, amount_due=None,
                   date: dt.date = dt.date(2026, 10, 1), due_date: dt.date | None = None,
                   encounters=()) -> Statement:
    """A statement of `encounters`, due 30 days after its date and for its whole balance unless told."""
    statement = Statement.create(guarantor=guarantor, number=number, date=date,
                                 due_date=due_date or date + dt.timedelta(days=30), balance=D(balance),
                                 amount_due=D(balance if amount_due is None else amount_due))
    for encounter in encounters:
        StatementEncounter.create(statement=statement, encounter=encounter)
    return statement


def owe(guarantor: Guarantor, amount: str = "80.00", statement_due: str = "80.00", statement: bool = True) -> None:
    """One visit (E1, 2026-09-01, a charge of `amount`); with `statement`, S-1 of 2026-10-01 with `statement_due` due."""
    make_encounter(guarantor, "E1", patient=make_patient(guarantor, "P1", "Maria", "Lopez"), charge=amount)
    if statement:
        make_statement(guarantor, "S-1", balance=amount, amount_due=statement_due)


def pm_visit(guarantor: Guarantor, ext_id: str, patient: Patient, date: dt.date, provider: str,
             facility: tuple[str, str], pending: str = "0.00", collections: bool = False) -> Encounter:
    """A visit as the PM system exports one: provider, facility (code, name), a description, insurance pending."""
    code, name = facility
    return make_encounter(guarantor, ext_id, patient=patient, date=date, provider=provider, facility_code=code,
                          facility_name=name, description=f"Visit {ext_id}", insurance_pending=D(pending),
                          in_collections=collections)


def pm_line(encounter: Encounter, ext_id: str, kind: str, amount: str, date: dt.date | None = None,
            applies_to: str = "", receipt: str = "") -> EncounterLine:
    """A line as the PM system exports one: described by its kind, a CPT code on charges."""
    return add_line(encounter, ext_id, kind, amount, date, description=kind.replace("_", " "),
                    code="99213" if kind == "charge" else "", applies_to=applies_to, receipt_number=receipt)


# --- receipts, payments and refunds --------------------------------------------------------------

def make_receipt(guarantor: Guarantor, number: str, amount: str, day: dt.date, *, source: str = "pops",
                 status: str = "paid", refunded: str = "0.00", method: str = "card", card_type: str = "Visa",
                 last4: str = "4242", hour: int = 15) -> Receipt:
    """A receipt received on `day` at `hour`:00 UTC, in no batch; one from another source than POPS was imported."""
    return Receipt.create(number=number, guarantor=guarantor, source=source, received_date=day,
                          received_at=dt.datetime.combine(day, dt.time(hour), tzinfo=UTC), method=method,
                          card_type=card_type, last4=last4, amount=D(amount), refunded_amount=D(refunded),
                          status=status, imported=source != "pops")


def pay(guarantor, number, amount, when, *, card_type="Visa", last4="4242", method="card", status="paid",
        staff=None, transaction=None, apps=(), batch=True) -> Receipt:
    """A POPS receipt as payments.py writes one: it joins the open batch of its day (group's time zone)."""
    group = guarantor.group
    clock.freeze(when)
    with database.atomic():
        joined = batches.batch_for_payment(group, when) if batch else None
        receipt = Receipt.create(
            number=number, guarantor=guarantor, source="pops", received_at=when,
            received_date=batches.local_date(group, when), method=method, card_type=card_type, last4=last4,
            amount=D(amount), status=status, batch=joined, taken_by=staff,
        )
        Transaction.create(receipt=receipt, number=transaction or f"ch_{number}", kind="sale", amount=D(amount),
                           status="approved" if status == "paid" else "declined", created_at=when)
        for enc, line, value in apps:
            ReceiptApplication.create(receipt=receipt, encounter=enc, line_ext_id=line, amount=D(value))
    return receipt


def refund(receipt, amount, when, staff, *, number, refund_number, apps=()) -> Transaction:
    """A refund as payments.refund writes one: a transaction in the refund day's open batch."""
    clock.freeze(when)
    group = receipt.guarantor.group
    with database.atomic():
        txn = Transaction.create(
            receipt=receipt, number=number, kind="refund", amount=D(amount), created_at=when,
            refund_receipt_number=refund_number, staff=staff, batch=batches.batch_for_payment(group, when),
        )
        receipt = Receipt.get_by_id(receipt.id)
        receipt.refunded_amount += D(amount)
        receipt.status = "refunded" if receipt.refunded_amount >= receipt.amount else "partially_refunded"
        receipt.save()
        for enc, line, value in apps:
            ReceiptApplication.create(receipt=receipt, encounter=enc, line_ext_id=line, amount=D(value))
    return txn


def settled_card_payment(guarantor, amount: str, key: str) -> Receipt:
    """A card payment as POPS settles one (payments.settle): the sandbox gateway's charge under `key`, the
    receipt in the day's batch, applied to the open visits oldest first."""
    from pops import payments
    from pops.gateways import ChargeResult
    from pops.gateways.sandbox_tables import APPROVE, SandboxCharge
    from pops.models import PaymentAttempt

    charge = SandboxCharge.make(key, D(amount), APPROVE, "Visa", "4242")
    attempt = PaymentAttempt.create(key=key, guarantor=guarantor, entrance="portal", amount=D(amount),
                                    amount_choice="other", gateway="sandbox")
    payments.settle(attempt, ChargeResult(key=key, status=ChargeResult.APPROVED, amount=D(amount),
                                          transaction=charge.transaction, brand="Visa", last4="4242"))
    return Receipt.get(Receipt.number == f"POPS-{attempt.id:06d}")


def hand_built_day(guarantor, second, staff) -> ReferenceBatch:
    """Monday 2026-11-23 at Riverside (America/Chicago, UTC-6): three receipts and a partial refund."""
    e100 = make_encounter(guarantor, "E100")
    e200 = make_encounter(second, "E200")
    r1 = pay(guarantor, "R-1001", "80.00", at(2026, 11, 23, 15, 0), transaction="ch_1",
             apps=[(e100, "1", "50.00"), (e100, "2", "30.00")])
    pay(guarantor, "R-1002", "0.00", at(2026, 11, 23, 15, 10), status="unsuccessful", last4="0002",
        transaction="ch_2")
    pay(second, "R-1003", "25.00", at(2026, 11, 23, 16, 0), card_type="Mastercard", last4="4444",
        method="google_pay", staff=staff, transaction="ch_3", apps=[(e200, "1", "25.00")])
    refund(r1, "20.00", at(2026, 11, 23, 17, 0, 30), staff, number="re_1", refund_number="R-1001-R1",
           apps=[(e100, "1", "-20.00")])
    return ReferenceBatch.get()


# --- Maria's account, worked by hand ----------------------------------------------------------------
# Statements: S-0 (2026-09-01, 30.00 due) and S-1 (2026-10-01, 95.00 due), the last one.
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
MAIN = ("MAIN", "Main St clinic")
LAB = ("LAB", "Riverside Lab")


def build_ledger(guarantor: Guarantor) -> dict:
    """Maria's account as worked out above; returns the rows a test may want by name."""
    maria = make_patient(guarantor, "P1", "Maria", "Lopez")
    leo = make_patient(guarantor, "P2", "Leo", "Lopez")
    e0 = pm_visit(guarantor, "E0", maria, dt.date(2026, 8, 10), "Dr. Ann Okafor", MAIN)
    pm_line(e0, "1", "charge", "100.00")
    pm_line(e0, "2", "insurance_payment", "-60.00", dt.date(2026, 8, 25), "1")
    pm_line(e0, "3", "adjustment", "-10.00", dt.date(2026, 8, 25), "1")
    pm_line(e0, "4", "patient_payment", "-30.00", dt.date(2026, 9, 10), "1", "R-OFF1")
    e1 = pm_visit(guarantor, "E1", leo, dt.date(2026, 9, 14), "Dr. Ann Okafor", MAIN)
    pm_line(e1, "1", "charge", "180.00")
    pm_line(e1, "2", "charge", "40.00")
    pm_line(e1, "3", "insurance_payment", "-110.00", dt.date(2026, 9, 28), "1")
    pm_line(e1, "4", "adjustment", "-25.00", dt.date(2026, 9, 28), "1")
    pm_line(e1, "5", "patient_payment", "-20.00", dt.date(2026, 9, 14), "1", "R-OFF2")
    pm_line(e1, "6", "adjustment", "-10.00", dt.date(2026, 9, 28), "2")
    e2 = pm_visit(guarantor, "E2", maria, dt.date(2026, 9, 20), "Dr. Wei Chen", LAB, pending="20.00")
    pm_line(e2, "1", "charge", "60.00")
    e3 = pm_visit(guarantor, "E3", maria, dt.date(2026, 10, 15), "Dr. Ann Okafor", MAIN)
    pm_line(e3, "1", "charge", "120.00")
    pm_line(e3, "2", "insurance_payment", "-80.00", dt.date(2026, 11, 2), "1")
    e4 = pm_visit(guarantor, "E4", maria, dt.date(2026, 7, 1), "Dr. Ann Okafor", MAIN, collections=True)
    pm_line(e4, "1", "charge", "200.00")

    s0 = make_statement(guarantor, "S-0", date=dt.date(2026, 9, 1), due_date=dt.date(2026, 9, 26),
                        balance="30.00", encounters=[e0])
    s1 = make_statement(guarantor, "S-1", date=dt.date(2026, 10, 1), due_date=dt.date(2026, 10, 26),
                        balance="95.00", encounters=[e1, e2])

    off1 = make_receipt(guarantor, "R-OFF1", "30.00", dt.date(2026, 9, 10), source="office", last4="1111")
    ReceiptApplication.create(receipt=off1, encounter=e0, line_ext_id="1", amount=D("30.00"), source="import")
    off2 = make_receipt(guarantor, "R-OFF2", "20.00", dt.date(2026, 9, 14), source="mail", method="check",
                        card_type="", last4="")
    ReceiptApplication.create(receipt=off2, encounter=e1, line_ext_id="1", amount=D("20.00"), source="import")
    pops1 = make_receipt(guarantor, "R-POPS1", "30.00", dt.date(2026, 10, 20), card_type="Mastercard", last4="4444")
    ReceiptApplication.create(receipt=pops1, encounter=e1, line_ext_id="", amount=D("30.00"))
    Transaction.create(receipt=pops1, number="TX-1001", amount=D("30.00"))
    pops2 = make_receipt(guarantor, "R-POPS2", "50.00", dt.date(2026, 11, 1), status="refunded", refunded="50.00")
    ReceiptApplication.create(receipt=pops2, encounter=e2, amount=D("50.00"))
    ReceiptApplication.create(receipt=pops2, encounter=e2, amount=D("-50.00"))
    Transaction.create(receipt=pops2, number="TX-1002", amount=D("50.00"))
    Transaction.create(receipt=pops2, number="TX-1003", kind="refund", amount=D("50.00"))
    pops3 = make_receipt(guarantor, "R-POPS3", "0.00", dt.date(2026, 11, 20), status="unsuccessful")
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


def other_account(group: Group) -> Guarantor:
    """Another guarantor (Ben Ortiz, A2002) with a statement and a receipt of their own."""
    other = make_guarantor(group, "A2002", "Ben", "Ortiz")
    e = pm_visit(other, "E1", make_patient(other), dt.date(2026, 9, 1), "Dr. Ann Okafor", MAIN)
    pm_line(e, "1", "charge", "75.00")
    make_statement(other, "S-OTHER", date=dt.date(2026, 10, 1), due_date=dt.date(2026, 10, 26), balance="75.00")
    make_receipt(other, "R-OTHER", "10.00", dt.date(2026, 9, 2), source="office")
    return other


# --- staff and sessions ------------------------------------------------------------------------------

def make_staff(email: str = "desk@example.org", role: str = "staff", password: str = PASSWORD) -> Staff:
    """A staff member as `pops staff create` makes one: the password hashed (cheaply in tests), a fresh TOTP secret."""
    return create_staff(email, password, role=role)


def totp_now(staff: Staff) -> str:
    """The code the staff member's authenticator shows at the test clock's now."""
    return pyotp.TOTP(staff.totp_secret).at(clock.now())


def patient_session(guarantor: Guarantor, *, origin: str = "sign_in", quickpay: bool = False,
                    staff: Staff | None = None) -> tuple[str, PatientSession]:
    """A live patient session, as a completed sign-in (the default), a QuickPay link (`quickpay=True`) or a
    staff mirror (`staff=`, with origin "staff_mirror") starts one: (the cookie's token, the row)."""
    auth = "staff" if staff else ("quickpay" if quickpay else "code")
    return sessions.start_patient(guarantor, origin, auth, quickpay=quickpay, staff=staff)
