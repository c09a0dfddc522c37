"""The portal pages over HTTP: Home, Account, Appointments, Receipts, Statements, as the patient sees them."""
from __future__ import annotations

import re

import pytest

from pops import clock
from pops.models import Group, Guarantor, PatientSession, SessionPage, Statement

from factories import make_staff, other_account
from http_helpers import sign_in_as

PAGES = ["/home", "/account", "/appointments", "/receipts", "/statements", "/statements/S-1",
         "/receipts/R-POPS1/detail"]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def signed_in(client, guarantor, ledger_rows):
    return sign_in_as(client, guarantor)


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed, as a reader would see them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def set_group(**options):
    Group.update(**options).execute()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_portal_session(client, ledger_rows, path):
    response = client.get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize("path", PAGES)
def test_a_quickpay_session_must_verify_first(client, guarantor, ledger_rows, path):
    sign_in_as(client, guarantor, quickpay=True)
    response = client.get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login?view_account=1"


@pytest.mark.parametrize("path", PAGES)
def test_full_page_and_htmx_fragment(client, signed_in, path):
    full = client.get(path)
    assert full.status_code == 200
    assert full.text.startswith("<!doctype html>")
    assert 'class="portal-nav"' in full.text and "Riverside Family Medicine" in full.text
    assert "/brand/RFM.css" in full.text  # the group's branding
    assert "HX-Request" in full.headers["vary"]
    assert full.headers["cache-control"] == "no-store"
    fragment = client.get(path, headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "portal-nav" not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    assert " style=" not in full.text and "<script>" not in full.text  # strict CSP


def test_page_visits_are_recorded(client, signed_in):
    for path in ["/home", "/account", "/statements", "/receipts/R-POPS1/detail"]:
        client.get(path)
    visits = [p.path for p in SessionPage.select().where(SessionPage.session == signed_in.id).order_by(SessionPage.id)]
    assert visits == ["/home", "/account", "/statements", "/receipts/R-POPS1/detail"]
    assert PatientSession.get_by_id(signed_in.id).pages == 4


def test_home(client, signed_in):
    page = text_of(client.get("/home").text)
    assert "Welcome, Maria Lopez" in page
    assert "Amount Due $65.00" in page
    assert "Unapplied Funds $0.00" in page
    assert "Current Balance" not in page
    html = client.get("/home").text
    assert 'href="/pay"' in html and "Pay Now" in html
    assert 'href="/statements/S-1"' in html and "View Current Statement" in html
    assert "You have a new statement from Oct 1, 2026." in page


def test_home_notice_goes_once_the_statement_is_opened(client, signed_in):
    client.get("/statements/S-1")
    client.get("/statements/S-0")
    assert "new statement" not in client.get("/home").text


def test_home_says_why_payment_is_not_possible(client, signed_in, guarantor):
    Guarantor.update(unapplied="12.50").execute()
    page = text_of(client.get("/home").text)
    assert "Unapplied Funds $12.50" in page
    assert "Payment Not Possible: Please contact Riverside Family Medicine" in page
    assert 'href="/pay"' not in client.get("/home").text.split("</nav>")[1]
    for path in ["/home", "/account"]:  # the number to call, as a phone can dial it
        refused = client.get(path).text.split('data-testid="payment-refused"')[1].split("</p>")[0]
        assert '<a href="tel:5550102000">(555) 010-2000</a>' in refused


def test_account(client, signed_in):
    html = client.get("/account").text
    page = text_of(html)
    assert "Amount Due $65.00" in page
    assert "Last Statement $95.00 on Oct 1, 2026" in page
    assert "Current Balance $105.00" in page
    assert "Unapplied Funds $0.00" in page
    since = text_of(html.split('data-testid="since-last-statement"')[1].split('data-testid="visit-history"')[0])
    assert "Maria Lopez · Dr. Ann Okafor · Main St clinic" in since
    assert "Oct 15, 2026 E3-1 charge $120.00 $0.00 $80.00 $0.00 $40.00" in since
    history = text_of(html.split('data-testid="visit-history"')[1])
    assert "E1-1" in history and "E2-1" in history and "E0-1" not in history
    assert "E1-2 charge $40.00 $10.00 $0.00 $5.00 $25.00" in history
    assert "Insurance pending $20.00" in history
    assert 'href="/account?history=all#history"' in html


def test_account_history_all(client, signed_in):
    history = text_of(client.get("/account?history=all").text.split('data-testid="visit-history"')[1])
    assert "Aug 10, 2026 E0-1 charge $100.00 $10.00 $60.00 $30.00 $0.00" in history
    assert "Show only visits with a balance" in history


def test_collections_panel_follows_show_collections(client, signed_in):
    set_group(show_collections=False)
    html = client.get("/account").text
    assert "Collections Balance" not in html and "$200.00" not in html
    set_group(show_collections=True)
    page = text_of(client.get("/account").text)
    assert "Collections Balance $200.00" in page
    assert "Please call (555) 010-2000 to arrange payment." in page
    assert '<a href="tel:5550102000">Call (555) 010-2000</a>' in client.get("/account").text


def test_show_current_balance_off(client, signed_in):
    set_group(show_current_balance=False)
    for path in ["/home", "/account"]:
        page = text_of(client.get(path).text)
        assert "Current Balance" not in page and "$105.00" not in page
        assert "Amount Due $65.00" in page


def test_statements_and_hide_paid(client, signed_in):
    page = text_of(client.get("/statements").text)
    assert re.search(r"Statement S-1 New Date due Oct 26, 2026 Statement Balance \$95.00 Amount Due \$95.00 "
                     r"Status Unpaid", page)
    assert "Statement S-0" in page and "Status Paid" in page
    assert page.index("S-1") < page.index("S-0")  # latest due date first
    hidden = client.get("/statements?hide_paid=1")
    assert "Statement S-1" in hidden.text and "Statement S-0" not in hidden.text
    assert re.search(r'name="hide_paid" value="1"\s+checked', hidden.text)
    fragment = client.get("/statements?hide_paid=1", headers=HTMX)
    assert "Statement S-0" not in fragment.text and "<html" not in fragment.text
    assert "Statement S-0" in client.get("/statements").text  # unchecked: the query string has no hide_paid


def test_statement_detail(client, signed_in):
    page = text_of(client.get("/statements/S-1").text)
    for expected in ["Guarantor Maria Lopez", "Account number A1001", "Date due Oct 26, 2026",
                     "Statement Balance $95.00", "Amount Due $95.00", "E1-2", "E2-1", "Visit total $55.00",
                     "Leo Lopez"]:
        assert expected in page, expected


def test_opening_a_statement_marks_it_viewed_by_the_patient(client, signed_in):
    client.get("/statements/S-1", headers=HTMX)
    assert Statement.get(Statement.number == "S-1").first_viewed_at == clock.now()
    assert Statement.get(Statement.number == "S-0").first_viewed_at is None


def test_a_staff_mirror_never_marks_a_statement_viewed(client, guarantor, ledger_rows):
    staff = make_staff()
    sign_in_as(client, guarantor, origin="staff_mirror", staff=staff)
    page = client.get("/statements/S-1")
    assert page.status_code == 200 and "mirror-banner" in page.text
    assert Statement.get(Statement.number == "S-1").first_viewed_at is None
    assert "You have a new statement" in client.get("/home").text


@pytest.mark.parametrize("path", ["/statements/S-OTHER", "/statements/NOPE", "/receipts/R-OTHER/detail",
                                  "/receipts/NOPE/detail"])
def test_another_guarantors_statement_or_receipt_is_404(client, signed_in, group, path):
    other_account(group)
    for headers in ({}, HTMX):
        response = client.get(path, headers=headers)
        assert response.status_code == 404
        assert "S-OTHER" not in response.text and "R-OTHER" not in response.text and "Ben" not in response.text
    assert Statement.get(Statement.number == "S-OTHER").first_viewed_at is None


def test_receipts_list(client, signed_in):
    html = client.get("/receipts").text
    page = text_of(html)
    numbers = re.findall(r'data-testid="receipt" data-number="([^"]+)"', html)
    assert numbers == ["R-POPS3", "R-POPS2", "R-POPS1", "R-OFF2", "R-OFF1"]
    assert "Receipt R-POPS3 Date Nov 20, 2026 Status Unsuccessful Paid with Visa ending in 4242 Amount $0.00" in page
    assert "Receipt R-POPS2 Date Nov 1, 2026 Status Refunded" in page
    assert "Receipt R-OFF2 Date Sep 14, 2026 Status Paid Paid with Check Amount $20.00" in page
    assert "Mastercard ending in 4444 Amount $30.00" in page
    # Expanding: an htmx GET for the detail, and without JavaScript a link to the itemized receipt.
    assert 'hx-get="/receipts/R-POPS1/detail"' in html
    assert 'href="/receipts/R-POPS1"' in html and 'href="/receipts/R-POPS1/detail"' in html


def test_receipt_detail_fragment_and_page(client, signed_in):
    fragment = client.get("/receipts/R-POPS1/detail", headers=HTMX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div class="receipt-items"')
    page = text_of(fragment.text)
    assert "Patient Leo Lopez Provider Dr. Ann Okafor Location Main St clinic Service Sep 14, 2026 · Visit E1 E1 Applied $30.00" in page
    assert "Number of Transactions: 1" in page and "TX-1001 $30.00" in page
    full = client.get("/receipts/R-POPS1/detail")
    assert full.text.startswith("<!doctype html>") and "Receipt R-POPS1" in full.text
    assert "Back to receipts" in full.text and "TX-1001" in full.text
    refunded = text_of(client.get("/receipts/R-POPS2/detail", headers=HTMX).text)
    assert "Number of Transactions: 2" in refunded and "TX-1003 (refund) -$50.00" in refunded
    office = text_of(client.get("/receipts/R-OFF1/detail", headers=HTMX).text)
    assert "Patient Maria Lopez" in office and "E0-1" in office and "Number of Transactions: 0" in office


def test_appointments_and_the_patient_filter(client, signed_in, ledger_rows):
    html = client.get("/appointments").text
    upcoming = text_of(html.split("Upcoming")[1].split("Past")[0])
    past = text_of(html.split("Past</h2>")[1])
    assert "Nov 23, 2026 · 9:30 AM" in upcoming and "Dec 10, 2026" in upcoming
    assert "Nov 23, 2026 · 8:30 AM" in past and "Jun 1, 2026" in past
    leo = ledger_rows["leo"]
    assert f'<option value="{leo.id}">Leo Lopez</option>' in html
    filtered = client.get(f"/appointments?patient={leo.id}")
    assert "Sports physical" in filtered.text and "Follow-up visit" not in filtered.text
    assert f'<option value="{leo.id}" selected>Leo Lopez</option>' in filtered.text
    fragment = client.get(f"/appointments?patient={leo.id}", headers=HTMX)
    assert "Sports physical" in fragment.text and "Follow-up visit" not in fragment.text and "<html" not in fragment.text
    everyone = client.get("/appointments?patient=bogus")
    assert everyone.status_code == 200 and "Follow-up visit" in everyone.text


def test_appointments_upcoming_moves_with_the_clock(client, signed_in):
    assert "9:30 AM" in client.get("/appointments").text.split("Past</h2>")[0]
    for minutes in (10, 10, 11):  # to 09:31 in Chicago, the session kept alive by activity
        clock.advance(minutes=minutes)
        assert client.get("/home").status_code == 200
    html = client.get("/appointments").text
    assert "9:30 AM" in html.split("Past</h2>")[1]


def test_appointments_switched_off(client, signed_in):
    set_group(enable_appointments=False)
    response = client.get("/appointments")
    assert response.status_code == 404
    assert "Appointments are not shown online for Riverside Family Medicine." in response.text
    assert "Follow-up visit" not in response.text
    assert 'href="/appointments"' not in response.text  # nor in the menu
    assert 'href="/appointments"' not in client.get("/home").text


@pytest.mark.parametrize("path", ["/home", "/account", "/pay", "/receipts"])
def test_the_footer_phone_is_a_number_a_phone_can_call(client, signed_in, path):
    page = client.get(path).text
    assert 'Questions about your bill? Call <a href="tel:5550102000">(555) 010-2000</a>.' in page
