"""Two accounts in two tabs of one browser: the first tab's Continue is refused as out of date, the
page shows the account the browser holds now, and nothing is started; that account still pays."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pops.models import Guarantor, PaymentAttempt

from helpers import import_document, server_database

GROUP = "E2T"


def _guarantor(account: str, first_name: str, amount: str) -> dict:
    return {
        "account": account, "group": GROUP, "first_name": first_name, "last_name": "Tabs",
        "date_of_birth": "1979-04-05", "email": "", "mobile": "", "sms_opt_out": False,
        "escrow": "0.00", "unapplied": "0.00",
        "patients": [{"id": "P1", "first_name": first_name, "last_name": "Tabs", "date_of_birth": "2015-06-07"}],
        "encounters": [{"id": "E1", "patient": "P1", "date": "2026-09-01", "provider": "Dr. Ada Stone",
                        "description": "Office visit", "in_collections": False,
                        "lines": [{"id": "1", "kind": "charge", "description": "Office visit", "amount": amount}]}],
        "statements": [{"number": f"S-{account}", "date": "2026-10-01", "due_date": "2026-10-31",
                        "balance": amount, "amount_due": amount, "encounters": ["E1"]}],
    }


DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": GROUP, "name": "Two Tabs Clinic", "footer_phone": "(555) 010-7100",
                "timezone": "America/Chicago"}],
    "guarantors": [_guarantor("H100", "Hana", "25.00"), _guarantor("J200", "Jonah", "50.00")],
}


@pytest.fixture(scope="module")
def ledger(server):
    import_document(server, DOCUMENT)
    return DOCUMENT


def quickpay_link(server, account: str) -> str:
    return server.run_pops("link", "create", "--account", account).stdout.strip()


def attempts(server) -> list[tuple[str, str, str]]:
    """This clinic's payment attempts in the server's database: (account, amount, status)."""
    with server_database(server):
        return [(a.guarantor.account, str(a.amount), a.status) for a in PaymentAttempt.select().join(Guarantor)
                .where(Guarantor.account.in_(["H100", "J200"])).order_by(PaymentAttempt.id)]


def test_the_first_tab_is_refused_and_shows_the_account_open_now(server, ledger, page, page_errors):
    first = page
    first.goto(quickpay_link(server, "H100"))
    expect(first.get_by_test_id("amount-due")).to_have_text("$25.00")

    second = page.context.new_page()
    second.goto(quickpay_link(server, "J200"))  # the second link replaces the browser's session
    expect(second.get_by_test_id("guarantor-name")).to_have_text("Jonah Tabs")

    first.bring_to_front()
    first.get_by_test_id("pay-button").click()
    expect(first.get_by_test_id("pay-error")).to_contain_text("This page was out of date")
    expect(first.get_by_test_id("guarantor-name")).to_have_text("Jonah Tabs")
    expect(first.get_by_test_id("amount-due")).to_have_text("$50.00")
    assert "/sandbox-gateway/" not in first.url
    assert attempts(server) == []

    # the page shown now pays the account it shows
    first.get_by_test_id("pay-button").click()
    expect(first.get_by_test_id("gateway-amount")).to_have_text("$50.00")
    first.get_by_label("Card number").fill("4242 4242 4242 4242")
    first.get_by_label("Expiry (MM/YY)").fill("12/30")
    first.get_by_label("Security code").fill("123")
    first.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(first.get_by_test_id("pay-result")).to_contain_text("Payment received")
    assert attempts(server) == [("J200", "50.00", "paid")]
    # the browser logs the refused form's 400; nothing else went wrong
    assert [e for e in page_errors if not re.search(r"status of 400 .*/pay/start\)$", e)] == []
