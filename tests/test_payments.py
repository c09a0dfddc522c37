"""Paying, over HTTP through the sandbox gateway's hosted page: every state, every double."""
from __future__ import annotations

import datetime as dt
import html
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from pops import cli, clock, jobs, ledger, payments
from pops.db import database
from pops.gateways.sandbox_tables import SandboxCharge
from pops.models import (
    Encounter,
    EncounterLine,
    Group,
    OutboxMessage,
    PatientSession,
    PaymentAttempt,
    Receipt,
    ReceiptApplication,
    ReferenceBatch,
    StoredCard,
    Transaction,
)

from factories import make_encounter, make_guarantor, make_patient, make_staff, make_statement
from http_helpers import CSRF, open_browser, post_form, sign_in_as

APPROVED = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT = "4000 0000 0000 9995"
PROCESSOR_ERROR = "4000 0000 0000 0119"


@pytest.fixture
def account(guarantor):
    """Two open visits (Sept $50, Oct $70), a statement of Oct 15 with $120 due."""
    leo = make_patient(guarantor, "P1", "Leo", "Lopez")
    for ext, day, amount in (("E1", dt.date(2026, 9, 1), "50.00"), ("E2", dt.date(2026, 10, 1), "70.00")):
        make_encounter(guarantor, ext, patient=leo, date=day, provider="Dr. Ada Stone", charge=amount)
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="120.00")
    return guarantor


def pay_form(client, page="/quickpay") -> dict:
    html = client.get(page).text
    return {
        "key": re.search(r'name="key" value="([^"]+)"', html).group(1),
        "seq": re.search(r'name="seq" value="([^"]+)"', html).group(1),
        "account": re.search(r'name="account" value="([^"]+)"', html).group(1),
    }


def start(client, amount="amount_due", other="", form=None, **extra):
    form = form or pay_form(client)
    return post_form(client, "/pay/start", {**form, "amount": amount, "other_amount": other, **extra})


def gateway_path(response) -> str:
    assert response.status_code == 303, response.text
    url = urlsplit(response.headers["location"])
    assert url.path.startswith("/sandbox-gateway/checkout/"), response.headers["location"]
    return url.path


def card_form(number=APPROVED, expiry="12/30", cvc="123", **extra):
    return {"number": number, "expiry": expiry, "cvc": cvc, **extra}


def back_to_pops(client, response) -> str:
    """Follow the hosted page's 303 back to POPS and on to the result page; returns its path."""
    assert response.status_code == 303, response.text
    back = urlsplit(response.headers["location"])
    assert back.path.startswith("/pay/return/")
    settled = client.get(f"{back.path}?{back.query}")
    assert settled.status_code == 303
    return settled.headers["location"]


def pay(client, number=APPROVED, amount="amount_due", other="", **card):
    path = gateway_path(start(client, amount, other))
    return back_to_pops(client, client.post(path, data=card_form(number, **card)))


def test_paying_the_amount_due_with_an_approved_card(client, account):
    sign_in_as(client, account, quickpay=True, origin="sms_link")
    response = start(client)
    path = gateway_path(response)
    page = client.get(path)
    assert page.status_code == 200 and "$120.00" in page.text and "Card number" in page.text
    assert PaymentAttempt.get().status == "pending"  # at the gateway; nothing paid yet
    assert Receipt.select().count() == 0

    result_path = back_to_pops(client, client.post(path, data=card_form()))
    result = client.get(result_path)
    assert "Payment received" in result.text

    attempt = PaymentAttempt.get()
    receipt = Receipt.get()
    assert attempt.status == "paid" and attempt.receipt_id == receipt.id
    assert (receipt.amount, receipt.status, receipt.source) == (Decimal("120.00"), "paid", "pops")
    assert (receipt.card_type, receipt.last4, receipt.method) == ("Visa", "4242", "card")
    assert receipt.number in result.text
    sale = Transaction.get()
    assert sale.kind == "sale" and sale.amount == Decimal("120.00") and sale.number.startswith("sbx_ch_")
    # oldest first: all of September's $50, then $70 of October's
    applied = [(a.encounter.ext_id, a.amount) for a in ReceiptApplication.select().order_by(ReceiptApplication.id)]
    assert applied == [("E1", Decimal("50.00")), ("E2", Decimal("70.00"))]
    after = ledger.balances_for(account)
    assert after.current_balance == Decimal("0.00") and after.amount_due == Decimal("0.00")
    batch = receipt.batch
    assert (batch.description, batch.user, batch.status) == ("API Payments", "POPS", "open")
    assert batch.batch_date == dt.date(2026, 11, 23)  # 09:00 in Chicago
    assert PatientSession.get().payment_outcome == "paid"

    printable = client.get(f"/receipts/{receipt.number}")
    assert printable.status_code == 200
    for text in (receipt.number, "Maria Lopez", "A1001", sale.number, "Visa ••4242", "$120.00", "Paid", "Leo Lopez"):
        assert text in printable.text


def test_a_partial_payment_applies_to_the_oldest_visit_and_joins_the_days_batch(client, account):
    sign_in_as(client, account, quickpay=True)
    pay(client, amount="other", other="$30")
    clock.advance(dt.timedelta(hours=3))
    sign_in_as(client, account, quickpay=True)  # the first session has long ended
    pay(client, amount="other", other="25.50")
    first, second = Receipt.select().order_by(Receipt.id)
    assert first.batch_id == second.batch_id and ReferenceBatch.select().count() == 1
    applied = [(a.receipt.number, a.encounter.ext_id, a.amount) for a in ReceiptApplication.select().order_by(ReceiptApplication.id)]
    assert applied == [(first.number, "E1", Decimal("30.00")), (second.number, "E1", Decimal("20.00")),
                       (second.number, "E2", Decimal("5.50"))]
    assert ledger.balances_for(account).current_balance == Decimal("64.50")


def test_the_next_local_day_and_a_closed_batch_each_open_a_new_batch(client, account):
    sign_in_as(client, account, quickpay=True)
    pay(client, amount="other", other="10")
    batch = ReferenceBatch.get()
    ReferenceBatch.update(status="closed", closed_at=clock.now()).execute()
    clock.advance(dt.timedelta(hours=1))
    sign_in_as(client, account, quickpay=True)
    pay(client, amount="other", other="11")
    clock.freeze(dt.datetime(2026, 11, 24, 6, 30, tzinfo=dt.timezone.utc))  # 00:30 on the 24th in Chicago
    sign_in_as(client, account, quickpay=True)
    pay(client, amount="other", other="12")
    batches = list(ReferenceBatch.select().order_by(ReferenceBatch.id))
    assert [(b.batch_date, b.status) for b in batches] == [
        (dt.date(2026, 11, 23), "closed"), (dt.date(2026, 11, 23), "open"), (dt.date(2026, 11, 24), "open")]
    assert [r.amount for r in Receipt.select().where(Receipt.batch == batch)] == [Decimal("10.00")]  # never changed


@pytest.mark.parametrize("number, message", [
    (DECLINED, "Your card was declined."),
    (INSUFFICIENT, "Your card has insufficient funds."),
])
def test_a_declined_card_shows_payment_failed_and_leaves_a_zero_receipt(client, account, number, message):
    sign_in_as(client, account, quickpay=True)
    result = client.get(pay(client, number))
    assert "Payment Failed" in result.text and message in result.text and "Try again" in result.text
    receipt = Receipt.get()
    assert (receipt.amount, receipt.status, receipt.decline_reason) == (Decimal("0.00"), "unsuccessful", message)
    assert receipt.batch is not None  # counted in the day's batch, so counts reconcile
    assert ReceiptApplication.select().count() == 0
    assert PaymentAttempt.get().status == "declined"
    assert ledger.balances_for(account).current_balance == Decimal("120.00")
    assert PatientSession.get().payment_outcome == "declined"
    printable = client.get(f"/receipts/{receipt.number}")
    assert "Unsuccessful (declined)" in printable.text and "$0.00" in printable.text


def test_a_processor_error_charges_nothing_and_says_so(client, account):
    sign_in_as(client, account, quickpay=True)
    result = client.get(pay(client, PROCESSOR_ERROR))
    assert "Payment not completed" in result.text and "did not go through" in result.text
    assert PaymentAttempt.get().status == "error"
    assert Receipt.select().count() == 0


@pytest.mark.parametrize("card, field_message", [
    (card_form(number="4242 4242 4242 4241"), "That card number is not valid"),
    (card_form(expiry="01/20"), "This card has expired."),
    (card_form(expiry="13/30"), "Enter the expiry date as MM/YY."),
    (card_form(cvc=""), "Enter the card's security code"),
    (card_form(cvc="12a"), "The security code is the 3 or 4 digits"),
])
def test_the_hosted_page_checks_the_card_and_charges_nothing_on_a_mistake(client, account, card, field_message):
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    page = client.post(path, data=card)
    assert page.status_code == 400 and field_message in html.unescape(page.text)
    assert "4242 4242 4242 4241" not in page.text  # a card number is never echoed back
    assert SandboxCharge.select().count() == 0 and PaymentAttempt.get().status == "pending"
    # and it still works once corrected
    assert "Payment received" in client.get(back_to_pops(client, client.post(path, data=card_form()))).text


def test_without_require_cvv_the_security_code_is_optional(client, account):
    Group.update(require_cvv=False).execute()
    sign_in_as(client, account, quickpay=True)
    assert "Payment received" in client.get(pay(client, cvc="")).text


@pytest.mark.parametrize("other, message", [
    ("abc", "Please enter an amount from $1.00 to $120.00."),
    ("0.50", "Please enter an amount from $1.00 to $120.00."),
    ("120.01", "Please enter an amount from $1.00 to $120.00."),
    ("1.005", "Please enter an amount from $1.00 to $120.00."),
    ("-5", "Please enter an amount from $1.00 to $120.00."),
])
def test_an_other_amount_out_of_range_is_refused_and_changes_nothing(client, account, other, message):
    sign_in_as(client, account, quickpay=True)
    response = start(client, "other", other)
    assert response.status_code == 400 and message in response.text
    assert PaymentAttempt.select().count() == 0
    assert account.__class__.get_by_id(account.id).payment_seq == 0


def test_an_account_that_may_not_pay_is_refused_with_the_exact_message(client, account):
    account.__class__.update(escrow=Decimal("20.00")).execute()
    sign_in_as(client, account, quickpay=True)
    page = client.get("/quickpay")
    assert "Payment Not Possible: Please contact Riverside Family Medicine to make a payment at this time." in page.text
    assert 'action="/pay/start"' not in page.text
    response = post_form(client, "/pay/start", {"key": "k" * 32, "seq": "0", "amount": "amount_due"})
    assert response.status_code == 400 and "Payment Not Possible" in response.text
    assert PaymentAttempt.select().count() == 0


def test_a_form_without_its_token_is_refused(client, account):
    sign_in_as(client, account, quickpay=True)
    form = pay_form(client)
    response = client.post("/pay/start", data={**form, "amount": "amount_due"})
    assert response.status_code == 403 and "nothing was changed" in response.text
    response = client.post("/pay/start", data={**form, "amount": "amount_due", "csrf": "x" * 30})
    assert response.status_code == 403
    assert PaymentAttempt.select().count() == 0


def test_a_double_click_or_retried_post_is_one_attempt_and_one_checkout(client, account):
    sign_in_as(client, account, quickpay=True)
    form = pay_form(client)
    first = gateway_path(start(client, form=form))
    second = gateway_path(start(client, form=form))
    assert first == second
    assert PaymentAttempt.select().count() == 1
    # and the hosted page's own double click is one charge, one receipt
    one = client.post(first, data=card_form())
    two = client.post(first, data=card_form())
    back_to_pops(client, one)
    back_to_pops(client, two)
    assert SandboxCharge.select().count() == 1 and Receipt.select().count() == 1
    # the back button from the result page to the hosted page: it sends the patient back, no charge
    again = client.get(first)
    assert again.status_code == 303 and "/pay/return/" in again.headers["location"]
    client.get(again.headers["location"].replace("http://testserver", ""))
    assert Receipt.select().count() == 1 and ledger.balances_for(account).current_balance == Decimal("0.00")


def test_a_second_tab_with_the_same_balance_cannot_start_a_second_payment(client, account):
    sign_in_as(client, account, quickpay=True)
    tab_one, tab_two = pay_form(client), pay_form(client)
    back_to_pops(client, client.post(gateway_path(start(client, "other", "10", form=tab_one)), data=card_form()))
    refused = start(client, "other", "10", form=tab_two)
    assert refused.status_code == 400 and "out of date" in refused.text
    assert PaymentAttempt.select().count() == 1 and Receipt.select().count() == 1


def test_a_new_payment_closes_an_abandoned_checkout_so_the_old_tab_cannot_charge(client, account):
    sign_in_as(client, account, quickpay=True)
    old_tab = gateway_path(start(client, "other", "10"))
    new_tab = gateway_path(start(client, "other", "20"))
    assert old_tab != new_tab
    closed = client.post(old_tab, data=card_form())
    assert closed.status_code == 303  # back to the practice, where it shows as not completed
    result = client.get(back_to_pops(client, closed))
    assert "Payment not completed" in result.text
    back_to_pops(client, client.post(new_tab, data=card_form()))
    assert [r.amount for r in Receipt.select()] == [Decimal("20.00")]
    assert sorted(a.status for a in PaymentAttempt.select()) == ["canceled", "paid"]


def test_parallel_double_submits_make_one_attempt(app, db, account):
    """20 threads send the same form at once: one attempt, one checkout."""
    with open_browser(app) as browser:
        sign_in_as(browser, account, quickpay=True)
        form = pay_form(browser)
        cookies = dict(browser.cookies)
    db.close()

    def submit(_):
        with TestClient(app, follow_redirects=False, cookies=cookies) as c:
            return c.post("/pay/start", data={**form, "csrf": CSRF, "amount": "amount_due"})

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(submit, range(20)))
    with database.connection_context():
        assert PaymentAttempt.select().count() == 1
        checkouts = {r.headers.get("location") for r in responses if r.status_code == 303}
        assert len(checkouts) == 1, [(r.status_code, r.text[:200]) for r in responses if r.status_code != 303]
        assert all(r.status_code == 303 for r in responses)


def test_a_forged_or_reused_result_token_changes_nothing(client, account):
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    attempt = PaymentAttempt.get()
    forged = client.get(f"/pay/return/{attempt.key}?result=forged")
    assert forged.status_code == 303
    assert PaymentAttempt.get().status == "pending" and Receipt.select().count() == 0
    back = client.post(path, data=card_form()).headers["location"]
    query = urlsplit(back).query
    client.get(f"/pay/return/{attempt.key}?{query}")
    client.get(f"/pay/return/{attempt.key}?{query}")  # reused
    assert Receipt.select().count() == 1 and PaymentAttempt.get().status == "paid"


def test_gateway_unreachable_at_the_start_tells_the_patient_they_were_not_charged(client, app, account):
    sign_in_as(client, account, quickpay=True)
    app.state.gateway.unreachable = True
    response = start(client)
    assert response.status_code == 303 and response.headers["location"].startswith("/pay/result/")
    page = client.get(response.headers["location"])
    assert "Payment not completed" in page.text and "You were not charged" in page.text
    assert 'hx-trigger="every 3s"' not in page.text
    # open until the gateway can be asked about the key; then closed as never charged
    assert PaymentAttempt.get().status == "attempt" and Receipt.select().count() == 0
    app.state.gateway.unreachable = False
    clock.advance(dt.timedelta(minutes=5))
    assert payments.settle_pending(app.state.gateway) == {"canceled": 1}


def test_a_form_resubmitted_after_the_gateway_blinked_still_records_the_payment(client, app, account):
    """The checkout was opened, the answer lost; the same form again reaches the same checkout,
    and the payment made there is recorded (the review's critical case)."""
    sign_in_as(client, account, quickpay=True)
    form = pay_form(client)
    path = gateway_path(start(client, form=form))
    app.state.gateway.unreachable = True
    blinked = start(client, form=form)  # back, resubmit: the gateway does not answer this time
    assert blinked.status_code == 303 and PaymentAttempt.get().status == "pending"
    app.state.gateway.unreachable = False
    assert gateway_path(start(client, form=form)) == path
    assert "Payment received" in client.get(back_to_pops(client, client.post(path, data=card_form()))).text
    assert Receipt.get().amount == Decimal("120.00") and PaymentAttempt.get().status == "paid"


def test_gateway_unreachable_on_return_stays_pending_until_the_settle_job_finds_the_charge(client, app, account, settings, monkeypatch, capsys):
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    back = client.post(path, data=card_form()).headers["location"]
    app.state.gateway.unreachable = True
    result_path = client.get(back.replace("http://testserver", "")).headers["location"]
    page = client.get(result_path)
    assert "Confirming your payment" in page.text and "will not be charged twice" in page.text
    assert 'hx-trigger="every 3s"' in page.text
    assert PaymentAttempt.get().status == "pending" and Receipt.select().count() == 0

    # the job leaves young attempts alone, then settles by looking the key up
    app.state.gateway.unreachable = False
    monkeypatch.setenv("POPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POPS_SECRET_KEY", settings.secret_key)
    assert cli.main(["payments", "settle"]) == 0
    assert PaymentAttempt.get().status == "pending"
    clock.advance(dt.timedelta(minutes=5))
    assert cli.main(["payments", "settle"]) == 0
    assert "paid: 1" in capsys.readouterr().out
    assert PaymentAttempt.get().status == "paid" and Receipt.select().count() == 1
    assert "Payment received" in client.get(result_path).text


def test_an_abandoned_checkout_is_closed_as_not_charged_once_it_expires(client, app, account):
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    clock.advance(dt.timedelta(minutes=10))
    assert payments.settle_pending(app.state.gateway) == {"open": 1}
    clock.advance(dt.timedelta(minutes=25))
    assert payments.settle_pending(app.state.gateway) == {"canceled": 1}
    assert client.get(path).status_code == 303  # the old page cannot be paid any more
    assert SandboxCharge.select().count() == 0


def test_emailed_receipt_when_the_group_says_so(client, account):
    Group.update(email_receipts=True).execute()
    sign_in_as(client, account, quickpay=True)
    result = client.get(pay(client))
    assert "A copy of this receipt is being emailed to maria@example.org." in result.text
    message = OutboxMessage.get(OutboxMessage.purpose == "receipt")
    receipt = Receipt.get()
    assert message.recipient == "maria@example.org" and message.channel == "email"
    for text in (receipt.number, "Maria Lopez", "A1001", "November 23, 2026", Transaction.get().number, "Visa ••4242", "$120.00"):
        assert text in message.body


def test_no_receipt_email_without_the_group_option(client, account):
    sign_in_as(client, account, quickpay=True)
    pay(client)
    assert OutboxMessage.select().count() == 0


def test_google_pay_when_the_group_enables_it(client, account):
    Group.update(enable_google_pay=True).execute()
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    assert "Pay with Google Pay" in client.get(path).text and "Apple Pay" not in client.get(path).text
    result = client.get(back_to_pops(client, client.post(path, data={"wallet": "google_pay"})))
    assert "Payment received" in result.text
    receipt = Receipt.get()
    assert receipt.method == "google_pay" and receipt.amount == Decimal("120.00")  # no fee, ever
    assert "Google Pay (Visa ••4242)" in client.get(f"/receipts/{receipt.number}").text

    # Apple Pay was not enabled for this group: refused on the hosted page, nothing charged
    sign_in_as(client, account, quickpay=True)
    Encounter.update(date=dt.date(2026, 11, 1)).where(Encounter.ext_id == "E2").execute()
    EncounterLine.create(encounter=Encounter.get(Encounter.ext_id == "E2"), ext_id="2", kind="charge",
                         amount=Decimal("5.00"), date=dt.date(2026, 11, 1))
    path = gateway_path(start(client, "current_balance"))
    refused = client.post(path, data={"wallet": "apple_pay"})
    assert refused.status_code == 400 and "not available" in refused.text
    assert SandboxCharge.select().count() == 1


def test_without_any_payment_method_the_patient_is_told_to_call(client, account):
    Group.update(enable_credit_card=False).execute()
    sign_in_as(client, account, quickpay=True)
    page = client.get("/quickpay")
    assert "Online payment is not available" in page.text and 'action="/pay/start"' not in page.text


def test_storing_a_card_then_paying_with_it_and_removing_it(client, account):
    Group.update(enable_payment_method_storage=True).execute()
    sign_in_as(client, account)
    path = gateway_path(start(client, "other", "20", form=pay_form(client, "/pay")))
    assert "Store this card for future payments" in client.get(path).text
    back_to_pops(client, client.post(path, data=card_form(store="1")))
    card = StoredCard.get()
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("Visa", "4242", 12, 2030)
    assert card.gateway_token.startswith("sbx_card_")

    page = client.get("/pay")
    assert "Saved Visa ending in 4242" in page.text
    response = start(client, "other", "15", form=pay_form(client, "/pay"), card=str(card.id))
    assert response.status_code == 303 and response.headers["location"].startswith("/pay/result/")  # no hosted page
    assert [r.amount for r in Receipt.select().order_by(Receipt.id)] == [Decimal("20.00"), Decimal("15.00")]

    assert post_form(client, f"/pay/cards/{card.id}/remove").status_code == 303
    assert StoredCard.get().removed_at is not None
    assert "Saved Visa" not in client.get("/pay").text


def test_receipts_belong_to_their_guarantor(client, account):
    sign_in_as(client, account, quickpay=True)
    pay(client)
    number = Receipt.get().number
    other = make_guarantor(account.group, "A2002", "Omar", "Haddad")
    sign_in_as(client, other)
    assert client.get(f"/receipts/{number}").status_code == 404


def test_a_payment_in_a_staff_mirror_is_taken_by_that_staff_member(client, account):
    staff = make_staff()
    sign_in_as(client, account, quickpay=True, origin="staff_mirror", staff=staff)
    pay(client)
    assert Receipt.get().taken_by_id == staff.id


def test_refunds_partial_then_full_never_more_than_paid(client, app, account):
    sign_in_as(client, account, quickpay=True)
    pay(client)
    staff = make_staff()
    gateway = app.state.gateway
    receipt = Receipt.get()
    with pytest.raises(payments.RefundRefused, match=r"At most \$120.00"):
        payments.refund(gateway, receipt, Decimal("120.01"), staff)
    payments.refund(gateway, receipt, Decimal("30.00"), staff)
    receipt = Receipt.get()
    assert (receipt.status, receipt.refunded_amount) == ("partially_refunded", Decimal("30.00"))
    assert ledger.balances_for(account).current_balance == Decimal("30.00")
    with pytest.raises(payments.RefundRefused, match=r"At most \$90.00"):
        payments.refund(gateway, receipt, Decimal("95.00"), staff)
    payments.refund(gateway, receipt, Decimal("90.00"), staff)
    receipt = Receipt.get()
    assert (receipt.status, receipt.refunded_amount) == ("refunded", Decimal("120.00"))
    refunds = list(Transaction.select().where(Transaction.kind == "refund").order_by(Transaction.id))
    assert [(t.amount, t.refund_receipt_number, t.staff_id) for t in refunds] == [
        (Decimal("30.00"), f"{receipt.number}-R1", staff.id), (Decimal("90.00"), f"{receipt.number}-R2", staff.id)]
    assert all(t.batch is not None for t in refunds)
    assert ledger.balances_for(account).current_balance == Decimal("120.00")
    assert SandboxCharge.get().refunded == Decimal("120.00")
    assert "Refunded" in client.get(f"/receipts/{receipt.number}").text


def test_a_refund_the_gateway_refuses_changes_nothing(client, app, account):
    sign_in_as(client, account, quickpay=True)
    pay(client)
    staff = make_staff()
    app.state.gateway.unreachable = True
    with pytest.raises(payments.RefundRefused, match="the refund is not confirmed"):
        payments.refund(app.state.gateway, Receipt.get(), Decimal("10.00"), staff)
    assert Receipt.get().refunded_amount == Decimal("0.00") and Receipt.get().status == "paid"
    assert Transaction.select().where(Transaction.kind == "refund").count() == 0


def test_the_same_refund_form_twice_refunds_once(client, app, account):
    sign_in_as(client, account, quickpay=True)
    pay(client)
    staff = make_staff()
    receipt = Receipt.get()
    first = payments.refund(app.state.gateway, receipt, Decimal("20.00"), staff, key="refund-form-key-1")
    again = payments.refund(app.state.gateway, Receipt.get(), Decimal("20.00"), staff, key="refund-form-key-1")
    assert again.id == first.id
    assert Receipt.get().refunded_amount == Decimal("20.00")
    assert SandboxCharge.get().refunded == Decimal("20.00")
    assert Transaction.select().where(Transaction.kind == "refund").count() == 1


def test_a_payment_the_ledger_no_longer_needs_in_full_is_kept_whole_and_flagged(client, account):
    """Between the start and the gateway's answer an import paid part of the balance: the money is
    received all the same; the receipt keeps it and staff see the rest flagged."""
    from pops.models import AuditLog

    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))  # $120.00
    EncounterLine.create(encounter=Encounter.get(Encounter.ext_id == "E2"), ext_id="9", kind="patient_payment",
                         amount=Decimal("-70.00"), date=dt.date(2026, 11, 23))
    assert "Payment received" in client.get(back_to_pops(client, client.post(path, data=card_form()))).text
    receipt = Receipt.get()
    assert receipt.amount == Decimal("120.00") and receipt.status == "paid"
    assert sum(a.amount for a in receipt.applications) == Decimal("50.00")
    flag = AuditLog.get(AuditLog.action == "receipt_not_fully_applied")
    assert "$70.00 left unapplied" in flag.detail


def test_no_second_payment_on_top_of_a_stored_card_charge_still_in_flight(client, app, account):
    Group.update(enable_payment_method_storage=True).execute()
    sign_in_as(client, account)
    back_to_pops(client, client.post(gateway_path(start(client, "other", "10", form=pay_form(client, "/pay"))),
                                     data=card_form(store="1")))
    card = StoredCard.get()
    # a saved-card payment whose gateway call has not answered yet (the process stopped mid-call)
    app.state.gateway.unreachable = True
    response = start(client, "other", "15", form=pay_form(client, "/pay"), card=str(card.id))
    assert response.status_code == 303 and PaymentAttempt.select().where(PaymentAttempt.status == "pending").count() == 1
    app.state.gateway.unreachable = False
    refused = start(client, "other", "5", form=pay_form(client, "/pay"))
    assert refused.status_code == 400 and "still being processed" in refused.text
    # the settle job finds no charge under its key and closes it; then paying works again
    clock.advance(dt.timedelta(minutes=3))
    sign_in_as(client, account)
    assert payments.settle_pending(app.state.gateway) == {"canceled": 1}
    assert gateway_path(start(client, "other", "5", form=pay_form(client, "/pay")))


def test_money_that_arrives_after_an_attempt_was_given_up_is_still_recorded(client, app, account):
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    attempt = PaymentAttempt.get()
    PaymentAttempt.update(status="error", message="gave up").execute()  # as if a bug had closed it early
    back = client.post(path, data=card_form()).headers["location"]
    result = app.state.gateway.confirm(urlsplit(back).query.removeprefix("result="))
    settled = payments.settle(PaymentAttempt.get_by_id(attempt.id), result)
    assert settled.status == "paid" and Receipt.get().amount == Decimal("120.00")


def test_a_quickpay_link_alone_cannot_charge_the_saved_card(client, account):
    Group.update(enable_payment_method_storage=True).execute()
    sign_in_as(client, account)
    back_to_pops(client, client.post(gateway_path(start(client, "other", "10", form=pay_form(client, "/pay"))),
                                     data=card_form(store="1")))
    card = StoredCard.get()
    sign_in_as(client, account, quickpay=True, origin="statement_qr")  # a forwarded text, a found statement
    page = client.get("/quickpay")
    assert "Saved Visa" not in page.text
    refused = start(client, "other", "15", form=pay_form(client), card=str(card.id))
    assert refused.status_code == 400 and "after you sign in with a code" in refused.text
    assert Receipt.select().count() == 1


def test_a_tab_started_while_another_payment_settles_is_refused(client, app, account, monkeypatch):
    """Tab A is at the gateway; tab B (loaded after A started) is sent just as A's payment is
    recorded: B must not open a second checkout for the whole balance."""
    sign_in_as(client, account, quickpay=True)
    tab_a = gateway_path(start(client))
    tab_b = pay_form(client)
    original = payments.starting._close_open_attempts

    def a_settles_first(gateway, guarantor, but):
        back = client.post(tab_a, data=card_form()).headers["location"]
        payments.complete(gateway, PaymentAttempt.get(PaymentAttempt.id != but.id), urlsplit(back).query.removeprefix("result="))
        return original(gateway, guarantor, but)

    monkeypatch.setattr(payments.starting, "_close_open_attempts", a_settles_first)
    refused = start(client, form=tab_b)
    assert refused.status_code == 400
    assert [r.amount for r in Receipt.select()] == [Decimal("120.00")]
    assert sorted(a.status for a in PaymentAttempt.select()) == ["canceled", "paid"]
    assert SandboxCharge.select().count() == 1


def test_a_charge_just_before_midnight_recorded_after_it_keeps_its_day(client, app, account):
    clock.freeze(dt.datetime(2026, 11, 24, 5, 58, tzinfo=dt.timezone.utc))  # 23:58 on the 23rd in Chicago
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))
    back = client.post(path, data=card_form()).headers["location"]
    app.state.gateway.unreachable = True
    client.get(back.replace("http://testserver", ""))
    app.state.gateway.unreachable = False
    clock.advance(dt.timedelta(minutes=5))  # the settle job runs after midnight
    assert payments.settle_pending(app.state.gateway) == {"paid": 1}
    receipt = Receipt.get()
    assert receipt.received_date == dt.date(2026, 11, 23) and receipt.batch.batch_date == dt.date(2026, 11, 23)


def test_a_refund_in_flight_does_not_make_another_read_refunded(client, app, account):
    sign_in_as(client, account, quickpay=True)
    pay(client)
    staff = make_staff()
    receipt = Receipt.get()
    # another clerk's $60.00 refund has claimed its amount and is waiting on the gateway
    Receipt.update(refunded_amount=Receipt.refunded_amount + Decimal("60.00")).execute()
    payments.refund(app.state.gateway, receipt, Decimal("60.00"), staff)
    assert Receipt.get().status == "partially_refunded"  # $60.00 of $120.00 actually refunded


def test_refunding_the_part_no_visit_got_does_not_bill_the_patient_again(client, app, account):
    sign_in_as(client, account, quickpay=True)
    path = gateway_path(start(client))  # $120.00
    EncounterLine.create(encounter=Encounter.get(Encounter.ext_id == "E2"), ext_id="9", kind="patient_payment",
                         amount=Decimal("-70.00"), date=dt.date(2026, 11, 23))
    back_to_pops(client, client.post(path, data=card_form()))  # $50.00 applied, $70.00 flagged
    staff = make_staff()
    before = ledger.balances_for(account).current_balance
    payments.refund(app.state.gateway, Receipt.get(), Decimal("70.00"), staff)
    assert ledger.balances_for(account).current_balance == before  # the visits keep their $50.00
    payments.refund(app.state.gateway, Receipt.get(), Decimal("20.00"), staff)
    assert ledger.balances_for(account).current_balance == before + Decimal("20.00")


def test_with_show_current_balance_off_and_nothing_due_there_is_no_form(client, account):
    Group.update(show_current_balance=False).execute()
    # everything on the statement was paid; a new visit since is not yet due
    EncounterLine.create(encounter=Encounter.get(Encounter.ext_id == "E1"), ext_id="9", kind="patient_payment",
                         amount=Decimal("-120.00"), date=dt.date(2026, 10, 20))
    EncounterLine.create(encounter=Encounter.get(Encounter.ext_id == "E2"), ext_id="9", kind="charge",
                         amount=Decimal("120.00"), date=dt.date(2026, 10, 1))
    sign_in_as(client, account, quickpay=True)
    page = client.get("/quickpay")
    assert "You have no balance due. Thank you!" in page.text and 'action="/pay/start"' not in page.text
    assert "Current Balance" not in page.text


def test_a_payment_the_patient_did_not_come_back_from_is_recorded_by_the_settle_job(client, app, account):
    sign_in_as(client, account)
    path = gateway_path(start(client, "other", "25", form=pay_form(client, "/pay")))
    client.post(path, data=card_form())  # paid on the hosted page; the patient closed the tab
    app.state.gateway.unreachable = True
    page = client.get("/receipts")  # the page does not ask the gateway: the settle job does
    assert page.status_code == 200 and Receipt.select().count() == 0
    clock.advance(minutes=3)
    jobs.run_once(app.state.settings, app.state.gateway)
    assert Receipt.select().count() == 0  # unreachable: left for the next run
    app.state.gateway.unreachable = False
    jobs.run_once(app.state.settings, app.state.gateway)
    receipt = Receipt.get()
    page = client.get("/receipts")
    assert receipt.amount == Decimal("25.00") and receipt.number in page.text
    assert 'data-testid="pending-payment"' not in page.text


def test_an_unpaid_checkout_is_not_shown_as_a_payment(client, account):
    sign_in_as(client, account)
    gateway_path(start(client, "other", "25", form=pay_form(client, "/pay")))  # went to the gateway, did not pay
    assert 'data-testid="pending-payment"' not in client.get("/receipts").text
