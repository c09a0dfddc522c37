"""POPS Payments and Session Usage against a hand-computed data set: filters, totals and CSV."""
from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

import pytest

from pops import batches, clock, reports
from pops.models import PatientSession, Receipt, ReferenceBatch
from pops.reports import PaymentFilters, SessionFilters

from factories import at, make_guarantor, make_staff, pay, refund

D = Decimal
NOV20, NOV21, NOV23 = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 23)


@pytest.fixture
def ledger_days(guarantor, ann):
    """Riverside (Chicago) and West (Los Angeles), 20 and 21 November 2026.

    RFM batch 1 (Nov 20): R-1 $100 Visa, R-2 declined, R-3 $40 Mastercard at 23:30 local; closed Nov 21 08:00 local.
    WEST batch (Nov 20): W-1 $25 Amex at 22:30 local (already Nov 21 in UTC); never closed.
    RFM batch 3 (Nov 21): R-4 $60 Visa, a $30 refund of R-1; closed Nov 23 09:00 local.
    """
    staff = make_staff()
    r1 = pay(guarantor, "R-1", "100.00", at(2026, 11, 20, 15, 0))
    pay(guarantor, "R-2", "0.00", at(2026, 11, 20, 15, 30), status="unsuccessful", last4="0002")
    pay(guarantor, "R-3", "40.00", at(2026, 11, 21, 5, 30), card_type="Mastercard", last4="4444")
    pay(ann, "W-1", "25.00", at(2026, 11, 21, 6, 30), card_type="Amex", last4="0005")
    clock.freeze(at(2026, 11, 21, 14, 0))
    first = batches.close(r1.batch, staff)
    r4 = pay(guarantor, "R-4", "60.00", at(2026, 11, 21, 16, 0))
    refund(r1, "30.00", at(2026, 11, 21, 17, 0), staff, number="re_1", refund_number="R-1-R1")
    clock.freeze(at(2026, 11, 23, 15, 0))
    batches.close(r4.batch, staff)
    return first


def numbers(report):
    return [row.number for row in report.rows]


def test_received_date_in_the_groups_time_zone(ledger_days):
    report = reports.payments_report(PaymentFilters(basis="received", date_from=NOV20, date_to=NOV20))
    assert numbers(report) == ["R-1", "R-2", "R-3", "W-1"]
    t = report.totals
    assert (t.payments, t.refunds, t.net, t.payment_count, t.unsuccessful_count, t.refund_count) == (
        D("165.00"), D("0.00"), D("165.00"), 3, 1, 0)
    nov21 = reports.payments_report(PaymentFilters(basis="received", date_from=NOV21, date_to=NOV21))
    assert [(r.number, r.kind, r.amount, r.status) for r in nov21.rows] == [
        ("R-4", "payment", D("60.00"), "paid"), ("R-1-R1", "refund", D("-30.00"), "partially_refunded")]
    assert (nov21.totals.payments, nov21.totals.refunds, nov21.totals.net) == (D("60.00"), D("30.00"), D("30.00"))


def test_totals_by_day_group_and_card_type(ledger_days):
    both_days = dict(basis="received", date_from=NOV20, date_to=NOV21)
    by_day = reports.payments_report(PaymentFilters(**both_days, total_by="day"))
    assert [(k, t.payments, t.refunds, t.net, t.count) for k, t in by_day.grouped] == [
        ("2026-11-20", D("165.00"), D("0.00"), D("165.00"), 4),
        ("2026-11-21", D("60.00"), D("30.00"), D("30.00"), 2),
    ]
    assert (by_day.totals.payments, by_day.totals.refunds, by_day.totals.net) == (D("225.00"), D("30.00"), D("195.00"))
    by_group = reports.payments_report(PaymentFilters(**both_days, total_by="group"))
    assert [(k, t.net, t.payment_count, t.unsuccessful_count) for k, t in by_group.grouped] == [
        ("RFM", D("170.00"), 3, 1), ("WEST", D("25.00"), 1, 0)]
    by_card = reports.payments_report(PaymentFilters(**both_days, total_by="card_type"))
    assert [(k, t.payments, t.refunds, t.net) for k, t in by_card.grouped] == [
        ("Amex", D("25.00"), D("0.00"), D("25.00")),
        ("Mastercard", D("40.00"), D("0.00"), D("40.00")),
        ("Visa", D("160.00"), D("30.00"), D("130.00")),
    ]


def test_post_date_is_the_day_the_batch_was_closed(ledger_days):
    posted_21 = reports.payments_report(PaymentFilters(basis="posted", date_from=NOV21, date_to=NOV21))
    assert numbers(posted_21) == ["R-1", "R-2", "R-3"]
    assert all(r.post_date == NOV21 for r in posted_21.rows)
    # the refund came after batch 1 closed: R-1 stays "paid" there, as the closed batch was
    assert posted_21.rows[0].status == "paid"
    posted_23 = reports.payments_report(PaymentFilters(basis="posted", date_from=NOV23, date_to=NOV23))
    assert numbers(posted_23) == ["R-4", "R-1-R1"]
    # never posted: West's batch is still open
    everything_posted = reports.payments_report(PaymentFilters(basis="posted"))
    assert "W-1" not in numbers(everything_posted) and len(everything_posted.rows) == 5


def test_by_reference_batch_date_and_by_one_batch(ledger_days):
    by_batch_date = reports.payments_report(PaymentFilters(basis="batch", date_from=NOV20, date_to=NOV20))
    assert numbers(by_batch_date) == ["R-1", "R-2", "R-3", "W-1"]
    one = reports.payments_report(PaymentFilters(batch=ledger_days.id))
    assert numbers(one) == ["R-1", "R-2", "R-3"]
    assert one.totals.net == D("140.00")
    assert reports.payments_report(PaymentFilters(batch=9999)).rows == []


def test_group_card_type_and_kind_filters(ledger_days):
    days = dict(date_from=NOV20, date_to=NOV21)
    assert numbers(reports.payments_report(PaymentFilters(**days, group="WEST"))) == ["W-1"]
    assert numbers(reports.payments_report(PaymentFilters(**days, card_type="visa", kind="payment"))) == ["R-1", "R-2", "R-4"]
    refunds_only = reports.payments_report(PaymentFilters(**days, kind="refund"))
    assert numbers(refunds_only) == ["R-1-R1"]
    assert (refunds_only.totals.refunds, refunds_only.totals.net) == (D("30.00"), D("-30.00"))
    assert numbers(reports.payments_report(PaymentFilters(**days, group="RFM", card_type="Amex"))) == []


def test_payments_csv_uses_the_export_columns(ledger_days):
    report = reports.payments_report(PaymentFilters(date_from=NOV21, date_to=NOV21, kind="refund"))
    batch = Receipt.get(Receipt.number == "R-4").batch
    assert report.csv() == (
        "batch,batch_date,receipt,kind,refund_of,received_at,group,account,guarantor,amount,status,method,"
        "card_type,last4,transaction,taken_by,applications\r\n"
        f"{batch.id},2026-11-21,R-1-R1,refund,R-1,2026-11-21T11:00:00-06:00,RFM,A1001,Maria Lopez,-30.00,"
        "partially_refunded,card,Visa,4242,re_1,desk@example.org,\r\n"
    )


def test_filters_from_query_parameters(db):
    f, errors = PaymentFilters.from_params({"by": "posted", "from": "2026-11-01", "to": "2026-11-30", "group": "RFM",
                                            "card_type": "Visa", "kind": "refund", "total_by": "card_type"})
    assert errors == []
    assert f == PaymentFilters("posted", dt.date(2026, 11, 1), dt.date(2026, 11, 30), "RFM", "Visa", "refund", None,
                               "card_type")
    assert PaymentFilters.from_params(f.params(), default_range=False)[0] == f
    bad, errors = PaymentFilters.from_params({"from": "11/01/2026", "by": "whenever", "batch": "x"})
    assert errors == ["From must be a date like 2026-11-23.", "Batch must be a batch number.",
                      "Dates must be one of: received, posted, batch."]
    assert bad.basis == "received"
    # no dates: the last seven days up to today
    assert (bad.date_from, bad.date_to) == (dt.date(2026, 11, 17), dt.date(2026, 11, 23))
    swapped, errors = SessionFilters.from_params({"from": "2026-11-30", "to": "2026-11-01", "origin": "carrier_pigeon"})
    assert (swapped.date_from, swapped.date_to, swapped.origin) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30), "")
    assert len(errors) == 2


# --- Session Usage --------------------------------------------------------------------------

def session(guarantor, origin, auth, started, *, minutes=15, ended=None, reason="", pages=0, outcome="", staff=None):
    return PatientSession.create(
        token_hash=secrets.token_hex(32), guarantor=guarantor, group=guarantor.group, origin=origin, auth=auth,
        quickpay=auth == "quickpay", staff=staff, started_at=started, last_seen_at=started,
        expires_at=started + dt.timedelta(minutes=minutes), ended_at=ended, end_reason=reason, pages=pages,
        payment_outcome=outcome,
    )


@pytest.fixture
def usage(guarantor, ann):
    staff = make_staff()
    sam = make_guarantor(guarantor.group, "B2002", "Sam", "Lee", dt.date(1970, 1, 2))
    return [
        session(guarantor, "sms_link", "quickpay", at(2026, 11, 20, 15, 0), ended=at(2026, 11, 20, 15, 10),
                reason="logout", pages=3, outcome="paid"),
        session(guarantor, "sign_in", "code", at(2026, 11, 21, 5, 30), pages=5, outcome="declined"),  # lapsed
        session(sam, "staff_mirror", "staff", at(2026, 11, 21, 16, 0), ended=at(2026, 11, 21, 16, 20), reason="logout",
                pages=2, outcome="paid", staff=staff),
        session(ann, "desk_qr", "quickpay", at(2026, 10, 31, 18, 0), ended=at(2026, 10, 31, 18, 5), reason="logout",
                pages=1),
        session(ann, "statement_qr", "quickpay", at(2026, 11, 23, 14, 50), pages=4, outcome="error"),  # still live
    ]


def test_session_usage_totals_by_day_month_year_group_and_origin(usage):
    autumn = dict(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 11, 30))
    by_day = reports.session_report(SessionFilters(**autumn, period="day"))
    assert [(k, u.sessions, u.pages, u.paid, u.declined, u.error) for k, u in by_day.by_period] == [
        ("2026-10-31", 1, 1, 0, 0, 0),
        ("2026-11-20", 2, 8, 1, 1, 0),
        ("2026-11-21", 1, 2, 1, 0, 0),
        ("2026-11-23", 1, 4, 0, 0, 1),
    ]
    t = by_day.totals
    assert (t.sessions, t.pages, t.paid, t.declined, t.error) == (5, 15, 2, 1, 1)
    assert [(k, u.sessions, u.pages) for k, u in by_day.by_group] == [("RFM", 3, 10), ("WEST", 2, 5)]
    assert [(k, u.sessions) for k, u in by_day.by_origin] == [
        ("Desk QR", 1), ("SMS link", 1), ("Sign-in", 1), ("Staff mirror", 1), ("Statement QR", 1)]
    by_month = reports.session_report(SessionFilters(**autumn, period="month"))
    assert [(k, u.sessions, u.pages) for k, u in by_month.by_period] == [("2026-10", 1, 1), ("2026-11", 4, 14)]
    by_year = reports.session_report(SessionFilters(**autumn, period="year"))
    assert [(k, u.sessions, u.pages) for k, u in by_year.by_period] == [("2026", 5, 15)]


def test_session_usage_rows_and_filters(usage):
    rows = reports.session_report(SessionFilters(date_from=NOV20, date_to=NOV20)).rows
    assert [r.id for r in rows] == [usage[0].id, usage[1].id]  # the 23:30 sign-in is the 20th in Chicago
    lapsed = rows[1]
    assert (lapsed.end_reason, lapsed.ended_at.isoformat()) == ("idle", "2026-11-20T23:45:00-06:00")
    assert (lapsed.origin_label, lapsed.auth_label, lapsed.outcome_label) == ("Sign-in", "Code", "Declined")
    live = reports.session_report(SessionFilters(date_from=NOV23, date_to=NOV23)).rows
    assert [(r.guarantor, r.end_reason, r.ended_at) for r in live] == [("Ann West", "active", None)]
    mirrors = reports.session_report(SessionFilters(origin="staff_mirror")).rows
    assert [(r.account, r.auth, r.payment_outcome) for r in mirrors] == [("B2002", "staff", "paid")]
    west_rows = reports.session_report(SessionFilters(group="WEST")).rows
    assert [r.origin for r in west_rows] == ["desk_qr", "statement_qr"]


def test_session_usage_csv(usage):
    report = reports.session_report(SessionFilters(date_from=NOV20, date_to=NOV20))
    first, second = usage[0].id, usage[1].id
    assert report.csv() == (
        "session,origin,auth,account,guarantor,group,started_at,ended_at,end_reason,pages,payment_outcome\r\n"
        f"{first},sms_link,quickpay,A1001,Maria Lopez,RFM,2026-11-20T09:00:00-06:00,2026-11-20T09:10:00-06:00,"
        "logout,3,paid\r\n"
        f"{second},sign_in,code,A1001,Maria Lopez,RFM,2026-11-20T23:30:00-06:00,2026-11-20T23:45:00-06:00,"
        "idle,5,declined\r\n"
    )


def test_the_default_range_ends_today_where_the_practice_is(group):
    """8 pm in Chicago is already tomorrow in UTC: the report still ends on the practice's today."""
    from pops import clock

    clock.freeze(dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc))
    f, _ = PaymentFilters.from_params({})
    assert (f.date_from, f.date_to) == (dt.date(2026, 11, 17), dt.date(2026, 11, 23))
