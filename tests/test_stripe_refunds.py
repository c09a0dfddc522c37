"""With Stripe: staff refunds (by re_ id, one per form key), refunds made in Stripe's dashboard (once), a
refund that fails later (undone in POPS, shown to staff), disputes (flagged, no balance change), and a
payment the sandbox took (refunded by the sandbox)."""
from __future__ import annotations

from decimal import Decimal

from pops import ledger
from pops.models import AuditLog, Receipt, ReceiptApplication, Transaction

from factories import make_staff
from http_helpers import give_staff_session, open_browser, post_form
from stripe_helpers import (  # noqa: F401 (fixtures)
    APPROVED,
    account,
    browser,
    checkout,
    come_back,
    deliver,
    stripe_app,
    stripe_server,
)


def _paid(browser, account, stripe_server) -> Receipt:
    session_id, key = checkout(browser, account)
    come_back(browser, stripe_server.pay_session(session_id, APPROVED)["redirect"])
    deliver(stripe_server)
    stripe_server.hold_events()
    receipt = Receipt.get(Receipt.status == "paid")
    return receipt


def _refund(client, receipt: Receipt, amount: str, key: str = "refund-key-0123456789abcdef"):
    return post_form(client, f"/staff/receipts/{receipt.number}/refund", {"amount": amount, "key": key})


def _intent(receipt: Receipt) -> str:
    return Transaction.get((Transaction.receipt == receipt) & (Transaction.kind == "sale")).number


def test_a_staff_refund_is_a_stripe_refund_recorded_by_its_id_once(stripe_app, browser, account, stripe_server):
    receipt = _paid(browser, account, stripe_server)
    with open_browser(stripe_app) as desk:
        give_staff_session(desk, make_staff())
        assert _refund(desk, receipt, "20.00").status_code == 303
        assert _refund(desk, receipt, "20.00").status_code == 303  # the same form again: refunds once
    refunds = stripe_server.objects("refund")
    assert len(refunds) == 1 and refunds[0]["amount"] == 2000 and refunds[0]["payment_intent"] == _intent(receipt)
    made = Transaction.get(Transaction.kind == "refund")
    assert made.number == refunds[0]["id"] and made.number.startswith("re_") and made.gateway == "stripe"
    assert Receipt.get_by_id(receipt.id).status == "partially_refunded"
    # Stripe's events about it (charge.refunded, refund.created) record nothing more
    assert all(status == 200 for status in deliver(stripe_server, twice=True))
    assert Transaction.select().where(Transaction.kind == "refund").count() == 1


def test_a_refund_made_in_stripes_dashboard_appears_once(browser, account, stripe_server):
    receipt = _paid(browser, account, stripe_server)
    before = ledger.balances_for(account).current_balance
    refund = stripe_server.dashboard_refund(_intent(receipt), amount=3000)
    assert all(status == 200 for status in deliver(stripe_server, twice=True))
    made = Transaction.get(Transaction.kind == "refund")
    assert made.number == refund["id"] and made.amount == Decimal("30.00") and made.staff is None
    receipt = Receipt.get_by_id(receipt.id)
    assert receipt.status == "partially_refunded" and receipt.refunded_amount == Decimal("30.00")
    assert ledger.balances_for(account).current_balance == before + Decimal("30.00")
    assert AuditLog.select().where(AuditLog.action == "refund_from_stripe").count() == 1


def test_a_refund_that_fails_later_is_undone_and_shown_to_staff(stripe_app, browser, account, stripe_server):
    receipt = _paid(browser, account, stripe_server)
    paid_balance = ledger.balances_for(account).current_balance
    applied = sum(a.amount for a in ReceiptApplication.select())
    with open_browser(stripe_app) as desk:
        give_staff_session(desk, make_staff())
        assert _refund(desk, receipt, "120.00").status_code == 303
        assert Receipt.get_by_id(receipt.id).status == "refunded"
        deliver(stripe_server)
        refund_id = Transaction.get(Transaction.kind == "refund").number
        stripe_server.fail_refund(refund_id)
        assert all(status == 200 for status in deliver(stripe_server, twice=True))
        receipt = Receipt.get_by_id(receipt.id)
        assert receipt.status == "paid" and receipt.refunded_amount == Decimal("0.00")
        assert Transaction.get(Transaction.kind == "refund").status == "failed"
        assert sum(a.amount for a in ReceiptApplication.select()) == applied
        assert ledger.balances_for(account).current_balance == paid_balance
        page = desk.get(f"/staff/receipts/{receipt.number}").text
        assert "Failed" in page and refund_id in page
        assert AuditLog.select().where(AuditLog.action == "refund_failed").count() == 1


def test_a_dispute_flags_the_receipt_for_staff_and_changes_no_balance(stripe_app, browser, account, stripe_server):
    receipt = _paid(browser, account, stripe_server)
    balance = ledger.balances_for(account).current_balance
    dispute = stripe_server.open_dispute(_intent(receipt))
    deliver(stripe_server)
    assert Receipt.get_by_id(receipt.id).dispute_status == "needs_response"
    with open_browser(stripe_app) as desk:
        give_staff_session(desk, make_staff())
        assert "Disputed" in desk.get(f"/staff/receipts/{receipt.number}").text
        assert "Disputed" in desk.get(f"/staff/guarantors/{account.account}").text
        report = desk.get("/staff/reports/payments?from=2026-11-01&to=2026-11-30").text
        assert "Disputed (needs response)" in report
    stripe_server.close_dispute(dispute["id"], "lost")
    deliver(stripe_server, twice=True)
    assert Receipt.get_by_id(receipt.id).dispute_status == "lost"
    assert ledger.balances_for(account).current_balance == balance and Receipt.get_by_id(receipt.id).status == "paid"
    # the patient sees nothing of it
    assert "ispute" not in browser.get("/receipts").text


def test_a_dispute_naming_only_its_charge_flags_the_receipt_too(browser, account, stripe_server):
    receipt = _paid(browser, account, stripe_server)
    dispute = stripe_server.open_dispute(_intent(receipt))
    event = stripe_server.events("charge.dispute.created")[-1]
    stripe_server.release_events()  # not this one: it is sent below, without its payment_intent
    Receipt.update(dispute_status="").execute()
    bare = {**event, "id": "evt_dispute_charge_only",
            "data": {"object": {**event["data"]["object"], "payment_intent": None}}}
    assert dispute["charge"].startswith("ch_")
    assert stripe_server.webhooks.send(bare) == 200
    assert Receipt.get_by_id(receipt.id).dispute_status == "needs_response"
