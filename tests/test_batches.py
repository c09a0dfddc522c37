"""Reference batches: one per group and day (group's time zone), closed by staff, exported per docs/export-v1.md."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from pops import batches, cli, clock
from pops.db import database
from pops.models import ContactChange, Group, Receipt, ReferenceBatch, Transaction

from factories import at, hand_built_day, pay, refund


HEADER = ("batch,batch_date,receipt,kind,refund_of,received_at,group,account,guarantor,amount,status,method,"
          "card_type,last4,transaction,taken_by,applications\r\n")


def test_export_csv_matches_the_spec_exactly(guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    b = batch.id
    assert batches.export_csv(batch) == (
        HEADER
        + f"{b},2026-11-23,R-1001,payment,,2026-11-23T09:00:00-06:00,RFM,A1001,Maria Lopez,80.00,partially_refunded,"
          "card,Visa,4242,ch_1,patient,E100:1:50.00;E100:2:30.00\r\n"
        + f"{b},2026-11-23,R-1002,payment,,2026-11-23T09:10:00-06:00,RFM,A1001,Maria Lopez,0.00,unsuccessful,"
          "card,Visa,0002,ch_2,patient,\r\n"
        + f'{b},2026-11-23,R-1003,payment,,2026-11-23T10:00:00-06:00,RFM,B2002,"Sam Lee, Jr.",25.00,paid,'
          "google_pay,Mastercard,4444,ch_3,desk@example.org,E200:1:25.00\r\n"
        + f"{b},2026-11-23,R-1001-R1,refund,R-1001,2026-11-23T11:00:30-06:00,RFM,A1001,Maria Lopez,-20.00,"
          "partially_refunded,card,Visa,4242,re_1,desk@example.org,E100:1:-20.00\r\n"
    )


def test_batch_totals_by_card_type_and_overall(guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    result = batches.totals(batches.rows_for(batch))
    overall = result.overall
    assert (overall.payments, overall.refunds, overall.net) == (Decimal("105.00"), Decimal("20.00"), Decimal("85.00"))
    assert (overall.payment_count, overall.refund_count, overall.unsuccessful_count, overall.count) == (2, 1, 1, 4)
    assert list(result.by_card_type) == ["Mastercard", "Visa"]
    visa = result.by_card_type["Visa"]
    assert (visa.payments, visa.refunds, visa.net, visa.payment_count, visa.unsuccessful_count) == (
        Decimal("80.00"), Decimal("20.00"), Decimal("60.00"), 1, 1)
    assert result.by_card_type["Mastercard"].net == Decimal("25.00")


def test_batches_follow_the_groups_day_not_utc(guarantor, west, ann):
    # 23:30 and 00:30 in Chicago: two days, two batches
    late = pay(guarantor, "R-1", "10.00", at(2026, 11, 24, 5, 30))
    early = pay(guarantor, "R-2", "11.00", at(2026, 11, 24, 6, 30))
    # the same instant as the first is still the 23rd in Los Angeles
    west_receipt = pay(ann, "R-3", "12.00", at(2026, 11, 24, 6, 30))
    assert late.batch.batch_date == dt.date(2026, 11, 23)
    assert early.batch.batch_date == dt.date(2026, 11, 24)
    assert late.batch_id != early.batch_id
    assert west_receipt.batch.batch_date == dt.date(2026, 11, 23) and west_receipt.batch.group_id == west.id
    listed = batches.list_batches(group=guarantor.group)
    assert [(s.batch.batch_date, s.totals.payments) for s in listed] == [
        (dt.date(2026, 11, 24), Decimal("11.00")), (dt.date(2026, 11, 23), Decimal("10.00"))]
    one_day = batches.list_batches(day_from=dt.date(2026, 11, 23), day_to=dt.date(2026, 11, 23))
    assert {s.batch.id for s in one_day} == {late.batch_id, west_receipt.batch_id}
    assert "2026-11-23T23:30:00-06:00" in batches.export_csv(late.batch)
    assert "2026-11-23T22:30:00-08:00" in batches.export_csv(west_receipt.batch)


def test_close_then_a_later_payment_opens_a_second_batch_and_the_closed_one_never_changes(guarantor, second, staff):
    first = hand_built_day(guarantor, second, staff)
    rows = batches.rows_for(first)
    clock.freeze(at(2026, 11, 23, 22, 0))
    closed = batches.close(first, staff, expected=batches.fingerprint(rows))
    assert (closed.status, closed.closed_by_id, closed.closed_at) == ("closed", staff.id, at(2026, 11, 23, 22, 0))
    before_csv = batches.export_csv(closed)
    before_totals = batches.totals(batches.rows_for(closed)).overall

    # the same day, after the close: a payment and a refund of a receipt in the closed batch
    later = pay(guarantor, "R-1004", "15.00", at(2026, 11, 23, 23, 0))
    r3 = Receipt.get(Receipt.number == "R-1003")
    refund(r3, "25.00", at(2026, 11, 23, 23, 30), staff, number="re_2", refund_number="R-1003-R1")
    assert later.batch_id != first.id
    assert later.batch.batch_date == first.batch_date and later.batch.status == "open"
    assert Transaction.get(Transaction.number == "re_2").batch_id == later.batch_id

    assert batches.export_csv(ReferenceBatch.get_by_id(first.id)) == before_csv  # byte for byte
    assert batches.totals(batches.rows_for(first)).overall == before_totals
    second_rows = batches.rows_for(later.batch)
    assert [(r.number, r.kind, r.amount, r.status) for r in second_rows] == [
        ("R-1004", "payment", Decimal("15.00"), "paid"),
        ("R-1003-R1", "refund", Decimal("-25.00"), "refunded"),
    ]
    assert [s.batch.status for s in batches.list_batches()] == ["open", "closed"]


def test_close_is_refused_twice_and_when_payments_arrived_since_review(guarantor, staff):
    r = pay(guarantor, "R-1", "10.00", at(2026, 11, 23, 15, 0))
    batch = r.batch
    seen = batches.fingerprint(batches.rows_for(batch))
    pay(guarantor, "R-2", "5.00", at(2026, 11, 23, 15, 5))
    with pytest.raises(batches.BatchChanged):
        batches.close(batch, staff, expected=seen)
    assert ReferenceBatch.get_by_id(batch.id).status == "open"
    batches.close(batch, staff, expected=batches.fingerprint(batches.rows_for(batch)))
    with pytest.raises(batches.BatchClosed):
        batches.close(batch, staff)
    assert ReferenceBatch.get_by_id(batch.id).closed_by_id == staff.id


def test_a_decline_written_without_a_batch_is_counted_in_the_batch_open_at_the_time(guarantor, staff):
    r1 = pay(guarantor, "R-1", "10.00", at(2026, 11, 23, 15, 0))
    pay(guarantor, "R-2", "0.00", at(2026, 11, 23, 15, 5), status="unsuccessful", batch=False)
    clock.freeze(at(2026, 11, 23, 18, 0))
    batches.close(r1.batch, staff)
    pay(guarantor, "R-3", "0.00", at(2026, 11, 23, 20, 0), status="unsuccessful", batch=False)
    r4 = pay(guarantor, "R-4", "7.00", at(2026, 11, 23, 21, 0))
    assert [r.number for r in batches.rows_for(r1.batch)] == ["R-1", "R-2"]
    assert [r.number for r in batches.rows_for(r4.batch)] == ["R-3", "R-4"]
    assert batches.totals(batches.rows_for(r4.batch)).overall.unsuccessful_count == 1


def test_parallel_first_payments_open_one_batch(db_url, guarantor):
    if not db_url.startswith("postgres"):
        database.close()  # each thread opens its own SQLite connection
    group_id = guarantor.group_id
    results, errors = [], []
    barrier = threading.Barrier(6)

    def worker():
        try:
            barrier.wait()
            with database.connection_context():
                with database.atomic():
                    results.append(batches.batch_for_payment(Group.get_by_id(group_id)).id)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    with database.connection_context():
        assert ReferenceBatch.select().count() == 1


# --- the command line -----------------------------------------------------------------------

@pytest.fixture
def env(monkeypatch, db_url):
    monkeypatch.setenv("POPS_DATABASE_URL", db_url)
    monkeypatch.setenv("POPS_SECRET_KEY", "c" * 48)


def test_cli_batches_export_to_stdout_and_to_a_file(env, guarantor, second, staff, capsys, tmp_path):
    batch = hand_built_day(guarantor, second, staff)
    expected = batches.export_csv(batch)
    assert cli.main(["batches", "export", str(batch.id)]) == 0
    assert capsys.readouterr().out == expected
    out = tmp_path / "batch.csv"
    assert cli.main(["batches", "export", str(batch.id), "--out", str(out)]) == 0
    assert out.read_bytes() == expected.encode("utf-8")
    assert cli.main(["batches", "export", "999"]) == 1
    assert "no reference batch 999" in capsys.readouterr().err


def test_cli_contacts_export(env, guarantor, capsys, tmp_path):
    ContactChange.create(guarantor=guarantor, field="email", old_value="maria@example.org",
                         new_value="maria.lopez@example.org", changed_at=at(2026, 11, 20, 18, 5))
    ContactChange.create(guarantor=guarantor, field="mobile", old_value="+15555550123", new_value="+15555550999",
                         changed_at=at(2026, 11, 21, 9, 0), cleared_at=at(2026, 11, 22, 9, 0))
    assert cli.main(["contacts", "export"]) == 0
    assert capsys.readouterr().out == (
        "account,field,old_value,new_value,changed_at\r\n"
        "A1001,email,maria@example.org,maria.lopez@example.org,2026-11-20T12:05:00-06:00\r\n"
    )
    out = tmp_path / "contacts.csv"
    assert cli.main(["contacts", "export", "--all", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[2] == (
        "A1001,mobile,+15555550123,+15555550999,2026-11-21T03:00:00-06:00")
