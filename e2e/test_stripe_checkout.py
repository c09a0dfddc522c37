"""Paying with POPS_GATEWAY=stripe in Chromium: POPS's pay form sends the patient to the Stripe-compatible
test server's Checkout page (another origin: the Content Security Policy's form-action is exercised),
the card is typed there, and the patient comes back to POPS's receipt; webhooks arrive over real HTTP.
Then a stored card whose bank asks for 3-D Secure: the pay form sends the patient to the bank's page (a
third origin) and back."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import running_server
from helpers import add_session_cookie, import_document, server_database, start_patient_session

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "tests"))  # the Stripe-compatible test server lives with the tests

from stripe_server import StripeServer  # noqa: E402

DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "STR", "name": "Stripe Test Clinic", "footer_phone": "(555) 010-7100",
                "timezone": "America/Chicago", "enable_payment_method_storage": True}],
    "guarantors": [
        {
            "account": account, "group": "STR", "first_name": first, "last_name": "Card",
            "date_of_birth": "1980-02-03", "email": f"{first.lower()}@example.org", "mobile": "",
            "sms_opt_out": False, "escrow": "0.00", "unapplied": "0.00",
            "patients": [{"id": "P1", "first_name": first, "last_name": "Card", "date_of_birth": "1980-02-03"}],
            "encounters": [{"id": "E1", "patient": "P1", "date": "2026-09-07", "provider": "Dr. Ada Stone",
                            "description": "Office visit", "in_collections": False,
                            "lines": [{"id": "1", "kind": "charge", "description": "Office visit",
                                       "amount": "85.00"}]}],
            "statements": [{"number": f"S-{account}", "date": "2026-09-15", "due_date": "2026-10-10",
                            "balance": "85.00", "amount_due": "85.00", "encounters": ["E1"]}],
        }
        for account, first in (("S1001", "Stella"), ("S1002", "Simon"))
    ],
}


@pytest.fixture(scope="module")
def stripe():
    with StripeServer() as server:
        yield server


@pytest.fixture(scope="module")
def pops(tmp_path_factory, stripe):
    """The real POPS server on Stripe (the test server), with the ledger imported."""
    with running_server(tmp_path_factory.mktemp("stripe-e2e"), POPS_GATEWAY="stripe",
                        POPS_STRIPE_SECRET_KEY=stripe.api_key, POPS_STRIPE_WEBHOOK_SECRET=stripe.webhook_secret,
                        POPS_STRIPE_API_BASE=stripe.api_url,
                        POPS_STRIPE_TEST_ORIGINS=f"{stripe.checkout_origin},{stripe.three_ds_origin}") as server:
        import_document(server, DOCUMENT)
        stripe.webhook_url = f"{server.url}/webhooks/stripe"
        yield server


def _receipts(server, account: str) -> list[tuple[str, str]]:
    from pops.models import Guarantor, Receipt

    with server_database(server):
        guarantor = Guarantor.get(Guarantor.account == account)
        return [(r.status, str(r.amount)) for r in Receipt.select().where(Receipt.guarantor == guarantor)]


def test_pay_on_the_stripe_checkout_page_and_come_back_to_the_receipt(pops, stripe, page, page_errors):
    add_session_cookie(page.context, pops, start_patient_session(pops, "S1001"))
    page.goto(f"{pops.url}/pay")
    page.get_by_test_id("pay-button").click()
    expect(page.get_by_role("heading", name="Pay $85.00")).to_be_visible()
    assert page.url.startswith(stripe.checkout_origin)  # another origin: form-action allowed it
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_label("Expiration (MM / YY)").fill("12 / 30")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay $85.00").click()
    expect(page.locator("#card-error")).to_contain_text("declined")  # another card may be tried there
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiration (MM / YY)").fill("12 / 30")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay $85.00").click()
    expect(page.get_by_test_id("pay-result")).to_contain_text("Payment received")
    assert page.url.startswith(f"{pops.url}/pay/result/")
    assert stripe.wait_for_webhooks(10)
    assert sorted(_receipts(pops, "S1001")) == [("paid", "85.00"), ("unsuccessful", "0.00")]
    assert stripe.webhooks.deliveries and all(d["status"] == 200 for d in stripe.webhooks.deliveries)
    assert not [e for e in page_errors if "CSP" in e], page_errors


def test_a_stored_card_goes_through_the_banks_3d_secure_page(pops, stripe, page, page_errors):
    from pops.gateways.stripe_tables import StripeCustomer
    from pops.models import Guarantor, StoredCard

    customer = stripe.client().v1.customers.create(params={"name": "Simon Card"})
    method = stripe.store_card(customer.id, "4000 0027 6000 3184")
    with server_database(pops):
        simon = Guarantor.get(Guarantor.account == "S1002")
        StripeCustomer.create(guarantor=simon, customer=customer.id)
        StoredCard.create(guarantor=simon, gateway_token=method, brand="Visa", last4="3184", exp_month=12,
                          exp_year=2030, gateway="stripe")
    add_session_cookie(page.context, pops, start_patient_session(pops, "S1002"))
    page.goto(f"{pops.url}/pay")
    page.get_by_label("Saved Visa ending in 3184 (expires 12/2030)").check()
    page.get_by_test_id("pay-button").click()
    expect(page.get_by_role("heading", name="3-D Secure authentication")).to_be_visible()
    assert page.url.startswith(stripe.three_ds_origin)  # the third origin: form-action allowed it too
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_test_id("pay-result")).to_contain_text("Payment received")
    assert stripe.wait_for_webhooks(10)
    assert _receipts(pops, "S1002") == [("paid", "85.00")]
    assert not [e for e in page_errors if "CSP" in e], page_errors
