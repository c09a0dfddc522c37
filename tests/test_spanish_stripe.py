"""Stripe Checkout in the guarantor's language: locale es-419 and the line in Spanish; the browser's (auto)
when the account has no language."""
from __future__ import annotations

from pops.models import Guarantor

from stripe_helpers import account, browser, checkout, stripe_app, stripe_server  # noqa: F401 (fixtures)


def session_params(stripe_server) -> dict:
    return [r for r in stripe_server.requests if r["path"] == "/v1/checkout/sessions"][-1]["params"]


def test_a_spanish_guarantor_gets_checkout_in_latin_american_spanish(browser, account, stripe_server):
    Guarantor.update(chosen_language="es").execute()
    checkout(browser, account)
    params = session_params(stripe_server)
    assert params["locale"] == "es-419"
    name = params["line_items"][0]["price_data"]["product_data"]["name"]
    assert name == "Pago a Riverside Family Medicine, cuenta A1001"


def test_without_a_language_checkout_follows_the_browser(browser, account, stripe_server):
    checkout(browser, account)
    assert session_params(stripe_server)["locale"] == "auto"
