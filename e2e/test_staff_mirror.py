"""The mirror flow in a real browser: staff signs in with TOTP, finds the demo guarantor, mirrors the
full portal and then Simulate QuickPay (with F2), and sees the same page text as the patient does."""
from __future__ import annotations

import dataclasses
import re

import pyotp
import pytest
from playwright.sync_api import Page, expect

from pops import ledger
from pops.models import Guarantor, PatientSession, Statement, Staff
from pops.money import format_money

from helpers import import_demo, server_database, sign_in_context

ACCOUNT = "A1001"
EMAIL = "mirror-e2e@example.org"
PASSWORD = "a long staff password for e2e"


@pytest.fixture(scope="module")
def staff_secret(server) -> str:
    import_demo(server)
    with_password = dataclasses.replace(server, env={**server.env, "POPS_STAFF_PASSWORD": PASSWORD})
    out = with_password.run_pops("staff", "create", EMAIL, "--role", "staff").stdout
    return re.search(r"TOTP secret: (\S+)", out).group(1)


def main_text(page: Page) -> str:
    """What the page says, the mirror banner aside (it sits outside <main>)."""
    return re.sub(r"\s+", " ", page.locator("main").inner_text()).strip()


def patient_view(browser, server, path: str, **session) -> str:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        sign_in_context(context, server, ACCOUNT, **session)
        page = context.new_page()
        response = page.goto(f"{server.url}{path}")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        expect(page.get_by_test_id("mirror-banner")).to_have_count(0)
        return main_text(page)
    finally:
        context.close()


def test_mirror_shows_the_patient_exactly_what_they_see(server, staff_secret, page, page_errors, browser):
    with server_database(server):
        guarantor = Guarantor.get(Guarantor.account == ACCOUNT)
        amount_due = format_money(ledger.balances_for(guarantor).amount_due)
        viewed_before = {s.number: s.first_viewed_at for s in Statement.select().where(Statement.guarantor == guarantor.id)}

    # sign in with password and the authenticator code
    page.goto(f"{server.url}/staff")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(staff_secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Find a guarantor")).to_be_visible()

    # find the guarantor by name and open the dashboard
    page.get_by_label("Name").fill("Maria Lopez")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name=ACCOUNT).click()
    expect(page.get_by_test_id("balance-panel").get_by_test_id("amount-due")).to_have_text(amount_due)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the dashboard scrolls sideways on a phone"

    # mirror the full portal: the POPS link, then Sign In
    page.get_by_test_id("pops-link").click()
    expect(page.get_by_label("Guarantor account")).to_have_value(ACCOUNT)
    expect(page.get_by_label("Simulate QuickPay")).not_to_be_checked()
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="Sign In").click()
    portal_path = "/" + page.url.rsplit("/", 1)[1]
    assert portal_path in ("/home", "/pay")
    assert landed.value is not None and landed.value.status == 200, f"the mirrored {portal_path} page is missing"
    expect(page.get_by_test_id("mirror-banner")).to_contain_text(EMAIL)
    mirrored_portal = main_text(page)

    # the banner's way out, back to the dashboard
    page.get_by_test_id("mirror-banner").get_by_role("link", name="End mirror").click()
    expect(page.get_by_test_id("notice")).to_have_text("Mirror ended.")

    # Simulate QuickPay, signed in with the F2 key
    page.get_by_test_id("pops-link").click()
    page.get_by_label("Simulate QuickPay").check()
    page.keyboard.press("F2")
    page.wait_for_url(re.compile(r"/quickpay$"))
    expect(page.get_by_test_id("mirror-banner")).to_contain_text("QuickPay")
    mirrored_quickpay = main_text(page)
    assert amount_due in mirrored_quickpay

    with server_database(server):
        mirrors = list(PatientSession.select().where(PatientSession.origin == "staff_mirror").order_by(PatientSession.id))
        staff = Staff.get(Staff.email == EMAIL)
        assert [(m.auth, m.quickpay, m.staff_id, m.link_id) for m in mirrors] == [
            ("staff", False, staff.id, None), ("staff", True, staff.id, None)]
        assert mirrors[0].ended_at is not None
        viewed_after = {s.number: s.first_viewed_at for s in Statement.select().where(Statement.guarantor == guarantor.id)}
        assert viewed_after == viewed_before  # a mirror marks nothing as viewed

    # the patient, in a second browser, sees the same text
    assert patient_view(browser, server, "/quickpay", origin="sms_link", auth="quickpay", quickpay=True) == mirrored_quickpay
    assert patient_view(browser, server, portal_path) == mirrored_portal
    assert page_errors == []
