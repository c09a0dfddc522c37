"""Pay over time on a phone (390 px): from Pay to a plan in well under two minutes of clicks, with
JavaScript on and off. The schedule's page and the plan's are kept as screenshots
(test_payment_plan__review_*.png, __done_*.png, __home_*.png; js and nojs)."""
from __future__ import annotations

import re
import sys
import time

import pytest
from playwright.sync_api import Page, expect

from conftest import PHONE
from helpers import ARTIFACTS_DIR, import_document, sign_in_context

DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "PLN", "name": "Hillside Plan Clinic", "footer_phone": "(555) 010-8000",
                "timezone": "America/Chicago", "brand_color": "#2f6b3a", "enable_payment_method_storage": True,
                "payment_plans": True, "plan_min_balance": "100.00", "plan_min_instalment": "25.00",
                "plan_max_months": 6}],
    "guarantors": [
        {
            "account": account, "group": "PLN", "first_name": first, "last_name": "Planner",
            "date_of_birth": "1979-04-05", "email": "", "mobile": "+15555550188", "sms_opt_out": False,
            "escrow": "0.00", "unapplied": "0.00",
            "patients": [{"id": "P1", "first_name": first, "last_name": "Planner", "date_of_birth": "1979-04-05"}],
            "encounters": [{"id": "E1", "patient": "P1", "date": "2026-08-03", "provider": "Dr. Ada Stone",
                            "description": "Surgery", "in_collections": False,
                            "lines": [{"id": "1", "kind": "charge", "description": "Surgery", "amount": "300.00"}]}],
            "statements": [{"number": f"S-{account}", "date": "2026-09-15", "due_date": "2026-10-10",
                            "balance": "300.00", "amount_due": "300.00", "encounters": ["E1"]}],
        }
        for account, first in (("PL1", "Nora"), ("PL2", "Omar"))
    ],
}


@pytest.fixture(scope="module")
def ledger(server):
    import_document(server, DOCUMENT)
    return DOCUMENT


def keep_screenshot(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"test_payment_plan__{name}.png"), full_page=True)


def set_up_a_plan(page: Page, server, suffix: str) -> None:
    started = time.monotonic()
    page.goto(f"{server.url}/pay")
    page.get_by_role("link", name="Pay over time").click()
    page.get_by_label("Number of months").select_option("3")
    page.get_by_label("Day of the month for payments").select_option("15")
    page.get_by_test_id("plan-review").click()
    til = page.get_by_test_id("truth-in-lending")
    expect(til).to_contain_text("Annual Percentage Rate")
    expect(page.get_by_test_id("til-apr")).to_have_text("0 %")
    expect(page.get_by_test_id("til-finance")).to_have_text("$0.00")
    expect(page.get_by_test_id("til-sale-price")).to_have_text("$300.00")
    expect(page.get_by_test_id("schedule-total")).to_have_text("$300.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the schedule scrolls sideways"
    keep_screenshot(page, f"review_{suffix}")
    page.get_by_label("Yes, text me").check()
    page.get_by_test_id("plan-agree").check()
    page.get_by_test_id("plan-confirm").click()
    assert "/sandbox-gateway/checkout/" in page.url
    expect(page.get_by_text("stored for the payment plan")).to_be_visible()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.get_by_test_id("plan-result")).to_contain_text("Your payment plan is set up")
    expect(page.get_by_test_id("plan-status")).to_have_text("Active")
    expect(page.get_by_test_id("plan-remaining")).to_have_text("$200.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the plan scrolls sideways"
    keep_screenshot(page, f"done_{suffix}")
    page.get_by_role("link", name="Home").first.click()
    expect(page.get_by_test_id("plan-summary-remaining")).to_have_text("$200.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "Home scrolls sideways"
    keep_screenshot(page, f"home_{suffix}")
    elapsed = time.monotonic() - started
    print(f"plan set up in {elapsed:.1f}s", file=sys.stderr)
    assert elapsed < 120


def test_a_plan_set_up_on_a_phone_with_javascript(server, ledger, page, page_errors):
    sign_in_context(page.context, server, "PL1")
    set_up_a_plan(page, server, "js")
    assert page_errors == []


def test_a_plan_set_up_on_a_phone_without_javascript(server, ledger, browser):
    context = browser.new_context(**PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        sign_in_context(context, server, "PL2")
        set_up_a_plan(context.new_page(), server, "nojs")
    finally:
        context.close()
