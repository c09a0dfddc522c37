"""The portal pages in a real browser at phone size, with and without JavaScript, and axe-core on each."""
from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from pops import accounts, ledger, portal_lists
from pops.models import Guarantor, Statement
from pops.money import format_money

from helpers import import_demo, server_database, sign_in_context

ACCOUNT = "A1001"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True, "locale": "en-US"}
PAGES = ["/home", "/account", "/appointments", "/receipts", "/statements"]


@pytest.fixture(scope="module")
def demo_data(server):
    import_demo(server)


@pytest.fixture
def expected(server, demo_data):
    """What A1001's pages should show, read from the server's database; every statement unopened again."""
    with server_database(server):
        guarantor = Guarantor.get(Guarantor.account == ACCOUNT)
        Statement.update(first_viewed_at=None).where(Statement.guarantor == guarantor.id).execute()
        detail = accounts.account_detail(guarantor)
        statements = portal_lists.statements_for(guarantor)
        receipts = portal_lists.receipts_for(guarantor)
        found = accounts.appointments_for(guarantor)
        return {
            "name": guarantor.greeting_name,
            "amount_due": format_money(detail.balances.amount_due),
            "current_balance": format_money(detail.balances.current_balance),
            "latest": accounts.latest_statement(guarantor).number,
            "since_ids": [line.service_id for g in detail.since_last_statement for v in g.visits for line in v.lines],
            "paid": [r.statement.number for r in statements if r.paid],
            "unpaid": [r.statement.number for r in statements if not r.paid],
            # the newest receipt applied to a visit, and where it went
            "receipt": next(r.receipt.number for r in receipts if accounts.receipt_detail(r.receipt).items),
            "receipt_item": next(accounts.receipt_detail(r.receipt).items[0] for r in receipts
                                 if accounts.receipt_detail(r.receipt).items),
            "patients": [(p.id, p.full_name) for p in found.patients],
            "upcoming": [(a.patient.full_name, a.reason) for a in found.upcoming],
            "can_pay": ledger.eligibility_for(guarantor).allowed,
        }


def first_viewed(server, number: str):
    with server_database(server):
        return Statement.get(Statement.number == number).first_viewed_at


def fits_the_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{page.url} scrolls sideways"


def check_home(page: Page, expected: dict) -> None:
    expect(page.get_by_role("heading", name=f"Welcome, {expected['name']}")).to_be_visible()
    expect(page.get_by_test_id("amount-due")).to_have_text(expected["amount_due"])
    expect(page.get_by_test_id("new-statement")).to_contain_text("You have a new statement")
    expect(page.get_by_test_id("current-statement")).to_have_attribute("href", f"/statements/{expected['latest']}")
    if expected["can_pay"]:
        expect(page.get_by_test_id("pay-now")).to_have_attribute("href", "/pay")
    fits_the_phone(page)


def check_account(page: Page, expected: dict) -> None:
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    expect(page.get_by_test_id("amount-due")).to_have_text(expected["amount_due"])
    expect(page.get_by_test_id("current-balance")).to_have_text(expected["current_balance"])
    since = page.get_by_test_id("since-last-statement")
    for service_id in expected["since_ids"]:
        expect(since).to_contain_text(service_id)
    fits_the_phone(page)


def check_appointments(page: Page, expected: dict) -> None:
    expect(page.get_by_role("heading", name="Appointments", exact=True)).to_be_visible()
    upcoming = page.get_by_test_id("upcoming")
    for patient, reason in expected["upcoming"]:
        expect(upcoming).to_contain_text(reason)
    fits_the_phone(page)


def filter_appointments(page: Page, expected: dict, *, javascript: bool) -> None:
    patient_id, patient_name = expected["patients"][1]
    page.get_by_label("Patient").select_option(str(patient_id))
    if not javascript:
        page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"/appointments\?patient={patient_id}$"))
    mine = [reason for name, reason in expected["upcoming"] if name == patient_name]
    others = [reason for name, reason in expected["upcoming"] if name != patient_name]
    upcoming = page.get_by_test_id("upcoming")
    for reason in mine:
        expect(upcoming).to_contain_text(reason)
    for reason in others:
        if reason not in mine:
            expect(upcoming).not_to_contain_text(reason)


def check_receipt_detail(page: Page, expected: dict) -> None:
    item = expected["receipt_item"]
    detail = page.get_by_test_id("receipt-detail")
    expect(detail).to_contain_text(item.patient)
    expect(detail).to_contain_text(item.provider)
    expect(detail).to_contain_text(item.location)
    expect(detail).to_contain_text(item.service_id)
    expect(detail).to_contain_text("Number of Transactions")


def check_statements(page: Page, expected: dict, server, *, javascript: bool) -> None:
    expect(page.get_by_role("heading", name="Statements", exact=True)).to_be_visible()
    for number in expected["paid"] + expected["unpaid"]:
        expect(page.locator(f'[data-testid="statement"][data-number="{number}"]')).to_have_count(1)
    page.get_by_label("Hide Paid Statements").check()
    if not javascript:
        page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/statements\?hide_paid=1$"))
    for number in expected["paid"]:
        expect(page.locator(f'[data-testid="statement"][data-number="{number}"]')).to_have_count(0)
    for number in expected["unpaid"]:
        expect(page.locator(f'[data-testid="statement"][data-number="{number}"]')).to_have_count(1)
    expect(page.get_by_label("Hide Paid Statements")).to_be_checked()
    if javascript:  # htmx swapped only the list: the checkbox keeps the focus
        expect(page.get_by_label("Hide Paid Statements")).to_be_focused()
    fits_the_phone(page)

    latest = expected["latest"]
    assert first_viewed(server, latest) is None
    page.get_by_role("link", name=f"Statement {latest}").click()
    expect(page).to_have_url(re.compile(rf"/statements/{latest}$"))
    expect(page.get_by_test_id("account-number")).to_have_text(ACCOUNT)
    expect(page.locator('[data-testid="statement-visit"]').first).to_be_visible()
    fits_the_phone(page)
    assert first_viewed(server, latest) is not None


def test_portal_walk_with_javascript(server, page, page_errors, expected):
    sign_in_context(page.context, server, ACCOUNT)
    page.goto(f"{server.url}/home")
    check_home(page, expected)

    nav = page.get_by_role("navigation", name="Your account")
    nav.get_by_role("link", name="Account").click()
    expect(page).to_have_url(f"{server.url}/account")
    check_account(page, expected)
    page.get_by_test_id("history-toggle").click()
    expect(page).to_have_url(f"{server.url}/account?history=all")
    expect(page.get_by_test_id("visit-history")).to_contain_text("Showing all visits.")

    nav.get_by_role("link", name="Appointments").click()
    expect(page).to_have_url(f"{server.url}/appointments")
    check_appointments(page, expected)
    filter_appointments(page, expected, javascript=True)

    nav.get_by_role("link", name="Receipts").click()
    expect(page).to_have_url(f"{server.url}/receipts")
    row = page.locator(f'[data-testid="receipt"][data-number="{expected["receipt"]}"]')
    row.locator("summary").click()
    check_receipt_detail(row, expected)
    row.get_by_text("Number of Transactions").click()
    fits_the_phone(page)

    nav.get_by_role("link", name="Statements").click()
    expect(page).to_have_url(f"{server.url}/statements")
    check_statements(page, expected, server, javascript=True)

    page.emulate_media(media="print")  # printable: the statement without the menu or the back link
    expect(nav).to_be_hidden()
    expect(page.get_by_role("link", name="Back to statements")).to_be_hidden()
    expect(page.get_by_test_id("statement-amount-due")).to_be_visible()
    page.emulate_media(media="screen")

    page.go_back()  # the history button brings back the list as it was
    expect(page).to_have_url(re.compile(r"/statements\?hide_paid=1$"))
    expect(page.get_by_label("Hide Paid Statements")).to_be_checked()

    page.wait_for_load_state("networkidle")
    assert page_errors == []


def test_portal_walk_without_javascript(server, browser, expected):
    context = browser.new_context(java_script_enabled=False, **PHONE)
    context.set_default_timeout(10_000)
    try:
        sign_in_context(context, server, ACCOUNT)
        page = context.new_page()
        page.goto(f"{server.url}/home")
        check_home(page, expected)

        page.get_by_role("link", name="Account", exact=True).click()
        check_account(page, expected)
        page.get_by_test_id("history-toggle").click()
        expect(page).to_have_url(f"{server.url}/account?history=all#history")

        page.get_by_role("link", name="Appointments").click()
        check_appointments(page, expected)
        filter_appointments(page, expected, javascript=False)

        page.get_by_role("link", name="Receipts").click()
        row = page.locator(f'[data-testid="receipt"][data-number="{expected["receipt"]}"]')
        row.locator("summary").click()  # <details> opens without JavaScript
        expect(row.get_by_role("link", name="Itemized receipt")).to_have_attribute(
            "href", f"/receipts/{expected['receipt']}")
        row.get_by_role("link", name="Show details").click()
        expect(page).to_have_url(f"{server.url}/receipts/{expected['receipt']}/detail")
        check_receipt_detail(page, expected)
        page.get_by_role("link", name="Back to receipts").click()

        page.get_by_role("link", name="Statements").click()
        check_statements(page, expected, server, javascript=False)
    finally:
        context.close()


@pytest.mark.parametrize("path", PAGES + ["statement", "receipt-detail"])
def test_axe_finds_no_serious_violations(server, browser, expected, path):
    path = {"statement": f"/statements/{expected['latest']}",
            "receipt-detail": f"/receipts/{expected['receipt']}/detail"}.get(path, path)
    context = browser.new_context(bypass_csp=True, **PHONE)
    try:
        sign_in_context(context, server, ACCOUNT)
        page = context.new_page()
        assert page.goto(f"{server.url}{path}").status == 200
        if path == "/receipts":
            page.locator('[data-testid="receipt"] summary').first.click()
            expect(page.get_by_test_id("receipt-detail").first).to_be_visible()
        results = Axe().run(page)
        serious = [v for v in results.response["violations"] if v.get("impact") in {"serious", "critical"}]
        assert serious == [], results.generate_report()
    finally:
        context.close()
