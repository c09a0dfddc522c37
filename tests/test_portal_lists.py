"""Receipts and Statements a page at a time, and the one rule for a "New" statement, over HTTP.

A list shows 20 rows, newest first (Pending receipts on top); "Show more" is a plain link to
?shown=40 (the whole page with 40), and with htmx the same address answers the block `more` alone:
the next rows and the link after them. New: the latest statement, unpaid, never opened by the
patient (a staff mirror's opening does not count); Home's notice follows the same rule.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from pops import balances, portal_lists
from pops.models import PaymentAttempt, Receipt, Statement, StoredCard

from factories import make_receipt, make_staff, make_statement
from http_helpers import sign_in_as

HTMX = {"HX-Request": "true"}
FIRST_DAY = dt.date(2026, 1, 1)


def receipt_numbers(html: str) -> list[str]:
    return re.findall(r'data-testid="receipt" data-number="([^"]+)"', html)


def statement_numbers(html: str) -> list[str]:
    return re.findall(r'data-testid="statement" data-number="([^"]+)"', html)


def show_more(html: str) -> str | None:
    """The address of the "Show more" link, checked to be the same for the plain link and htmx."""
    found = re.search(r'<li class="show-more"[^>]*>\s*<a href="([^"]+)" hx-get="([^"]+)"', html)
    if found is None:
        assert "Show more" not in html
        return None
    assert found.group(1) == found.group(2)
    return found.group(1).replace("&amp;", "&")


def receipts(guarantor, count: int) -> list[str]:
    """`count` paid receipts, R-001 on FIRST_DAY, one a day after it; their numbers newest first."""
    for n in range(1, count + 1):
        make_receipt(guarantor, f"R-{n:03}", "10.00", FIRST_DAY + dt.timedelta(days=n - 1))
    return [f"R-{n:03}" for n in range(count, 0, -1)]


def statements(guarantor, count: int) -> list[str]:
    """`count` unpaid statements, S-001 dated FIRST_DAY, one every week after it; numbers latest first."""
    for n in range(1, count + 1):
        make_statement(guarantor, f"S-{n:03}", balance="40.00", date=FIRST_DAY + dt.timedelta(weeks=n - 1))
    return [f"S-{n:03}" for n in range(count, 0, -1)]


# --- Receipts --------------------------------------------------------------------------------------

def test_receipts_show_20_newest_first_then_more(client, guarantor):
    newest_first = receipts(guarantor, 25)
    sign_in_as(client, guarantor)
    page = client.get("/receipts")
    assert page.status_code == 200
    assert receipt_numbers(page.text) == newest_first[:20]
    assert show_more(page.text) == "/receipts?shown=40"
    assert 'hx-target="closest li" hx-swap="outerHTML" hx-push-url="true"' in page.text

    longer = client.get("/receipts?shown=40")  # the plain link, and the address htmx pushes: the whole page
    assert longer.text.startswith("<!doctype html>") and "portal-nav" in longer.text
    assert receipt_numbers(longer.text) == newest_first
    assert show_more(longer.text) is None

    appended = client.get("/receipts?shown=40", headers=HTMX)  # what htmx appends: the 5 past the first 20
    assert appended.status_code == 200 and "<html" not in appended.text and "portal-nav" not in appended.text
    assert appended.text.lstrip().startswith('<li class="receipt"')
    assert receipt_numbers(appended.text) == newest_first[20:]
    assert show_more(appended.text) is None
    assert "HX-Request" in appended.headers["vary"]


def test_each_show_more_adds_20_until_the_end(client, guarantor):
    newest_first = receipts(guarantor, 45)
    sign_in_as(client, guarantor)
    assert show_more(client.get("/receipts").text) == "/receipts?shown=40"
    second = client.get("/receipts?shown=40", headers=HTMX).text
    assert receipt_numbers(second) == newest_first[20:40]
    assert show_more(second) == "/receipts?shown=60"
    assert 'autofocus' in second.split('data-number="R-025"')[1].split("</li>")[0]  # the keyboard lands on the first new row
    third = client.get("/receipts?shown=60", headers=HTMX).text
    assert receipt_numbers(third) == newest_first[40:]
    assert show_more(third) is None
    assert receipt_numbers(client.get("/receipts?shown=60").text) == newest_first
    assert "autofocus" not in client.get("/receipts?shown=60").text


def test_exactly_20_receipts_need_no_link(client, guarantor):
    receipts(guarantor, 20)
    sign_in_as(client, guarantor)
    page = client.get("/receipts").text
    assert len(receipt_numbers(page)) == 20 and show_more(page) is None


def test_pending_payments_stay_on_top(client, guarantor):
    newest_first = receipts(guarantor, 25)
    make_receipt(guarantor, "R-WAIT", "15.00", FIRST_DAY, status="pending")  # oldest, but not confirmed yet
    card = StoredCard.create(guarantor=guarantor, gateway_token="tok", brand="Visa", last4="4242", exp_month=12,
                             exp_year=2030)
    PaymentAttempt.create(key="k" * 20, guarantor=guarantor, entrance="portal", amount=Decimal("25.00"),
                          amount_choice="other", status=PaymentAttempt.PENDING, stored_card=card)
    sign_in_as(client, guarantor)
    page = client.get("/receipts").text
    assert page.index('data-testid="pending-payment"') < page.index('data-testid="receipt"')
    assert receipt_numbers(page) == ["R-WAIT"] + newest_first[:19]
    assert re.search(r'data-number="R-WAIT">.*?Status\s*</dt><dd[^>]*>Pending<', page, re.S)
    appended = client.get("/receipts?shown=40", headers=HTMX).text
    assert receipt_numbers(appended) == newest_first[19:]
    assert "pending-payment" not in appended  # shown once, on top of the page


@pytest.mark.parametrize("shown, rows", [
    ("", 20), ("0", 20), ("5", 20), ("-40", 20), ("+40", 20), ("abc", 20), ("40.0", 20), ("4e1", 20),
    ("٤٠", 20),  # Arabic-Indic digits: not a number POPS reads
    (" 40 ", 30), ("40", 30), ("0040", 30), ("999999999999999999999999", 30), ("9" * 5000, 30),
])
def test_any_shown_value_gives_a_page_never_an_error(client, guarantor, shown, rows):
    receipts(guarantor, 30)
    make_statement(guarantor, "S-1", balance="10.00")
    sign_in_as(client, guarantor)
    page = client.get("/receipts", params={"shown": shown})
    assert page.status_code == 200 and len(receipt_numbers(page.text)) == rows
    fragment = client.get("/receipts", params={"shown": shown}, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    statements_page = client.get("/statements", params={"shown": shown})
    assert statements_page.status_code == 200 and statement_numbers(statements_page.text) == ["S-1"]


@pytest.mark.parametrize("text, shown", [
    (None, 20), ("", 20), ("19", 20), ("20", 20), ("21", 21), ("60", 60), ("1000", 1000), ("1001", 1000),
    ("00000000000040", 40), ("10000000000000", 1000), ("-1", 20), ("1_000", 20), ("²", 20),
])
def test_parse_shown(text, shown):
    assert portal_lists.parse_shown(text) == shown


def test_a_list_stops_at_1000_rows(client, guarantor):
    Receipt.insert_many([
        {"number": f"R-{n:04}", "guarantor": guarantor.id, "source": "office", "received_date": FIRST_DAY,
         "received_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "amount": Decimal("1.00"),
         "status": "paid", "imported": True}
        for n in range(1001)
    ]).execute()
    sign_in_as(client, guarantor)
    page = client.get("/receipts?shown=5000").text
    assert len(receipt_numbers(page)) == 1000 and show_more(page) is None


def test_a_nul_in_shown_is_refused_before_the_page(client, guarantor):
    receipts(guarantor, 3)
    sign_in_as(client, guarantor)
    for path in ("/receipts?shown=%00", "/statements?shown=4%000"):
        assert client.get(path).status_code == 400


def test_a_staff_mirror_sees_the_same_pages(client, guarantor):
    newest_first = receipts(guarantor, 25)
    sign_in_as(client, guarantor, origin="staff_mirror", staff=make_staff())
    page = client.get("/receipts").text
    assert "mirror-banner" in page
    assert receipt_numbers(page) == newest_first[:20] and show_more(page) == "/receipts?shown=40"
    assert receipt_numbers(client.get("/receipts?shown=40", headers=HTMX).text) == newest_first[20:]


# --- Statements ------------------------------------------------------------------------------------

def test_statements_show_20_latest_first_then_more(client, guarantor):
    latest_first = statements(guarantor, 25)
    sign_in_as(client, guarantor)
    page = client.get("/statements").text
    assert statement_numbers(page) == latest_first[:20]
    assert show_more(page) == "/statements?shown=40"
    longer = client.get("/statements?shown=40").text
    assert longer.startswith("<!doctype html>") and statement_numbers(longer) == latest_first
    appended = client.get("/statements?shown=40", headers=HTMX)
    assert appended.text.lstrip().startswith('<li class="statement-row"')
    assert statement_numbers(appended.text) == latest_first[20:] and show_more(appended.text) is None
    assert "Hide Paid Statements" not in appended.text and "statement-list" not in appended.text


def test_show_more_keeps_hide_paid(client, guarantor):
    latest_first = statements(guarantor, 25)
    make_statement(guarantor, "S-PAID", balance="40.00", date=dt.date(2025, 12, 1))
    make_receipt(guarantor, "R-PAID", "40.00", dt.date(2025, 12, 15))  # pays S-PAID (and only part of the rest)
    sign_in_as(client, guarantor)
    hidden = client.get("/statements?hide_paid=1").text
    assert statement_numbers(hidden) == latest_first[:20]
    assert show_more(hidden) == "/statements?shown=40&hide_paid=1"
    assert statement_numbers(client.get("/statements?shown=40&hide_paid=1", headers=HTMX).text) == latest_first[20:]
    assert statement_numbers(client.get("/statements?shown=40").text) == latest_first + ["S-PAID"]
    # The filter (htmx) swaps the whole list, back to its first 20.
    swapped = client.get("/statements?hide_paid=1", headers=HTMX).text
    assert swapped.lstrip().startswith('<div id="statement-list">') and len(statement_numbers(swapped)) == 20


# --- New: the table of the rule ----------------------------------------------------------------------

OLDER, LATEST = "S-2025", "S-2026"
OPENED = dt.datetime(2026, 10, 2, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("number, paid_after, opened, new", [
    (LATEST, "0.00", None, True),
    (LATEST, "79.99", None, True),  # short of the amount due by a cent
    (LATEST, "80.00", None, False),
    (LATEST, "0.00", OPENED, False),
    (OLDER, "0.00", None, False),
    (OLDER, "80.00", None, False),
])
def test_is_new_the_rule_alone(number, paid_after, opened, new):
    """The rule over the account's facts, no database: the latest statement, unpaid, never opened."""
    older = balances.StatementFacts(OLDER, dt.date(2025, 10, 1), dt.date(2025, 10, 31), Decimal("60.00"),
                                    Decimal("60.00"))
    latest = balances.StatementFacts(LATEST, dt.date(2026, 10, 1), dt.date(2026, 10, 31), Decimal("80.00"),
                                     Decimal("80.00"))
    facts = balances.AccountFacts(statements=(latest, older), patient_payments=(
        balances.PaymentFacts(dt.date(2026, 10, 5), Decimal(paid_after)),))
    statement = Statement(number=number, first_viewed_at=opened)
    assert portal_lists.is_new(statement, facts) is new


@pytest.mark.parametrize("which, paid, viewed_by, new", [
    ("latest", False, None, True),
    ("latest", False, "mirror", True),  # a staff mirror's opening does not count
    ("latest", False, "patient", False),
    ("latest", True, None, False),  # paid: nothing to tell
    ("latest", True, "mirror", False),
    ("older", False, None, False),  # history, not news
    ("older", True, None, False),  # last year's, paid, never opened: the reported bug
    ("older", False, "mirror", False),
])
def test_the_new_rule(client, guarantor, which, paid, viewed_by, new):
    make_statement(guarantor, OLDER, balance="60.00", date=dt.date(2025, 10, 1))
    make_statement(guarantor, LATEST, balance="80.00", date=dt.date(2026, 10, 1))
    if paid and which == "latest":
        make_receipt(guarantor, "R-1", "80.00", dt.date(2026, 10, 10))
    elif paid:
        make_receipt(guarantor, "R-1", "60.00", dt.date(2025, 10, 10))
    else:
        make_receipt(guarantor, "R-1", "20.00", dt.date(2026, 10, 10))  # some paid, not the amount due
    number = LATEST if which == "latest" else OLDER
    if which == "older":  # the latest is out of the question: opened by the patient, or paid
        Statement.update(first_viewed_at=OPENED).where(Statement.number == LATEST).execute()
    if viewed_by == "mirror":
        sign_in_as(client, guarantor, origin="staff_mirror", staff=make_staff())
        assert "mirror-banner" in client.get(f"/statements/{number}").text
        assert ("statement-new" in client.get("/statements").text) is new  # the mirror sees what the patient will
    elif viewed_by == "patient":
        sign_in_as(client, guarantor)
        assert client.get(f"/statements/{number}").status_code == 200

    sign_in_as(client, guarantor)
    page = client.get("/statements").text
    tagged = re.findall(r'data-number="([^"]+)">\s*<p><a [^>]+><strong>[^<]+</strong></a>\s*'
                        r'<span class="tag new" data-testid="statement-new">New</span>', page)
    assert tagged == ([number] if new else [])
    assert page.count(">New<") == (1 if new else 0)
    home = client.get("/home").text
    assert ('data-testid="new-statement"' in home) is new
    if new:
        assert f'href="/statements/{number}">View statement {number}' in home
