"""Long lists in a real browser: a patient with 25 receipts sees 20, and "Show more" adds the other 5,
with JavaScript (appended in place, the address pushed) and without (the longer page). At 390 px
(a phone) and 1280 px (a desktop), with a screenshot of each kept in the artifacts folder. The
Statements list pages the same way, with only the latest unpaid statement tagged New."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from helpers import ARTIFACTS_DIR, import_document, sign_in_context

GROUP, ACCOUNT, RECEIPTS = "LST", "L1001", 25
FIRST_DAY = dt.date(2026, 3, 2)
# Newest first, as the page lists them: R-L25 (the latest day) down to R-L01.
NEWEST_FIRST = [f"R-L{n:02}" for n in range(RECEIPTS, 0, -1)]
DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": GROUP, "name": "Long List Clinic", "footer_phone": "(555) 010-7300",
                "timezone": "America/Chicago"}],
    "guarantors": [{
        "account": ACCOUNT, "group": GROUP, "first_name": "Lena", "last_name": "Lister",
        "date_of_birth": "1980-02-29", "email": "", "mobile": "", "sms_opt_out": False,
        "escrow": "0.00", "unapplied": "0.00",
        "patients": [{"id": "P1", "first_name": "Lena", "last_name": "Lister", "date_of_birth": "1980-02-29"}],
        "encounters": [],
        "statements": [
            {"number": f"S-L{n:02}", "date": (FIRST_DAY + dt.timedelta(days=7 * (n - 1))).isoformat(),
             "due_date": (FIRST_DAY + dt.timedelta(days=7 * (n - 1) + 25)).isoformat(),
             "balance": "40.00", "amount_due": "40.00", "encounters": []}
            for n in range(1, RECEIPTS + 1)
        ],
        "receipts": [
            {"number": f"R-L{n:02}", "date": (FIRST_DAY + dt.timedelta(days=7 * (n - 1))).isoformat(),
             "method": "check", "amount": f"{10 + n}.00", "status": "paid", "source": "mail", "applications": []}
            for n in range(1, RECEIPTS + 1)
        ],
    }],
}
SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
              "has_touch": True, "locale": "en-US"},
    "desktop": {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"},
}


@pytest.fixture(scope="module")
def ledger(server):
    import_document(server, DOCUMENT)


def rows(page: Page):
    return page.locator('[data-testid="receipt"]')


def numbers(page: Page) -> list[str]:
    return rows(page).evaluate_all("rows => rows.map(r => r.dataset.number)")


def keep_screenshot(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"portal_lists__{name}.png"), full_page=True)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_show_more_appends_the_last_5(server, browser, ledger, size):
    context = browser.new_context(**SIZES[size])
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        sign_in_context(context, server, ACCOUNT)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/receipts")
        expect(rows(page)).to_have_count(20)
        assert numbers(page) == NEWEST_FIRST[:20]
        more = page.get_by_role("link", name="Show more")
        expect(more).to_have_attribute("href", "/receipts?shown=40")
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["viewport"]["width"]
        keep_screenshot(page, f"{size}_20")

        more.click()
        expect(rows(page)).to_have_count(RECEIPTS)
        expect(page).to_have_url(f"{server.url}/receipts?shown=40")  # pushed: a page of its own
        assert numbers(page) == NEWEST_FIRST
        expect(page.get_by_role("link", name="Show more")).to_have_count(0)
        expect(page.get_by_role("navigation", name="Your account")).to_have_count(1)  # appended, not a page in a page
        expect(rows(page).nth(20).locator("summary")).to_be_focused()  # the keyboard goes on from the first new row
        rows(page).nth(24).locator("summary").click()  # an appended row expands like the others
        expect(rows(page).nth(24).get_by_test_id("receipt-detail")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["viewport"]["width"]
        keep_screenshot(page, f"{size}_25")

        page.reload()  # the pushed address shows the same list
        expect(rows(page)).to_have_count(RECEIPTS)
        assert errors == []
    finally:
        context.close()


def test_show_more_without_javascript(server, browser, ledger):
    context = browser.new_context(java_script_enabled=False, **SIZES["phone"])
    context.set_default_timeout(10_000)
    try:
        sign_in_context(context, server, ACCOUNT)
        page = context.new_page()
        page.goto(f"{server.url}/receipts")
        expect(rows(page)).to_have_count(20)
        page.get_by_role("link", name="Show more").click()
        expect(page).to_have_url(re.compile(r"/receipts\?shown=40$"))
        expect(rows(page)).to_have_count(RECEIPTS)
        assert numbers(page) == NEWEST_FIRST
    finally:
        context.close()


def test_statements_page_the_same_way(server, browser, ledger):
    context = browser.new_context(**SIZES["phone"])
    context.set_default_timeout(10_000)
    try:
        sign_in_context(context, server, ACCOUNT)
        page = context.new_page()
        page.goto(f"{server.url}/statements")
        statements = page.locator('[data-testid="statement"]')
        expect(statements).to_have_count(20)
        expect(page.get_by_test_id("statement-new")).to_have_count(1)
        expect(statements.first.get_by_test_id("statement-new")).to_be_visible()  # the latest, unpaid, unopened
        page.get_by_role("link", name="Show more").click()
        expect(statements).to_have_count(RECEIPTS)
        expect(page).to_have_url(f"{server.url}/statements?shown=40")
        expect(statements.last).to_have_attribute("data-number", "S-L01")
        page.get_by_label("Hide Paid Statements").check()  # the filter swaps the list, back to its first 20
        expect(page).to_have_url(f"{server.url}/statements?hide_paid=1")
        expect(statements).to_have_count(20)
        expect(page.get_by_role("link", name="Show more")).to_have_attribute("href", "/statements?shown=40&hide_paid=1")
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/receipts", "/statements"])
def test_axe_finds_no_serious_violations_after_show_more(server, browser, ledger, path):
    context = browser.new_context(bypass_csp=True, **SIZES["phone"])  # axe runs a script of its own
    try:
        sign_in_context(context, server, ACCOUNT)
        page = context.new_page()
        page.goto(f"{server.url}{path}")
        page.get_by_role("link", name="Show more").click()
        expect(page).to_have_url(f"{server.url}{path}?shown=40")
        results = Axe().run(page)
        serious = [v for v in results.response["violations"] if v.get("impact") in {"serious", "critical"}]
        assert serious == [], results.generate_report()
    finally:
        context.close()
