"""Every patient page answers htmx with its named block alone: the expected status, no page shell, never a 500.

A block renders by itself only if everything it uses is inside it (a macro imported in the block),
so each page is asked as a fragment, in the session it is for (the full portal, QuickPay, or none),
with data on it.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from factories import build_ledger
from http_helpers import post_form, sign_in_as

from pops.models import PaymentAttempt

HTMX = {"HX-Request": "true"}

# Every patient GET page of the full portal: the address that shows it, and what its block holds.
PORTAL = {
    "/home": ("/home", "Welcome, Maria Lopez"),
    "/account": ("/account?history=all", 'data-testid="visit-history"'),
    "/appointments": ("/appointments?patient=", 'id="appointment-lists"'),
    "/statements": ("/statements?hide_paid=1", 'id="statement-list"'),
    "/statements/{number}": ("/statements/S-1", 'data-testid="statement-visit"'),
    "/receipts": ("/receipts", 'data-number="R-POPS1"'),
    "/receipts/{number}/detail": ("/receipts/R-POPS1/detail", 'data-testid="receipt-detail"'),
    "/receipts/{number}": ("/receipts/R-POPS1", 'class="card receipt-page"'),
    "/pay": ("/pay", 'data-testid="pay-button"'),
    "/pay/plan": ("/pay/plan", 'data-testid="plans-off"'),
    "/pay/plan/authorisation": ("/pay/plan/authorisation", "Payment plan authorisation"),
    "/pay/autopay": ("/pay/autopay", 'data-testid="autopay-unavailable"'),
    "/profile": ("/profile?done=request", 'data-testid="profile-name"'),
    "/profile/register": ("/profile/register", 'action="/profile/register"'),
    "/profile/modify": ("/profile/modify?patient=P1", 'action="/profile/modify"'),
}
# GET routes whose block is asked below in its own session, and those that are no page at all.
OTHER_PAGES = {"/", "/quickpay", "/login", "/login/send", "/login/code", "/logged-out", "/session/status",
               "/profile/verify", "/pay/result/{key}", "/q/{code:path}",
               "/pay/plan/review", "/pay/plan/done/{key}",  # a plan's schedule and set-up: tests/test_plans_web.py
               "/pay/plan/add"}  # new charges joining a plan: tests/test_plan_join_web.py
NOT_PAGES = {"/healthz", "/brand/{code}.css", "/pay/return/{key}", "/pay/plan/return/{key}",
             "/language"}  # the language switch: a redirect


def assert_fragment(response, *, status: int = 200, holds: str = "") -> None:
    assert response.status_code == status, response.text[:500]
    assert "<html" not in response.text and "<title>" not in response.text
    assert "portal-nav" not in response.text and 'class="foot"' not in response.text
    assert "HX-Request" in response.headers["vary"]
    assert holds in response.text, response.text[:500]


def test_the_lists_name_every_patient_page(app):
    paths = {route.path for route in app.routes
             if not route.path.startswith("/staff") and "GET" in (getattr(route, "methods", None) or ())}
    assert paths == set(PORTAL) | OTHER_PAGES | NOT_PAGES


@pytest.fixture
def portal(client, guarantor):
    build_ledger(guarantor)
    return sign_in_as(client, guarantor)


@pytest.mark.parametrize("route", sorted(PORTAL))
def test_every_portal_page_renders_its_block_alone(client, portal, route):
    address, holds = PORTAL[route]
    page = client.get(address)
    assert page.status_code == 200 and "<html" in page.text and "portal-nav" in page.text
    assert_fragment(client.get(address, headers=HTMX), holds=holds)


def test_the_filters_swap_only_their_lists(client, portal):
    statements = client.get("/statements?hide_paid=1", headers=HTMX).text
    assert statements.lstrip().startswith('<div id="statement-list">') and "Hide Paid Statements" not in statements
    appointments = client.get("/appointments?patient=", headers=HTMX).text
    assert appointments.lstrip().startswith('<div id="appointment-lists">') and "All patients" not in appointments


def test_not_found_pages_of_the_portal(client, portal):
    assert_fragment(client.get("/statements/NOPE", headers=HTMX), status=404, holds="that statement")
    assert_fragment(client.get("/receipts/NOPE/detail", headers=HTMX), status=404, holds="that receipt")
    assert_fragment(client.get("/receipts/NOPE", headers=HTMX), status=404, holds="that receipt")


def test_verifying_a_new_email(client, portal):
    assert post_form(client, "/profile/email", {"email": "maria.new@example.org"}).status_code == 303
    assert_fragment(client.get("/profile/verify", headers=HTMX), holds="maria.new@example.org")


def test_quickpay_pages(client, guarantor):
    build_ledger(guarantor)
    sign_in_as(client, guarantor, quickpay=True)
    assert_fragment(client.get("/quickpay", headers=HTMX), holds='data-testid="view-account"')
    receipt = client.get("/receipts/R-POPS1", headers=HTMX)
    assert_fragment(receipt, holds='href="/quickpay"')
    assert_fragment(client.get("/receipts/NOPE", headers=HTMX), status=404, holds="nothing here for your account")


@pytest.mark.parametrize("status, holds", [
    ("paid", "Payment received"), ("declined", "Payment Failed"), ("error", "Payment not completed"),
    ("pending", "Confirming your payment"),
])
def test_the_pay_result(client, guarantor, status, holds):
    receipt = build_ledger(guarantor)["pops1"] if status == "paid" else None
    PaymentAttempt.create(key="k" * 32, guarantor=guarantor, entrance="quickpay", amount=Decimal("30.00"),
                          amount_choice="amount_due", status=status, receipt=receipt,
                          message="Card declined." if status == "declined" else "")
    assert_fragment(client.get(f"/pay/result/{'k' * 32}", headers=HTMX), holds=holds)  # no session: the key
    sign_in_as(client, guarantor, quickpay=True)
    assert_fragment(client.get(f"/pay/result/{'k' * 32}", headers=HTMX), holds=holds)


def test_public_and_sign_in_pages(client, guarantor):
    assert_fragment(client.get("/", headers=HTMX), holds="Pay your medical bill")
    assert_fragment(client.get("/login?group=RFM", headers=HTMX), holds='action="/login"')
    assert_fragment(client.get("/logged-out?group=RFM", headers=HTMX), holds="You have logged out")
    assert_fragment(client.get("/session/status", headers=HTMX), holds="Your session has ended")
    assert_fragment(client.get("/q/NOPE", headers=HTMX), status=404, holds='data-testid="link-error"')
    assert_fragment(client.get("/quickpay", headers=HTMX), status=401, holds="Your session has ended")
    assert_fragment(client.get("/nowhere", headers=HTMX), status=404, holds="There is no page at this address")
    post_form(client, "/login", {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "04/12/1981"})
    assert_fragment(client.get("/login/send", headers=HTMX), holds='action="/login/send"')
    post_form(client, "/login/send", {"destination": "0:sms"})
    assert_fragment(client.get("/login/code", headers=HTMX), holds='action="/login/code"')


def test_the_session_warning_block(client, guarantor):
    guarantor.group.allow_session_extension = True
    guarantor.group.save()
    sign_in_as(client, guarantor)
    assert_fragment(client.get("/session/status", headers=HTMX), holds='id="session-status"')
