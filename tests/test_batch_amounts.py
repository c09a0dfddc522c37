"""A batch's rows and totals at their edges (pops/batches.py): two refunds of one receipt, the practice's
midnight, a payment and a refund at the same instant, a decline after the day's batches were closed."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pops import batches, clock
from pops.models import Receipt, ReferenceBatch, Transaction

from factories import at, make_encounter, pay, refund

D = Decimal


def rows(batch) -> list[tuple]:
    return [(r.number, r.kind, r.refund_of, r.amount, r.status, r.applications) for r in batches.rows_for(batch)]


def test_two_refunds_of_one_receipt_each_show_their_own_status_and_applications(guarantor, staff):
    visit = make_encounter(guarantor, "E100")
    receipt = pay(guarantor, "R-1", "80.00", at(2026, 11, 23, 15, 0), apps=[(visit, "1", "50.00"), (visit, "2", "30.00")])
    refund(receipt, "20.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1",
           apps=[(visit, "1", "-20.00")])
    refund(receipt, "60.00", at(2026, 11, 23, 17, 0), staff, number="re_2", refund_number="R-1-R2",
           apps=[(visit, "2", "-30.00"), (visit, "1", "-30.00")])
    batch = ReferenceBatch.get()
    assert rows(batch) == [
        ("R-1", "payment", "", D("80.00"), "refunded", "E100:1:50.00;E100:2:30.00"),
        ("R-1-R1", "refund", "R-1", D("-20.00"), "partially_refunded", "E100:1:-20.00"),
        ("R-1-R2", "refund", "R-1", D("-60.00"), "refunded", "E100:2:-30.00;E100:1:-30.00"),
    ]
    overall = batches.totals(batches.rows_for(batch)).overall
    assert (overall.payments, overall.refunds, overall.net) == (D("80.00"), D("80.00"), D("0.00"))
    assert (overall.payment_count, overall.refund_count, overall.unsuccessful_count, overall.count) == (1, 2, 0, 3)
    assert batches.fingerprint(batches.rows_for(batch)) == "3:80.00:80.00"
    assert [line.split(",")[9:11] for line in batches.export_csv(batch).splitlines()[1:]] == [
        ["80.00", "refunded"], ["-20.00", "partially_refunded"], ["-60.00", "refunded"]]


def test_a_closed_batch_keeps_the_status_its_payment_had_when_it_closed(guarantor, staff):
    receipt = pay(guarantor, "R-1", "80.00", at(2026, 11, 23, 15, 0))
    refund(receipt, "20.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1")
    first = receipt.batch
    clock.freeze(at(2026, 11, 23, 16, 0))  # closed at the very instant of the first refund: it counts
    batches.close(first, staff)
    refund(receipt, "60.00", at(2026, 11, 23, 17, 0), staff, number="re_2", refund_number="R-1-R2")
    assert rows(first) == [("R-1", "payment", "", D("80.00"), "partially_refunded", ""),
                           ("R-1-R1", "refund", "R-1", D("-20.00"), "partially_refunded", "")]
    later = ReferenceBatch.get(ReferenceBatch.status == "open")
    assert rows(later) == [("R-1-R2", "refund", "R-1", D("-60.00"), "refunded", "")]


def test_a_refund_partly_of_money_no_visit_got_leaves_the_next_refund_its_own_applications(guarantor, staff):
    """Applications that do not add up to their refund are left blank, and never taken from the next refund."""
    visit = make_encounter(guarantor, "E100")
    receipt = pay(guarantor, "R-1", "80.00", at(2026, 11, 23, 15, 0), apps=[(visit, "1", "80.00")])
    refund(receipt, "20.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1",
           apps=[(visit, "1", "-15.00")])  # $5.00 of it was never applied to a visit
    refund(receipt, "10.00", at(2026, 11, 23, 17, 0), staff, number="re_2", refund_number="R-1-R2",
           apps=[(visit, "1", "-10.00")])
    assert [r[5] for r in rows(receipt.batch)] == ["E100:1:80.00", "", "E100:1:-10.00"]


def test_the_post_date_is_the_practices_day_of_the_close(guarantor, staff):
    receipt = pay(guarantor, "R-1", "10.00", at(2026, 11, 23, 15, 0))
    assert batches.rows_for(receipt.batch)[0].post_date is None  # open: not posted yet
    clock.freeze(at(2026, 11, 24, 5, 59))  # 23:59 on the 23rd in Chicago, already the 24th in UTC
    batches.close(receipt.batch, staff)
    row = batches.rows_for(ReferenceBatch.get_by_id(receipt.batch_id))[0]
    assert (row.post_date, row.batch_date, row.received_date) == (dt.date(2026, 11, 23),) * 3
    assert row.received_at.utcoffset() == dt.timedelta(hours=-6)


def test_a_payment_made_at_the_practices_midnight_is_the_next_days(guarantor):
    before = pay(guarantor, "R-1", "10.00", at(2026, 11, 24, 5, 59, 59))
    midnight = pay(guarantor, "R-2", "11.00", at(2026, 11, 24, 6, 0))
    assert (before.batch.batch_date, midnight.batch.batch_date) == (dt.date(2026, 11, 23), dt.date(2026, 11, 24))
    assert batches.local_date(guarantor.group, at(2026, 11, 24, 6, 0)) == dt.date(2026, 11, 24)


def test_a_payment_and_a_refund_at_the_same_instant_list_the_payment_first(guarantor, staff):
    first = pay(guarantor, "R-1", "30.00", at(2026, 11, 23, 15, 0))
    refund(first, "5.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1")
    pay(guarantor, "R-2", "12.00", at(2026, 11, 23, 16, 0))
    pay(guarantor, "R-3", "13.00", at(2026, 11, 23, 16, 0))
    assert [r.number for r in batches.rows_for(first.batch)] == ["R-1", "R-2", "R-3", "R-1-R1"]


def test_a_decline_after_the_days_batches_are_all_closed_is_in_no_batch(guarantor, staff):
    paid = pay(guarantor, "R-1", "10.00", at(2026, 11, 23, 15, 0))
    pay(guarantor, "R-2", "0.00", at(2026, 11, 23, 15, 30), status="unsuccessful", batch=False)
    clock.freeze(at(2026, 11, 23, 18, 0))
    batches.close(paid.batch, staff)
    pay(guarantor, "R-3", "0.00", at(2026, 11, 23, 18, 0), status="unsuccessful", batch=False)  # at the close
    pay(guarantor, "R-4", "0.00", at(2026, 11, 23, 20, 0), status="unsuccessful", batch=False)
    assert [r.number for r in batches.rows_for(paid.batch)] == ["R-1", "R-2"]
    summary = batches.list_batches()
    assert [(s.batch.id, s.totals.count, s.totals.unsuccessful_count) for s in summary] == [(paid.batch_id, 2, 1)]
    assert Receipt.get(Receipt.number == "R-4").batch_id is None


def test_a_decline_on_another_day_or_of_another_practice_is_not_counted(guarantor, ann):
    paid = pay(guarantor, "R-1", "10.00", at(2026, 11, 23, 15, 0))
    pay(guarantor, "R-2", "0.00", at(2026, 11, 24, 15, 0), status="unsuccessful", batch=False)
    pay(ann, "R-3", "0.00", at(2026, 11, 23, 16, 0), status="unsuccessful", batch=False)
    assert [r.number for r in batches.rows_for(paid.batch)] == ["R-1"]


def test_totals_by_card_type_count_each_row_once(guarantor, staff):
    visa = pay(guarantor, "R-1", "40.00", at(2026, 11, 23, 15, 0))
    pay(guarantor, "R-2", "0.00", at(2026, 11, 23, 15, 1), status="unsuccessful")
    pay(guarantor, "R-3", "25.00", at(2026, 11, 23, 15, 2), card_type="", method="apple_pay")
    refund(visa, "15.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1")
    result = batches.totals(batches.rows_for(visa.batch))
    assert {label: (t.payments, t.refunds, t.net, t.payment_count, t.refund_count, t.unsuccessful_count)
            for label, t in result.by_card_type.items()} == {
        "Apple Pay": (D("25.00"), D("0.00"), D("25.00"), 1, 0, 0),
        "Visa": (D("40.00"), D("15.00"), D("25.00"), 1, 1, 1),
    }
    assert list(result.by_card_type) == ["Apple Pay", "Visa"]
    assert (result.overall.count, result.overall.net) == (4, D("50.00"))


def test_two_declines_count_two_and_a_stray_decline_amount_shows_in_the_payments(guarantor):
    paid = pay(guarantor, "R-1", "10.00", at(2026, 11, 23, 15, 0))
    pay(guarantor, "R-2", "0.00", at(2026, 11, 23, 15, 1), status="unsuccessful")
    pay(guarantor, "R-3", "2.00", at(2026, 11, 23, 15, 2), status="unsuccessful")  # never written by POPS: shown
    overall = batches.totals(batches.rows_for(paid.batch)).overall
    assert (overall.unsuccessful_count, overall.payment_count, overall.payments) == (2, 1, D("12.00"))


def test_a_receipt_in_no_batch_exports_with_the_batch_columns_empty(guarantor):
    pay(guarantor, "R-1", "0.00", at(2026, 11, 23, 15, 0), status="unsuccessful", batch=False)
    row, = batches.build_rows(batches.receipt_query(), [])
    assert (row.batch_id, row.batch_date, row.post_date) == (None, None, None)
    assert row.csv_values()[:3] == ["", "", "R-1"]


def test_refund_rows_follow_when_the_refunds_happened_not_the_order_they_were_written(guarantor, staff):
    receipt = pay(guarantor, "R-1", "80.00", at(2026, 11, 23, 15, 0))
    refund(receipt, "60.00", at(2026, 11, 23, 17, 0), staff, number="re_late", refund_number="R-1-R2")
    refund(receipt, "20.00", at(2026, 11, 23, 16, 0), staff, number="re_early", refund_number="R-1-R1")
    assert [(r[0], r[4]) for r in rows(receipt.batch)] == [
        ("R-1", "refunded"), ("R-1-R1", "partially_refunded"), ("R-1-R2", "refunded")]


def test_an_application_of_nothing_stays_with_the_payment(guarantor, staff):
    visit = make_encounter(guarantor, "E100")
    receipt = pay(guarantor, "R-1", "30.00", at(2026, 11, 23, 15, 0),
                  apps=[(visit, "1", "30.00"), (visit, "2", "0.00")])
    refund(receipt, "30.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1",
           apps=[(visit, "1", "-30.00")])
    assert [r[5] for r in rows(receipt.batch)] == ["E100:1:30.00;E100:2:0.00", "E100:1:-30.00"]


def test_a_refund_row_names_its_receipt_and_practice_and_a_refund_no_staff_member_made(guarantor):
    """A refund made in the gateway's dashboard has no staff member: the row says "patient", as for a payment."""
    receipt = pay(guarantor, "R-1", "30.00", at(2026, 11, 23, 15, 0))
    Transaction.delete().where(Transaction.receipt == receipt).execute()  # the sale's record is gone
    Transaction.create(receipt=receipt, number="re_dash", kind="refund", amount=D("5.00"),
                       created_at=at(2026, 11, 23, 16, 0), refund_receipt_number="R-1-R1")  # no staff, no batch
    payment, = batches.build_rows(batches.receipt_query(), [])
    assert (payment.transaction, payment.group_name, payment.receipt_number) == ("", "Riverside Family Medicine", "R-1")
    row, = batches.build_rows([], batches.refund_query())
    assert (row.taken_by, row.group_name, row.receipt_number, row.batch_id, row.batch_date, row.post_date,
            row.applications) == ("patient", "Riverside Family Medicine", "R-1", None, None, None, "")


def test_a_refund_rows_post_date_is_the_practices_day_of_the_close(guarantor, staff):
    receipt = pay(guarantor, "R-1", "30.00", at(2026, 11, 23, 15, 0))
    refund(receipt, "5.00", at(2026, 11, 23, 16, 0), staff, number="re_1", refund_number="R-1-R1")
    clock.freeze(at(2026, 11, 24, 5, 59))  # 23:59 in Chicago
    batches.close(receipt.batch, staff)
    assert [(r.kind, r.post_date) for r in batches.rows_for(ReferenceBatch.get_by_id(receipt.batch_id))] == [
        ("payment", dt.date(2026, 11, 23)), ("refund", dt.date(2026, 11, 23))]
