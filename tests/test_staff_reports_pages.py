"""Staff pages over HTTP: batches (close, CSV), the two reports, the requests queue, a receipt's refund."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest

from pops import batches, clock
from pops.gateways.sandbox_tables import SandboxCharge
from pops.models import (
    AuditLog,
    ContactChange,
    PatientRequest,
    PatientSession,
    Receipt,
    ReferenceBatch,
    Transaction,
)

from factories import at, hand_built_day, make_encounter, patient_session, pay
from http_helpers import give_staff_session, post_form, sign_in_as

D = Decimal


@pytest.fixture
def settings(settings):
    # Test data move the clock through the day; a day-long idle keeps one staff sign-in alive (12 hours at most).
    return dataclasses.replace(settings, staff_idle_minutes=24 * 60)


@pytest.fixture
def signed_in(client, staff):
    """`client` with a live staff session."""
    give_staff_session(client, staff, idle=dt.timedelta(hours=24))
    return client


def actions(staff):
    return [row.action for row in AuditLog.select().where(AuditLog.staff == staff).order_by(AuditLog.id)]


@pytest.mark.parametrize("path", [
    "/staff/batches", "/staff/batches/1", "/staff/batches/1.csv", "/staff/batches/1/close",
    "/staff/reports/payments", "/staff/reports/payments.csv", "/staff/reports/sessions",
    "/staff/reports/sessions.csv", "/staff/requests", "/staff/receipts/R-1001",
])
def test_pages_need_a_staff_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login?next=")


@pytest.mark.parametrize("path", [
    "/staff/batches/1/close", "/staff/requests/1/handled", "/staff/requests/contacts/1/handled",
    "/staff/receipts/R-1001/refund",
])
def test_posts_need_a_staff_sign_in(client, path):
    response = post_form(client, path, {"amount": "1.00"})
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")


def test_a_patient_session_is_not_a_staff_session(client, guarantor):
    sign_in_as(client, guarantor)
    assert client.get("/staff/batches").status_code == 303


# --- batches ---------------------------------------------------------------------------------

def test_batch_list_shows_open_and_closed_batches_with_filters(signed_in, guarantor, second, staff):
    first = hand_built_day(guarantor, second, staff)
    clock.freeze(at(2026, 11, 23, 22, 0))
    batches.close(first, staff)
    later = pay(guarantor, "R-2000", "15.00", at(2026, 11, 23, 23, 0))
    page = signed_in.get("/staff/batches")
    assert page.status_code == 200
    text = page.text
    open_part, closed_part = text.split('data-testid="open-batches"')[1].split('data-testid="closed-batches"')
    assert f'href="/staff/batches/{later.batch_id}"' in open_part and "$15.00" in open_part
    assert f'href="/staff/batches/{first.id}"' in closed_part and "$85.00" in closed_part  # net of the closed batch
    # another group's filter, and a day with nothing closed
    assert f'/staff/batches/{first.id}"' not in signed_in.get("/staff/batches?group=RFM&from=2026-11-01&to=2026-11-22").text
    bad = signed_in.get("/staff/batches?group=NOPE")
    assert bad.status_code == 400 and "There is no group NOPE." in bad.text
    assert "view_batches" in actions(staff)


def test_batch_page_shows_receipts_and_totals_by_card_type_and_downloads_the_csv(signed_in, guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    page = signed_in.get(f"/staff/batches/{batch.id}")
    assert page.status_code == 200
    totals = page.text.split('data-testid="card-totals"')[1].split("</table>")[0]
    assert "Mastercard" in totals and "Visa" in totals
    assert "<td>Visa</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">$80.00</td>" in totals
    assert "$85.00" in totals.split('data-testid="overall"')[1]
    rows = page.text.split('data-testid="batch-rows"')[1]
    for number in ("R-1001", "R-1002", "R-1003", "R-1001-R1"):
        assert number in rows
    assert 'href="/staff/batches/%d/close"' % batch.id in page.text
    csv = signed_in.get(f"/staff/batches/{batch.id}.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == f'attachment; filename="pops-batch-{batch.id}-2026-11-23.csv"'
    assert csv.content == batches.export_csv(batch).encode()
    assert actions(staff)[-2:] == ["view_batch", "export_batch"]
    assert signed_in.get("/staff/batches/999").status_code == 404


def test_htmx_gets_only_the_content(signed_in, guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    fragment = signed_in.get(f"/staff/batches/{batch.id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and "R-1001" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


def test_close_asks_first_then_closes_and_a_later_payment_opens_a_second_batch(signed_in, guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    confirm = signed_in.get(f"/staff/batches/{batch.id}/close")
    assert confirm.status_code == 200
    assert ReferenceBatch.get_by_id(batch.id).status == "open"  # asking changes nothing
    assert "A closed batch never changes." in confirm.text and 'data-testid="net">$85.00' in confirm.text
    fingerprint = confirm.text.split('name="fingerprint" value="')[1].split('"')[0]

    # without the form token: refused, nothing closed
    refused = signed_in.post(f"/staff/batches/{batch.id}/close", data={"fingerprint": fingerprint})
    assert refused.status_code == 403 and ReferenceBatch.get_by_id(batch.id).status == "open"

    closed = post_form(signed_in, f"/staff/batches/{batch.id}/close", {"fingerprint": fingerprint})
    assert closed.status_code == 303 and closed.headers["location"] == f"/staff/batches/{batch.id}?done=closed"
    row = ReferenceBatch.get_by_id(batch.id)
    assert (row.status, row.closed_by_id) == ("closed", staff.id)
    page = signed_in.get(closed.headers["location"])
    assert "The batch is closed." in page.text and f'/staff/batches/{batch.id}/close"' not in page.text
    assert AuditLog.get(AuditLog.action == "close_batch").detail == f"batch {batch.id} of 2026-11-23"

    before = signed_in.get(f"/staff/batches/{batch.id}.csv").content
    later = pay(guarantor, "R-2000", "15.00", at(2026, 11, 23, 23, 0))
    assert later.batch_id != batch.id and later.batch.batch_date == dt.date(2026, 11, 23)
    assert signed_in.get(f"/staff/batches/{batch.id}.csv").content == before
    again = post_form(signed_in, f"/staff/batches/{batch.id}/close", {"fingerprint": fingerprint})
    assert again.headers["location"] == f"/staff/batches/{batch.id}?done=already_closed"


def test_close_is_refused_when_a_payment_arrived_after_the_review(signed_in, guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    confirm = signed_in.get(f"/staff/batches/{batch.id}/close")
    fingerprint = confirm.text.split('name="fingerprint" value="')[1].split('"')[0]
    pay(guarantor, "R-1500", "9.00", at(2026, 11, 23, 18, 0))
    response = post_form(signed_in, f"/staff/batches/{batch.id}/close", {"fingerprint": fingerprint})
    assert response.status_code == 409
    assert "changed since you reviewed it" in response.text and "$94.00" in response.text  # the new net, to review
    assert ReferenceBatch.get_by_id(batch.id).status == "open"


# --- reports -------------------------------------------------------------------------------

def test_payments_report_page_filters_and_csv(signed_in, guarantor, second, staff):
    batch = hand_built_day(guarantor, second, staff)
    query = "by=received&from=2026-11-23&to=2026-11-23&card_type=Visa&total_by=card_type"
    page = signed_in.get(f"/staff/reports/payments?{query}")
    assert page.status_code == 200
    rows = page.text.split('data-testid="rows"')[1]
    assert "R-1001" in rows and "R-1002" in rows and "R-1001-R1" in rows and "R-1003" not in rows
    overall = page.text.split('data-testid="overall"')[1].split("</tr>")[0]
    assert "$80.00" in overall and "$20.00" in overall and "$60.00" in overall
    assert 'href="/staff/reports/payments.csv?by=received&amp;from=2026-11-23&amp;to=2026-11-23' in page.text
    csv = signed_in.get(f"/staff/reports/payments.csv?{query}")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    lines = csv.text.split("\r\n")
    assert lines[0].startswith("batch,batch_date,receipt,kind,")
    assert [line.split(",")[2] for line in lines[1:-1]] == ["R-1001", "R-1002", "R-1001-R1"]
    assert f"{batch.id},2026-11-23,R-1001-R1,refund,R-1001," in csv.text
    bad = signed_in.get("/staff/reports/payments?from=yesterday")
    assert bad.status_code == 200 and "From must be a date like 2026-11-23." in bad.text
    assert actions(staff)[-3:] == ["run_report", "export_report", "run_report"]


def test_session_usage_page_and_csv(signed_in, guarantor, staff):
    token, mirror = patient_session(guarantor, origin="staff_mirror", staff=staff)
    patient_session(guarantor, origin="sms_link", quickpay=True)
    PatientSession.update(pages=3, payment_outcome="paid").where(PatientSession.id == mirror.id).execute()
    page = signed_in.get("/staff/reports/sessions?from=2026-11-23&to=2026-11-23&period=month")
    assert page.status_code == 200
    by_origin = page.text.split('data-testid="by-origin"')[1].split("</table>")[0]
    assert "Staff mirror" in by_origin and "SMS link" in by_origin
    assert "2026-11" in page.text.split('data-testid="by-period"')[1].split("</table>")[0]
    only = signed_in.get("/staff/reports/sessions.csv?from=2026-11-23&to=2026-11-23&origin=staff_mirror")
    lines = only.text.split("\r\n")
    assert lines[0] == "session,origin,auth,account,guarantor,group,started_at,ended_at,end_reason,pages,payment_outcome"
    assert lines[1] == f"{mirror.id},staff_mirror,staff,A1001,Maria Lopez,RFM,2026-11-23T09:00:00-06:00,,active,3,paid"
    assert len(lines) == 3 and lines[2] == ""


# --- the requests queue ---------------------------------------------------------------------

def test_requests_queue_and_mark_handled(signed_in, guarantor, staff):
    request = PatientRequest.create(guarantor=guarantor, kind="register_patient",
                                    detail=json.dumps({"first_name": "Lucia", "last_name": "Lopez",
                                                       "date_of_birth": "2019-05-02"}))
    change = ContactChange.create(guarantor=guarantor, field="email", old_value="maria@example.org",
                                  new_value="maria.lopez@example.org")
    page = signed_in.get("/staff/requests")
    assert page.status_code == 200
    assert "Register a Patient" in page.text and "Lucia" in page.text
    assert "maria.lopez@example.org" in page.text.split('data-testid="contacts"')[1]

    done = post_form(signed_in, f"/staff/requests/{request.id}/handled")
    assert done.status_code == 303 and done.headers["location"] == "/staff/requests?done=handled"
    row = PatientRequest.get_by_id(request.id)
    assert row.handled_by_id == staff.id and row.handled_at == clock.now()
    again = post_form(signed_in, f"/staff/requests/{request.id}/handled")
    assert again.headers["location"] == "/staff/requests?done=already_handled"

    assert post_form(signed_in, f"/staff/requests/contacts/{change.id}/handled").status_code == 303
    assert ContactChange.get_by_id(change.id).cleared_at is None  # the import still honours the patient's change
    waiting = signed_in.get("/staff/requests")
    assert "No requests waiting." in waiting.text and "No contact changes waiting." in waiting.text
    everything = signed_in.get("/staff/requests?show=all")
    assert "Lucia" in everything.text and f"Handled by {staff.email}" in everything.text
    assert [a for a in actions(staff) if a.endswith("handled")] == ["request_handled", "contact_change_handled"]


# --- a receipt and its refund ----------------------------------------------------------------

@pytest.fixture
def paid_receipt(guarantor):
    enc = make_encounter(guarantor, "E100")
    receipt = pay(guarantor, "R-1001", "80.00", at(2026, 11, 23, 15, 0), transaction="sbx_ch_1",
                  apps=[(enc, "1", "80.00")])
    SandboxCharge.create(transaction="sbx_ch_1", idempotency_key="k-1", amount=D("80.00"), status="approved",
                         brand="Visa", last4="4242")
    clock.freeze(at(2026, 11, 23, 16, 0))
    return receipt


def test_receipt_page_shows_the_receipt_and_a_refund_form(signed_in, paid_receipt, staff):
    page = signed_in.get("/staff/receipts/R-1001")
    assert page.status_code == 200
    assert "sbx_ch_1" in page.text.split('data-testid="transactions"')[1]
    assert 'name="amount"' in page.text and 'value="80.00"' in page.text and "at most $80.00" in page.text
    assert AuditLog.get(AuditLog.action == "view_receipt").guarantor_id == paid_receipt.guarantor_id
    assert signed_in.get("/staff/receipts/NOPE").status_code == 404


def test_partial_then_full_refund_never_more_than_paid(signed_in, paid_receipt, staff):
    bad = post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "twelve"})
    assert bad.status_code == 422 and "Enter the amount to refund in dollars and cents" in bad.text
    too_much = post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "80.01"})
    assert too_much.status_code == 422 and "At most $80.00 can be refunded" in too_much.text
    assert Transaction.select().where(Transaction.kind == "refund").count() == 0

    done = post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "$30"})
    assert done.status_code == 303 and done.headers["location"] == "/staff/receipts/R-1001?done=refunded"
    receipt = Receipt.get_by_id(paid_receipt.id)
    assert (receipt.status, receipt.refunded_amount) == ("partially_refunded", D("30.00"))
    page = signed_in.get(done.headers["location"])
    assert "Refund made." in page.text and "at most $50.00" in page.text and "-$30.00" in page.text
    assert post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "50.01"}).status_code == 422
    assert post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "50.00"}).status_code == 303
    receipt = Receipt.get_by_id(paid_receipt.id)
    assert (receipt.status, receipt.refunded_amount) == ("refunded", D("80.00"))
    assert "Refunded in full." in signed_in.get("/staff/receipts/R-1001").text
    refunds = list(Transaction.select().where(Transaction.kind == "refund").order_by(Transaction.id))
    assert [(t.amount, t.staff_id, t.batch_id) for t in refunds] == [
        (D("30.00"), staff.id, paid_receipt.batch_id), (D("50.00"), staff.id, paid_receipt.batch_id)]
    assert [a for a in actions(staff) if a.startswith("refund")] == ["refund_refused", "refund", "refund_refused", "refund"]
    # the batch shows both refunds and nets to zero
    rows = batches.rows_for(ReferenceBatch.get_by_id(paid_receipt.batch_id))
    assert batches.totals(rows).overall.net == D("0.00")


def test_refund_when_the_gateway_is_unreachable_changes_nothing(signed_in, app, paid_receipt):
    app.state.gateway.unreachable = True
    try:
        response = post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "10.00"})
    finally:
        app.state.gateway.unreachable = False
    assert response.status_code == 422 and "the refund is not confirmed" in response.text
    receipt = Receipt.get_by_id(paid_receipt.id)
    assert (receipt.status, receipt.refunded_amount) == ("paid", D("0.00"))


def test_the_guarantor_dashboard_lists_receipts_that_lead_to_refund(signed_in, guarantor):
    """The Receipts dashboard: each receipt of the guarantor, newest first, links to its refund page."""
    from pops.models import Receipt

    for number, amount in (("R-1", "10.00"), ("POPS-000007", "25.00")):
        Receipt.create(number=number, guarantor=guarantor, source="pops" if number.startswith("POPS") else "office",
                       received_at=clock.now(), received_date=dt.date(2026, 11, 23), amount=Decimal(amount),
                       status="paid", card_type="Visa", last4="4242")
    page = signed_in.get(f"/staff/guarantors/{guarantor.account}")
    assert page.status_code == 200
    assert page.text.index("POPS-000007") < page.text.index("R-1")
    assert 'href="/staff/receipts/POPS-000007"' in page.text and "(office)" in page.text


def test_the_refund_form_sent_twice_refunds_once(signed_in, paid_receipt):
    import re

    page = signed_in.get("/staff/receipts/R-1001")
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)
    for _ in range(2):  # a double click, or the browser retrying the POST
        response = post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "10.00", "key": key})
        assert response.status_code == 303
    assert Receipt.get_by_id(paid_receipt.id).refunded_amount == D("10.00")
    assert Transaction.select().where(Transaction.kind == "refund").count() == 1
    fresh = re.search(r'name="key" value="([^"]+)"', signed_in.get("/staff/receipts/R-1001").text).group(1)
    assert fresh != key  # the next refund is a new one


def test_after_a_failed_refund_the_form_keeps_its_key(signed_in, app, paid_receipt):
    """If the gateway refunded before the line dropped, trying again must get that refund back."""
    import re

    key = re.search(r'name="key" value="([^"]+)"', signed_in.get("/staff/receipts/R-1001").text).group(1)
    app.state.gateway.unreachable = True
    try:
        failed = post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "10.00", "key": key})
    finally:
        app.state.gateway.unreachable = False
    assert failed.status_code == 422 and f'name="key" value="{key}"' in failed.text
    assert post_form(signed_in, "/staff/receipts/R-1001/refund", {"amount": "10.00", "key": key}).status_code == 303
    assert Transaction.get(Transaction.kind == "refund").idempotency_key == key
