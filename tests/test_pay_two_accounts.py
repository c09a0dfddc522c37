"""Two accounts in one browser: a pay form shown for one account never charges another.

A parent opens the text for one account, then the text for another (the second link replaces the
session), then goes back to the first tab and presses Continue. The form carries the account it was
shown for; a mismatch is refused as out of date, with the page as it is now, and nothing is
recorded or opened at the gateway.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from pops import links
from pops.gateways.sandbox_tables import SandboxCharge, SandboxCheckout
from pops.models import Guarantor, PaymentAttempt, Receipt

from factories import make_encounter, make_guarantor, make_patient, make_statement
from http_helpers import SECRET, post_form, sign_in_as

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def _owing(group, account: str, first_name: str, amount: str) -> Guarantor:
    guarantor = make_guarantor(group, account, first_name, "Reyes", dt.date(1975, 5, 6))
    child = make_patient(guarantor, "P1", "Nico", "Reyes")
    make_encounter(guarantor, "E1", patient=child, date=dt.date(2026, 9, 1), charge=amount)
    make_statement(guarantor, f"S-{account}", date=dt.date(2026, 10, 1), balance=amount)
    return guarantor


@pytest.fixture
def hana(group):
    """H100, $25.00 due."""
    return _owing(group, "H100", "Hana", "25.00")


@pytest.fixture
def jonah(group):
    """J200, $50.00 due."""
    return _owing(group, "J200", "Jonah", "50.00")


def open_text(client, guarantor) -> dict:
    """Follow a QuickPay link for `guarantor` (it replaces this browser's session); the pay form shown."""
    code, _ = links.mint(guarantor, "sms", SECRET)
    assert client.get(f"/q/{code}").status_code == 303
    return shown_form(client, "/quickpay")


def shown_form(client, path: str) -> dict:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return form_in(page.text)


def form_in(text: str) -> dict:
    """The pay form's hidden fields (the form token aside: post_form sends it)."""
    form = text[text.index('action="/pay/start"'):]
    form = form[:form.index("</form>")]
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form) if name != "csrf"}


def continue_with(client, form: dict, amount: str = "amount_due"):
    return post_form(client, "/pay/start", {**form, "amount": amount, "other_amount": ""})


def nothing_started() -> None:
    assert PaymentAttempt.select().count() == 0
    assert SandboxCheckout.select().count() == 0
    assert SandboxCharge.select().count() == 0
    assert {g.payment_seq for g in Guarantor.select()} == {0}


def out_of_date(page, guarantor: Guarantor, amount: str) -> None:
    """The refusal is the current QuickPay page: this session's guarantor and amount due."""
    assert page.status_code == 400
    assert "This page was out of date" in page.text
    assert f'data-testid="guarantor-name">{guarantor.greeting_name}<' in page.text
    assert f'data-testid="amount-due">{amount}<' in page.text


def test_the_first_tab_of_two_accounts_is_refused_and_the_current_page_shown(client, hana, jonah):
    first_tab = open_text(client, hana)
    open_text(client, jonah)

    refused = continue_with(client, first_tab)
    out_of_date(refused, jonah, "$50.00")
    assert hana.greeting_name not in refused.text and "$25.00" not in refused.text
    nothing_started()
    # each form names the account it was shown for; the refusal shows a fresh one
    assert (first_tab.get("account"), form_in(refused.text).get("account")) == ("H100", "J200")


def test_a_form_from_before_the_account_was_carried_is_out_of_date(client, hana):
    """A page cached before forms carried their account could have been shown for any account."""
    form = open_text(client, hana)
    form.pop("account", None)
    out_of_date(continue_with(client, form), hana, "$25.00")
    nothing_started()


def test_a_started_form_resent_after_another_account_opened_starts_nothing_new(client, hana, jonah):
    first_tab = open_text(client, hana)
    started = continue_with(client, first_tab)
    assert started.status_code == 303 and "/sandbox-gateway/checkout/" in started.headers["location"]
    open_text(client, jonah)

    out_of_date(continue_with(client, first_tab), jonah, "$50.00")
    assert [(a.guarantor.account, a.amount) for a in PaymentAttempt.select()] == [("H100", Decimal("25.00"))]
    assert SandboxCheckout.select().count() == 1 and SandboxCharge.select().count() == 0


def test_the_portal_pay_page_refuses_a_form_shown_for_another_account(client, hana, jonah):
    sign_in_as(client, hana)
    first_tab = shown_form(client, "/pay")
    sign_in_as(client, jonah)

    refused = continue_with(client, first_tab)
    assert refused.status_code == 400 and "This page was out of date" in refused.text
    assert 'data-testid="amount-due">$50.00<' in refused.text and "$25.00" not in refused.text
    nothing_started()


def test_the_current_tab_pays_its_own_account(client, hana, jonah):
    open_text(client, hana)
    second_tab = open_text(client, jonah)
    started = continue_with(client, second_tab)
    assert started.status_code == 303
    checkout = urlsplit(started.headers["location"]).path
    page = client.get(checkout)
    assert "$50.00" in page.text and "account J200" in page.text

    paid = client.post(checkout, data={"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"})
    back = urlsplit(paid.headers["location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 303
    receipt = Receipt.get()
    assert (receipt.guarantor.account, receipt.amount) == ("J200", Decimal("50.00"))
    assert [(a.guarantor.account, a.status) for a in PaymentAttempt.select()] == [("J200", "paid")]
