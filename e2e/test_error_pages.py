"""At phone size (390 px): a revoked link's 410 page and the processor-error page, in the practice's
branding, each saying what happened, whether money was taken and whom to call (a tel: link).
A screenshot of each is kept in POPS_ARTIFACTS_DIR (test_error_pages__*.png)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from helpers import ARTIFACTS_DIR, import_document

BRAND = "#7a3b8f"
DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "ERR", "name": "Harbor View Clinic", "footer_phone": "(555) 010-4400",
                "timezone": "America/Chicago", "brand_color": BRAND}],
    "guarantors": [
        {
            "account": account, "group": "ERR", "first_name": first, "last_name": "Errant",
            "date_of_birth": "1979-05-06", "email": f"{first.lower()}@example.org", "mobile": "",
            "sms_opt_out": False, "escrow": "0.00", "unapplied": "0.00",
            "patients": [{"id": "P1", "first_name": first, "last_name": "Errant", "date_of_birth": "1979-05-06"}],
            "encounters": [{"id": "E1", "patient": "P1", "date": "2026-08-03", "provider": "Dr. Ada Stone",
                            "description": "Office visit", "in_collections": False,
                            "lines": [{"id": "1", "kind": "charge", "description": "Office visit", "amount": "75.00"}]}],
            "statements": [{"number": f"S-{account}", "date": "2026-09-15", "due_date": "2026-10-10",
                            "balance": "75.00", "amount_due": "75.00", "encounters": ["E1"]}],
        }
        for account, first in (("R2001", "Rhea"), ("R2002", "Pavel"))
    ],
}


@pytest.fixture(scope="module")
def ledger(server):
    import_document(server, DOCUMENT)
    return DOCUMENT


def quickpay_link(server, account: str) -> str:
    return server.run_pops("link", "create", "--account", account).stdout.strip()


def keep_screenshot(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"test_error_pages__{name}.png"), full_page=True)


def assert_branded_and_fits(page: Page) -> None:
    bar = page.locator("header.bar")
    expect(bar).to_contain_text("Harbor View Clinic")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 59, 143)"  # the brand colour
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"


def test_a_revoked_link_gets_a_branded_410_with_the_practice_phone(server, ledger, page, page_errors):
    url = quickpay_link(server, "R2001")
    page.goto(url)
    expect(page.get_by_test_id("amount-due")).to_have_text("$75.00")
    out = server.run_pops("link", "revoke", "--account", "R2001").stdout
    assert out.strip() == "1 link revoked for account R2001"

    page.reload()  # the QuickPay session the link opened has ended
    expect(page.get_by_role("heading", name="Your session has ended")).to_be_visible()
    response = page.goto(url)
    assert response.status == 410
    error = page.get_by_test_id("link-error")
    expect(error.get_by_role("heading", name="This link can no longer be used")).to_be_visible()
    expect(error).not_to_contain_text("newer one")
    phone = error.get_by_role("link", name="(555) 010-4400")
    expect(phone).to_have_attribute("href", "tel:5550104400")
    assert_branded_and_fits(page)
    keep_screenshot(page, "revoked_410")
    # the 401 and 410 answers are logged by the browser; nothing else may be (CSP, scripts)
    assert [e for e in page_errors if "Failed to load resource" not in e] == []


def test_a_processor_error_says_not_charged_and_whom_to_call(server, ledger, page, page_errors):
    page.goto(quickpay_link(server, "R2002"))
    page.get_by_test_id("pay-button").click()
    page.get_by_label("Card number").fill("4000 0000 0000 0119")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    result = page.get_by_test_id("pay-result")
    expect(result.get_by_role("heading", name="Payment not completed")).to_be_visible()
    expect(result).to_contain_text("The card processor had a problem, so the payment did not go through.")
    expect(result.get_by_test_id("not-charged")).to_contain_text("You were not charged.")
    expect(result.get_by_role("link", name="(555) 010-4400")).to_have_attribute("href", "tel:5550104400")
    assert_branded_and_fits(page)
    keep_screenshot(page, "processor_error")
    assert page_errors == []
