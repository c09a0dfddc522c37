"""Spanish at phone size: QuickPay to a receipt for a guarantor the import marks Spanish (in an English
browser), and the portal after the patient switches with the link at the top. Every page says lang="es",
axe-core finds no serious violation on any of them, and each page's screenshot is kept to be looked at."""
from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from conftest import PHONE
from helpers import ARTIFACTS_DIR, import_document, sign_in_context

SHOTS = ARTIFACTS_DIR / "spanish"


def guarantor(account: str, first: str, **extra) -> dict:
    return {
        "account": account, "group": "ESP", "first_name": first, "last_name": "Ramos", "date_of_birth": "1975-06-07",
        "email": f"{first.lower()}@example.org", "mobile": "", "sms_opt_out": False, "escrow": "0.00",
        "unapplied": "0.00",
        "patients": [{"id": "P1", "first_name": first, "last_name": "Ramos", "date_of_birth": "1975-06-07"}],
        "encounters": [{"id": "E1", "patient": "P1", "date": "2026-09-07", "provider": "Dr. Ada Stone",
                        "description": "Office visit", "in_collections": False,
                        "lines": [{"id": "1", "kind": "charge", "description": "Office visit", "amount": "1234.56"}]}],
        "statements": [{"number": f"S-{account}", "date": "2026-10-01", "due_date": "2026-12-01",
                        "balance": "1234.56", "amount_due": "1234.56", "encounters": ["E1"]}],
        **extra,
    }


DOCUMENT = {
    "format": "pops-import/1",
    "groups": [{"code": "ESP", "name": "Clínica del Valle", "footer_phone": "(555) 010-8000",
                "timezone": "America/Chicago", "brand_color": "#1f5f8b", "email_receipts": True}],
    "guarantors": [guarantor("ES1001", "Lucia", language="es"), guarantor("ES1002", "Mateo")],
}


@pytest.fixture(scope="module")
def ledger(server):
    import_document(server, DOCUMENT)
    return DOCUMENT


@pytest.fixture
def context(browser):
    # axe-core is injected into the page, so the context lets it past POPS's CSP (the app's own scripts
    # run under the real CSP in the other end-to-end tests). The browser asks for English.
    context = browser.new_context(bypass_csp=True, **{**PHONE, "locale": "en-US"})
    context.set_default_timeout(10_000)
    yield context
    context.close()


def check(page, name: str) -> None:
    """Spanish, fits the phone, no serious axe violation; the screenshot is kept."""
    assert page.evaluate("document.documentElement.lang") == "es", f"{name}: {page.url} is not lang=es"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{name} scrolls sideways"
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in {"serious", "critical"}]
    assert serious == [], f"{name}: {results.generate_report()}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_quickpay_to_a_receipt_in_spanish(server, ledger, context):
    link = server.run_pops("link", "create", "--account", "ES1001").stdout.strip()
    page = context.new_page()
    page.goto(link)
    page.wait_for_url(re.compile(r"/quickpay$"))
    expect(page.get_by_test_id("amount-due")).to_have_text("$1,234.56")
    expect(page.locator("main")).to_contain_text("Monto a pagar")
    expect(page.get_by_test_id("language-switch")).to_have_text("English")
    check(page, "1-quickpay")

    page.get_by_test_id("pay-button").click()
    expect(page.get_by_test_id("gateway-amount")).to_have_text("$1,234.56")
    assert "/sandbox-gateway/checkout/" in page.url
    check(page, "2-sandbox-page")
    page.get_by_label("Número de tarjeta").fill("4242 4242 4242 4242")
    page.get_by_label("Vencimiento (MM/AA)").fill("12/30")
    page.get_by_label("Código de seguridad").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pagar \$1,234\.56$")).click()

    result = page.get_by_test_id("pay-result")
    expect(result).to_contain_text("Pago recibido")
    expect(result).to_contain_text("Gracias. Se pagaron $1,234.56 a Clínica del Valle.")
    check(page, "3-result")

    page.get_by_role("link", name="Ver e imprimir su recibo").click()
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$1,234.56")
    expect(page.locator("main")).to_contain_text(re.compile(r"\d{1,2} de [a-z]+ de 20\d\d"))
    expect(page.get_by_test_id("receipt-status")).to_have_text("Pagado")
    check(page, "4-receipt")


def test_the_portal_in_spanish_after_the_switch(server, ledger, context):
    sign_in_context(context, server, "ES1002")
    page = context.new_page()
    page.goto(f"{server.url}/home")
    assert page.evaluate("document.documentElement.lang") == "en"  # no language yet: the browser's
    page.get_by_test_id("language-switch").click()  # "Español": a plain link, back to this page
    page.wait_for_url(f"{server.url}/home")
    expect(page.locator("main")).to_contain_text("Le damos la bienvenida, Mateo Ramos")
    check(page, "5-home")
    for name, text in (("Cuenta", "Saldo actual"), ("Pagar", "Monto a pagar"), ("Recibos", "Recibos"),
                       ("Estados de cuenta", f"S-ES1002"), ("Perfil", "Idioma")):
        page.locator("nav.portal-nav").get_by_role("link", name=name, exact=True).click()
        expect(page.locator("main")).to_contain_text(text)
        check(page, f"6-{name.lower().replace(' ', '-')}")
    page.goto(f"{server.url}/statements/S-ES1002")
    expect(page.locator("main")).to_contain_text("Saldo del estado de cuenta")
    check(page, "7-statement")


def test_a_visitor_s_sign_in_page_follows_a_spanish_browser(server, ledger, browser):
    context = browser.new_context(bypass_csp=True, **{**PHONE, "locale": "es-US"})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/login?group=ESP")
        expect(page.get_by_role("button", name="Continuar")).to_be_visible()
        check(page, "0-sign-in")
    finally:
        context.close()


def test_the_switch_works_without_javascript(server, ledger, browser):
    context = browser.new_context(java_script_enabled=False, **{**PHONE, "locale": "en-US"})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/login?group=ESP")
        assert page.evaluate("document.documentElement.lang") == "en"
        page.get_by_role("link", name="Español").click()
        page.wait_for_url(f"{server.url}/login?group=ESP")
        expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "es"
        page.get_by_role("link", name="English").click()  # and back again
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        context.close()
