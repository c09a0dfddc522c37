"""The desk QR flow in a real browser (issue 5): a staff member at a desktop generates a desk QR code,
the patient's phone scans it off the screen, pays an Other Amount on the sandbox card page and sees
the receipt; the link does not open twice. The staff member then finds the receipt in today's open
batch and refunds part of it, and the patient's receipt says Partially refunded."""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error as PlaywrightError, Page, expect

from pops import clock, ledger
from pops.models import AuditLog, Guarantor, Link, PatientSession, Receipt, ReferenceBatch, Staff, Transaction

from helpers import ARTIFACTS_DIR, create_staff, scan_qr, server_database, staff_sign_in

GROUP, GROUP_NAME, TIMEZONE = "DQR", "Harbor Desk Clinic", "America/New_York"
ACCOUNT = "D1001"
EMAIL = "desk-e2e@example.org"
PASSWORD = "a long desk password for e2e"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}
# Hand-computed: two visits of $70.00 and $30.00 on one statement; the patient pays $60.00 of it
# at the desk, and the staff member refunds $25.00 of that.
DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": GROUP, "name": GROUP_NAME, "footer_phone": "(555) 010-7100", "timezone": TIMEZONE}],
    "guarantors": [{
        "account": ACCOUNT, "group": GROUP, "first_name": "Nora", "last_name": "Deskley",
        "date_of_birth": "1975-06-15", "email": "nora@example.org", "mobile": "", "sms_opt_out": False,
        "escrow": "0.00", "unapplied": "0.00",
        "patients": [{"id": "P1", "first_name": "Nora", "last_name": "Deskley", "date_of_birth": "1975-06-15"}],
        "encounters": [
            {"id": eid, "patient": "P1", "date": day, "provider": "Dr. Ada Stone", "description": "Office visit",
             "in_collections": False,
             "lines": [{"id": "1", "kind": "charge", "description": "Office visit", "amount": amount}]}
            for eid, day, amount in (("DV1", "2026-08-03", "70.00"), ("DV2", "2026-09-07", "30.00"))
        ],
        "statements": [{"number": "S-D1001", "date": "2026-09-15", "due_date": "2026-10-10",
                        "balance": "100.00", "amount_due": "100.00", "encounters": ["DV1", "DV2"]}],
    }],
}


@pytest.fixture(scope="module")
def totp_secret(server, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("desk") / "ledger.json"
    path.write_text(json.dumps(DOCUMENT))
    server.run_pops("import", str(path))
    return create_staff(server, EMAIL, PASSWORD)


@pytest.fixture
def desk(browser, request) -> Page:
    """The front desk's browser: a desktop-sized context of its own (never shared with the patient's)."""
    context = browser.new_context(**DESKTOP)
    context.set_default_timeout(10_000)
    desk = context.new_page()
    yield desk
    if any(getattr(request.node, f"rep_{when}", None) is not None and getattr(request.node, f"rep_{when}").failed
           for when in ("setup", "call")):
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            desk.screenshot(path=str(ARTIFACTS_DIR / "test_desk_qr__desk.png"), full_page=True)
        except PlaywrightError as exc:
            print(f"could not save a screenshot of {desk.url}: {exc}", file=sys.stderr)
    context.close()


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text} ({page.url})") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return errors


def test_desk_qr_scan_pay_then_refund_part_from_todays_batch(server, totp_secret, desk, page, page_errors):
    desk_errors = collect_errors(desk)
    with server_database(server):
        guarantor = Guarantor.get(Guarantor.account == ACCOUNT)
        assert ledger.balances_for(guarantor).amount_due == Decimal("100.00")
        staff = Staff.get(Staff.email == EMAIL)

    # --- the desk: sign in with password and TOTP, find the guarantor, Generate QR Code ----------
    staff_sign_in(desk, server, EMAIL, PASSWORD, totp_secret)
    desk.get_by_label("Name").fill("Deskley")
    desk.get_by_label("Date of birth").fill("06/15/1975")
    desk.get_by_role("button", name="Find").click()
    expect(desk.get_by_role("heading", name="1 found")).to_be_visible()
    desk.get_by_test_id("find-results").get_by_role("link", name=ACCOUNT).click()
    expect(desk.get_by_role("heading", name=f"Nora Deskley · {ACCOUNT}")).to_be_visible()
    panel = desk.get_by_test_id("balance-panel")
    expect(panel.get_by_test_id("amount-due")).to_have_text("$100.00")
    expect(panel.get_by_test_id("eligibility")).to_have_text("Can pay online.")

    desk.get_by_role("button", name="Generate QR Code").click()
    expect(desk.get_by_role("heading", name=f"Scan to pay: {GROUP_NAME}")).to_be_visible()
    shown = desk.get_by_test_id("desk-qr")
    box = shown.locator("svg").bounding_box()
    assert box["width"] >= 300 and abs(box["width"] - box["height"]) < 1, f"the desk QR is not shown large: {box}"
    code = desk.get_by_test_id("desk-code").inner_text().strip()
    assert re.fullmatch(r"D[0-9A-Z]{3}(-[0-9A-Z]{4}){4}", code), code
    expect(desk.get_by_text(re.compile(r"Works once, until \d\d:\d\d E[SD]T \(15 minutes\)\."))).to_be_visible()  # the group's zone

    with server_database(server):
        link = Link.get((Link.guarantor == guarantor.id) & (Link.purpose == "desk"))
        assert (link.uses, link.max_uses, link.created_by_id, link.revoked_at) == (0, 1, staff.id, None)
        assert link.expires_at - link.created_at == dt.timedelta(minutes=15)
        assert code.replace("-", "").startswith(link.key)
        desk_audit = list(AuditLog.select().where((AuditLog.action == "desk_qr") & (AuditLog.staff == staff.id)))
        assert [a.guarantor_id for a in desk_audit] == [guarantor.id]
        assert not any(code in a.detail or link.key in a.detail for a in AuditLog.select())  # never a code

    # --- the phone: scan the code off the desk's screen, land on QuickPay ------------------------
    scanned = scan_qr(shown)
    assert scanned == f"{server.url}/q/{code}"
    page.goto(scanned)
    assert page.url == f"{server.url}/quickpay"  # the code is not left in the address bar
    expect(page.get_by_test_id("guarantor-name")).to_have_text("Nora Deskley")
    expect(page.get_by_test_id("amount-due")).to_have_text("$100.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "QuickPay scrolls sideways on a phone"
    with server_database(server):
        assert Link.get_by_id(link.id).uses == 1
        session = PatientSession.get(PatientSession.link == link.id)
        assert (session.origin, session.auth, session.quickpay, session.staff_id) == ("desk_qr", "quickpay", True, None)

    # pay an Other Amount with the test Visa on the sandbox's hosted page
    page.get_by_role("radio", name="Other Amount").check()
    page.get_by_label("Other amount (from $1.00 to $100.00)").fill("60.00")
    page.get_by_test_id("pay-button").click()
    expect(page.get_by_test_id("gateway-amount")).to_have_text("$60.00")
    assert "/sandbox-gateway/checkout/" in page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the card page scrolls sideways on a phone"
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay $60.00").click()
    result = page.get_by_test_id("pay-result")
    expect(result).to_contain_text("Payment received")
    expect(result).to_contain_text(f"$60.00 was paid to {GROUP_NAME}.")
    number = page.get_by_test_id("receipt-number").inner_text()
    page.get_by_role("link", name="View and print your receipt").click()
    expect(page.get_by_role("heading", name=f"Receipt {number}")).to_be_visible()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$60.00")
    expect(page.get_by_test_id("paid-with")).to_have_text("Visa ••4242")
    expect(page.get_by_test_id("receipt-status")).to_have_text("Paid")
    page.goto(f"{server.url}/quickpay")
    expect(page.get_by_test_id("amount-due")).to_have_text("$40.00")

    assert page_errors == []

    # the desk link worked once: scanning it again is refused with 410, and the session lives on
    again = page.goto(scanned)
    assert again is not None and again.status == 410
    expect(page.get_by_role("heading", name="This link has been used too many times")).to_be_visible()
    expect(page.get_by_test_id("link-error")).to_contain_text("(555) 010-7100")
    # Chromium logs the 410 itself as a console error; that one is expected, nothing else
    assert page_errors == [f"console: Failed to load resource: the server responded with a status of 410 (Gone) ({scanned})"]
    page_errors.clear()

    group_today = clock.now().astimezone(ZoneInfo(TIMEZONE)).date()
    with server_database(server):
        assert Link.get_by_id(link.id).uses == 1
        receipt = Receipt.get(Receipt.number == number)
        assert (receipt.guarantor_id, receipt.source, receipt.status, receipt.amount, receipt.refunded_amount) == (
            guarantor.id, "pops", "paid", Decimal("60.00"), Decimal("0.00"))
        assert (receipt.method, receipt.card_type, receipt.last4, receipt.taken_by_id) == ("card", "Visa", "4242", None)
        batch = ReferenceBatch.get_by_id(receipt.batch_id)
        assert (batch.group.code, batch.status, batch.batch_date) == (GROUP, "open", group_today)
        assert PatientSession.get_by_id(session.id).payment_outcome == "paid"
        assert ledger.balances_for(guarantor).amount_due == Decimal("40.00")

    # --- the desk: today's open batch lists the receipt, with Visa in the totals ----------------
    desk.get_by_role("navigation", name="Staff menu").get_by_role("link", name="Batches").click()
    expect(desk.get_by_role("heading", name="Reference batches")).to_be_visible()
    open_row = desk.get_by_test_id("open-batches").get_by_role("row").filter(has_text=GROUP)
    expect(open_row).to_have_count(1)
    expect(open_row).to_contain_text(group_today.isoformat())
    expect(open_row).to_contain_text("Open")
    open_row.get_by_role("link", name=str(batch.id)).click()
    expect(desk.get_by_role("heading", name=f"Batch {batch.id} · {GROUP} · {group_today.isoformat()}")).to_be_visible()
    expect(desk.get_by_test_id("batch-status")).to_have_text("Open")
    row = desk.get_by_test_id("batch-rows").get_by_role("row").filter(has_text=number)
    expect(row).to_have_count(1)
    for text in ("Payment", ACCOUNT, "Nora Deskley", "Paid", "Visa ···4242", "$60.00", "patient"):
        expect(row).to_contain_text(text)
    visa = desk.get_by_test_id("card-totals").get_by_role("row").filter(has_text="Visa")
    expect(visa.get_by_role("cell")).to_have_text(["Visa", "1", "0", "$60.00", "0", "$0.00", "$60.00"])

    # --- open the receipt and refund part of it -------------------------------------------------
    row.get_by_role("link", name=number).click()
    expect(desk.get_by_role("heading", name=f"Receipt {number}")).to_be_visible()
    expect(desk.get_by_test_id("status")).to_have_text("Paid")
    refund = desk.get_by_test_id("refund-form")
    expect(refund.get_by_label("Amount to refund")).to_have_value("60.00")
    expect(refund).to_contain_text("at most $60.00")
    refund.get_by_label("Amount to refund").fill("25.00")
    refund.get_by_role("button", name="Refund").click()
    expect(desk.get_by_test_id("notice")).to_have_text("Refund made.")
    expect(desk.get_by_test_id("status")).to_have_text("Partially refunded")
    expect(desk.get_by_test_id("refunded")).to_have_text("$25.00")
    expect(refund.get_by_label("Amount to refund")).to_have_value("35.00")
    refund_row = desk.get_by_test_id("transactions").locator("tbody tr").filter(has_text="Refund")
    expect(refund_row).to_contain_text(f"{number}-R1")
    expect(refund_row).to_contain_text(EMAIL)

    # the batch now carries the refund too
    desk.get_by_role("link", name=f"Batch {batch.id}").click()
    expect(visa.get_by_role("cell")).to_have_text(["Visa", "1", "0", "$60.00", "1", "$25.00", "$35.00"])
    expect(desk.get_by_test_id("batch-rows").get_by_role("row").filter(has_text=f"{number}-R1")).to_contain_text(EMAIL)

    with server_database(server):
        receipt = Receipt.get(Receipt.number == number)
        assert (receipt.status, receipt.refunded_amount) == ("partially_refunded", Decimal("25.00"))
        refunds = list(Transaction.select().where((Transaction.receipt == receipt.id) & (Transaction.kind == "refund")))
        assert [(t.amount, t.status, t.staff_id, t.batch_id, t.refund_receipt_number) for t in refunds] == [
            (Decimal("25.00"), "approved", staff.id, batch.id, f"{number}-R1")]
        assert ledger.balances_for(guarantor).amount_due == Decimal("65.00")
        refund_audit = AuditLog.get((AuditLog.action == "refund") & (AuditLog.staff == staff.id))
        assert refund_audit.guarantor_id == guarantor.id and number in refund_audit.detail

    # --- the patient's phone: the receipt says Partially refunded ---------------------------------
    page.goto(f"{server.url}/receipts/{number}")
    expect(page.get_by_role("heading", name=f"Receipt {number}")).to_be_visible()
    expect(page.get_by_test_id("receipt-status")).to_have_text("Partially refunded")
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$60.00")
    expect(page.locator("tbody tr").filter(has_text="Refund")).to_contain_text("-$25.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the receipt scrolls sideways"

    assert page_errors == []
    assert desk_errors == []
