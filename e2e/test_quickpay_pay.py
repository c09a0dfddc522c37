"""QuickPay at phone size: open an SMS link, pay on the sandbox gateway's page, see the receipt."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpers import import_document

DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "E2E", "name": "Lakeside Test Clinic", "footer_phone": "(555) 010-7000",
                "timezone": "America/Chicago", "brand_color": "#7a3b8f"}],
    "guarantors": [
        {
            "account": account, "group": "E2E", "first_name": first, "last_name": "Tester",
            "date_of_birth": "1980-02-03", "email": f"{first.lower()}@example.org", "mobile": "",
            "sms_opt_out": False, "escrow": escrow, "unapplied": "0.00",
            "patients": [{"id": "P1", "first_name": first, "last_name": "Tester", "date_of_birth": "1980-02-03"}],
            "encounters": [
                {"id": eid, "patient": "P1", "date": day, "provider": "Dr. Ada Stone", "description": "Office visit",
                 "in_collections": False,
                 "lines": [{"id": "1", "kind": "charge", "description": "Office visit", "amount": amount}]}
                for eid, day, amount in (("E1", "2026-08-03", "60.00"), ("E2", "2026-09-07", "40.00"))
            ],
            "statements": [{"number": f"S-{account}", "date": "2026-09-15", "due_date": "2026-10-10",
                            "balance": "100.00", "amount_due": "100.00", "encounters": ["E1", "E2"]}],
        }
        for account, first, escrow in (("E1001", "Paula", "0.00"), ("E1002", "Dina", "0.00"), ("E1003", "Esra", "25.00"))
    ],
}


@pytest.fixture(scope="module")
def ledger(server):
    import_document(server, DOCUMENT)
    return DOCUMENT


def quickpay_link(server, account: str) -> str:
    url = server.run_pops("link", "create", "--account", account).stdout.strip()
    assert "/q/" in url
    return url


def pay_with(page, number: str):
    page.get_by_test_id("pay-button").click()
    expect(page.get_by_test_id("gateway-amount")).to_be_visible()
    assert "/sandbox-gateway/checkout/" in page.url
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()


def test_pay_the_amount_due_and_print_the_receipt(server, ledger, page, page_errors):
    page.goto(quickpay_link(server, "E1001"))
    assert page.url.endswith("/quickpay")  # the code is gone from the address
    expect(page.get_by_test_id("guarantor-name")).to_have_text("Paula Tester")
    expect(page.get_by_test_id("amount-due")).to_have_text("$100.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    pay_with(page, "4242 4242 4242 4242")
    expect(page.get_by_test_id("pay-result")).to_contain_text("Payment received")
    number = page.get_by_test_id("receipt-number").inner_text()
    page.get_by_role("link", name="View and print your receipt").click()
    expect(page.get_by_role("heading", name=f"Receipt {number}")).to_be_visible()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$100.00")
    expect(page.get_by_test_id("paid-with")).to_have_text("Visa ••4242")
    expect(page.get_by_test_id("receipt-status")).to_have_text("Paid")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the receipt scrolls sideways"

    page.goto(f"{server.url}/quickpay")
    expect(page.get_by_test_id("payment-refused")).to_contain_text("You have no balance due. Thank you!")
    assert page_errors == []


def test_a_declined_card_shows_payment_failed_and_a_zero_receipt(server, ledger, page, page_errors):
    page.goto(quickpay_link(server, "E1002"))
    pay_with(page, "4000 0000 0000 0002")
    result = page.get_by_test_id("pay-result")
    expect(result).to_contain_text("Payment Failed")
    expect(result).to_contain_text("Your card was declined.")
    expect(result).to_contain_text("($0.00)")
    number = re.search(r"Receipt (POPS-\d+)", result.inner_text()).group(1)
    page.goto(f"{server.url}/receipts/{number}")
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$0.00")
    expect(page.get_by_test_id("receipt-status")).to_have_text("Unsuccessful (declined)")

    page.goto(f"{server.url}/quickpay")  # the balance is untouched and can still be paid
    expect(page.get_by_test_id("amount-due")).to_have_text("$100.00")
    assert page_errors == []


def test_an_escrow_account_sees_payment_not_possible(server, ledger, page):
    page.goto(quickpay_link(server, "E1003"))
    refused = page.get_by_test_id("payment-refused")
    expect(refused).to_contain_text(
        "Payment Not Possible: Please contact Lakeside Test Clinic to make a payment at this time.")
    expect(refused).to_contain_text("(555) 010-7000")
    expect(page.get_by_test_id("pay-button")).to_have_count(0)
