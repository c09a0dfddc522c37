"""Sign in with a one-time code at phone size, open Profile, log out, and find the session gone."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from helpers import import_document, server_database
from pops.models import Guarantor, OutboxMessage, PatientSession

ACCOUNT = "SI-1001"
DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "SIGN", "name": "Sunrise Internal Medicine", "footer_phone": "(555) 010-4000",
                "allow_session_extension": True, "landing_page": "home"}],
    "guarantors": [{
        "account": ACCOUNT, "group": "SIGN", "first_name": "Rosa", "last_name": "Delgado",
        "date_of_birth": "1975-06-01", "email": "rosa@example.org", "mobile": "+15555550456",
        "sms_opt_out": True, "escrow": "0.00", "unapplied": "0.00",
        "address": {"line1": "4 Oak Ave", "city": "Springfield", "state": "IL", "zip": "62704"},
        "patients": [{"id": "P1", "first_name": "Rosa", "last_name": "Delgado", "date_of_birth": "1975-06-01"}],
        "encounters": [{"id": "E1", "patient": "P1", "date": "2026-09-14", "provider": "Dr. Ann Okafor",
                        "facility": {"code": "MAIN", "name": "Main St clinic"}, "description": "Office visit",
                        "in_collections": False,
                        "lines": [{"id": "1", "kind": "charge", "code": "99213", "description": "Office visit",
                                   "amount": "120.00"}]}],
        "statements": [{"number": "S-SI-1", "date": "2026-10-01", "due_date": "2026-10-31",
                        "balance": "120.00", "amount_due": "120.00", "encounters": ["E1"]}],
    }],
}


def last_code(server, recipient: str) -> str:
    with server_database(server):
        message = (OutboxMessage.select()
                   .where((OutboxMessage.recipient == recipient) & (OutboxMessage.purpose == "sign_in"))
                   .order_by(OutboxMessage.id.desc()).get())
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_sign_in_profile_and_log_out_at_phone_size(server, page, page_errors):
    import_document(server, DOCUMENT)

    page.goto(f"{server.url}/login?group=SIGN")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Sunrise Internal Medicine")
    page.get_by_label("First name (or preferred name)").fill("  rosa ")
    page.get_by_label("Last name").fill("DELGADO")
    page.get_by_label("Date of birth").fill("1975-06-01")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Get a sign-in code")).to_be_visible()
    text_choice = page.get_by_label("Text •••-•••-0456")  # opted out of texts, still offered for codes
    expect(text_choice).to_be_checked()
    expect(page.get_by_label("Email r•••@example.org")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("5555550456")
    page.get_by_role("button", name="Send my code").click()

    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(page.locator("main")).to_contain_text("We sent a 6-digit code to •••-•••-0456")
    page.get_by_label("6-digit code").fill(last_code(server, "+15555550456"))
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(f"{server.url}/home")
    with server_database(server):
        session = PatientSession.select().join(Guarantor).where(Guarantor.account == ACCOUNT).get()
        assert (session.origin, session.auth, session.ended_at) == ("sign_in", "code", None)
    expect(page.locator("main")).to_contain_text("Rosa Delgado")

    page.get_by_role("link", name="Profile").click()
    page.wait_for_url(f"{server.url}/profile")
    expect(page.get_by_role("heading", name="What Sunrise Internal Medicine has on file")).to_be_visible()
    expect(page.get_by_test_id("profile-email")).to_have_text("rosa@example.org")
    expect(page.locator("main")).to_contain_text("4 Oak Ave")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "Profile scrolls sideways on a phone"

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="You have logged out")).to_be_visible()
    with server_database(server):
        session = PatientSession.get_by_id(session.id)
        assert session.end_reason == "logout" and session.ended_at is not None

    page.goto(f"{server.url}/home")
    assert page.url.startswith(f"{server.url}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.wait_for_load_state("networkidle")
    assert page_errors == []


def test_sign_in_and_log_out_with_javascript_off(server, browser):
    import_document(server, DOCUMENT)
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/login")
        page.get_by_label("First name (or preferred name)").fill("Rosa")
        page.get_by_label("Last name").fill("Delgado")
        page.get_by_label("Date of birth").fill("1975-06-01")
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Email r•••@example.org").check()
        page.get_by_role("button", name="Send my code").click()
        with server_database(server):
            message = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get()
        assert (message.channel, message.recipient) == ("email", "rosa@example.org")
        page.get_by_label("6-digit code").fill(last_code(server, "rosa@example.org"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/home")
        page.goto(f"{server.url}/profile")
        expect(page.get_by_role("button", name="Extend my session")).to_be_visible()  # the <noscript> form
        page.get_by_role("button", name="Extend my session").click()
        page.wait_for_url(f"{server.url}/profile")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="You have logged out")).to_be_visible()
        page.goto(f"{server.url}/profile")
        assert page.url.startswith(f"{server.url}/login")
    finally:
        context.close()
