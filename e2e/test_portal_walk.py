"""The whole portal walk at phone size, with JavaScript on and off: sign in with the code from the
outbox, visit every page, pay from the Pay page on the sandbox gateway, open the itemized receipt,
log out and find the session gone. axe-core checks the pages the other walks do not."""
from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from helpers import import_document, server_database
from pops.models import Guarantor, OutboxMessage, PatientSession, Receipt

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
ACCOUNTS = {True: "W-1001", False: "W-1002"}  # one guarantor per walk: each pays its own balance
DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "WALK", "name": "Westside Walk-in Clinic", "footer_phone": "(555) 010-9000",
                "timezone": "America/Chicago", "landing_page": "home", "enable_appointments": True}],
    "guarantors": [
        {
            "account": account, "group": "WALK", "first_name": first, "last_name": "Walker",
            "date_of_birth": "1979-05-06", "email": f"{first.lower()}@example.org", "mobile": "",
            "sms_opt_out": False, "escrow": "0.00", "unapplied": "0.00",
            "patients": [{"id": "P1", "first_name": first, "last_name": "Walker", "date_of_birth": "1979-05-06"}],
            "encounters": [
                {"id": "E1", "patient": "P1", "date": "2026-07-06", "provider": "Dr. Lin Park",
                 "facility": {"code": "MAIN", "name": "Westside Main"}, "description": "Office visit",
                 "in_collections": False,
                 "lines": [{"id": "1", "kind": "charge", "code": "99213", "description": "Office visit", "amount": "90.00"},
                           {"id": "2", "kind": "insurance_payment", "description": "Aetna", "amount": "-50.00",
                            "date": "2026-08-01", "applies_to": "1"}]},
            ],
            "statements": [{"number": f"S-{account}", "date": "2026-08-15", "due_date": "2026-09-10",
                            "balance": "40.00", "amount_due": "40.00", "encounters": ["E1"]}],
            "receipts": [{"number": f"R-{account}", "date": "2026-07-06", "method": "card", "card_type": "Visa",
                          "last4": "1111", "amount": "10.00", "status": "paid", "source": "office",
                          "applications": [{"encounter": "E1", "line": "1", "amount": "10.00"}]}],
            "appointments": [{"id": f"AP-{account}", "patient": "P1", "at": "2027-01-12T10:00:00",
                              "provider": "Dr. Lin Park", "location": "Westside Main", "reason": "Follow-up",
                              "status": "scheduled"}],
        }
        for account, first in ((ACCOUNTS[True], "Wendy"), (ACCOUNTS[False], "Walt"))
    ],
}


@pytest.fixture(scope="module")
def walk_ledger(server):
    import_document(server, DOCUMENT)


def no_serious_violations(page) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in {"serious", "critical"}]
    assert serious == [], f"{page.url}\n{results.generate_report()}"


def sign_in_code(server, email: str) -> str:
    with server_database(server):
        message = (OutboxMessage.select().where((OutboxMessage.recipient == email) & (OutboxMessage.purpose == "sign_in"))
                   .order_by(OutboxMessage.id.desc()).get())
    return re.search(r"\b(\d{6})\b", message.body).group(1)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_the_whole_walk(server, browser, walk_ledger, javascript):
    account = ACCOUNTS[javascript]
    first = "Wendy" if javascript else "Walt"
    # axe-core is injected into the page, so the context allows it past our CSP (the app's own
    # scripts are checked under the real CSP by the other end-to-end tests).
    context = browser.new_context(java_script_enabled=javascript, bypass_csp=True, **PHONE)
    context.set_default_timeout(10_000)
    check = no_serious_violations if javascript else (lambda page: None)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/login?group=WALK")
        check(page)
        page.get_by_label("First name (or preferred name)").fill(first)
        page.get_by_label("Last name").fill("walker")
        page.get_by_label("Date of birth").fill("1979-05-06")
        page.get_by_role("button", name="Continue").click()
        check(page)
        page.get_by_role("button", name="Send my code").click()  # email only: no mobile on file
        check(page)
        page.get_by_label("6-digit code").fill(sign_in_code(server, f"{first.lower()}@example.org"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/home")
        expect(page.locator("main")).to_contain_text(f"{first} Walker")

        for name, text in (("Account", "Current Balance"), ("Appointments", "Follow-up"),
                           ("Statements", f"S-{account}"), ("Receipts", f"R-{account}"),
                           ("Profile", f"{first.lower()}@example.org")):
            page.locator("nav.portal-nav").get_by_role("link", name=name).click()
            expect(page.locator("main")).to_contain_text(text)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{name} scrolls sideways"

        page.locator("nav.portal-nav").get_by_role("link", name="Pay").click()
        page.wait_for_url(f"{server.url}/pay")
        expect(page.get_by_test_id("amount-due")).to_have_text("$40.00")
        check(page)
        page.get_by_role("radio", name="Other Amount").check()
        page.get_by_label(re.compile(r"^Other amount \(from")).fill("15")
        page.get_by_test_id("pay-button").click()
        expect(page.get_by_test_id("gateway-amount")).to_have_text("$15.00")
        check(page)
        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiry (MM/YY)").fill("11/29")
        page.get_by_label("Security code").fill("321")
        page.get_by_role("button", name="Pay $15.00").click()
        expect(page.get_by_test_id("pay-result")).to_contain_text("Payment received")
        check(page)
        number = page.get_by_test_id("receipt-number").inner_text()
        page.get_by_role("link", name="View and print your receipt").click()
        expect(page.get_by_test_id("receipt-amount")).to_have_text("$15.00")
        expect(page.get_by_test_id("paid-with")).to_have_text("Visa ••4242")
        check(page)

        page.locator("nav.portal-nav").get_by_role("link", name="Receipts").click()
        expect(page.locator("main")).to_contain_text(number)
        page.locator("nav.portal-nav").get_by_role("link", name="Home").click()
        expect(page.locator("main")).to_contain_text("$25.00")  # $40.00 due, less the $15.00 just paid

        with server_database(server):
            receipt = Receipt.get(Receipt.number == number)
            assert receipt.guarantor.account == account and receipt.status == "paid"
            session = PatientSession.select().join(Guarantor).where(
                (Guarantor.account == account) & PatientSession.ended_at.is_null()).get()
            assert (session.origin, session.auth, session.payment_outcome) == ("sign_in", "code", "paid")
            assert session.pages >= 8

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="You have logged out")).to_be_visible()
        check(page)
        with server_database(server):
            assert PatientSession.get_by_id(session.id).ended_at is not None
        page.goto(f"{server.url}/receipts/{number}")
        assert page.url.startswith(f"{server.url}/login")
    finally:
        context.close()
