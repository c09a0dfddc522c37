"""One names rule: the patient is greeted by the preferred name; the legal name stands on receipts,
statements, staff pages and reports (Guarantor.greeting_name and Guarantor.legal_name)."""
from __future__ import annotations

import datetime as dt

import pytest

from pops import links
from pops.models import Guarantor

from factories import make_guarantor, owe, pay
from http_helpers import SECRET, post_form, sign_in_as, staff_login

LEGAL, GREETING = "Maria Lopez", "Mari Lopez"


@pytest.fixture
def mari(guarantor):
    Guarantor.update(preferred_name="Mari").execute()
    owe(guarantor)
    return Guarantor.get_by_id(guarantor.id)


@pytest.mark.parametrize("preferred, greeting", [("Mari", "Mari Lopez"), ("", "Maria Lopez")])
def test_the_rule(group, preferred, greeting):
    g = make_guarantor(group, "N1", "Maria", "Lopez", dt.date(1981, 4, 12), preferred_name=preferred)
    assert (g.greeting_name, g.legal_name) == (greeting, "Maria Lopez")


def test_the_patient_is_greeted_by_the_preferred_name(client, mari):
    code, _ = links.mint(mari, "sms", SECRET)
    client.get(f"/q/{code}")
    quickpay = client.get("/quickpay").text
    assert f'data-testid="guarantor-name">{GREETING}<' in quickpay and LEGAL not in quickpay
    client.cookies.clear()
    sign_in_as(client, mari)
    home = client.get("/home").text
    assert f"Welcome, {GREETING}" in home and LEGAL not in home


def test_receipts_statements_and_the_account_carry_the_legal_name(client, mari):
    receipt = pay(mari, "POPS-000001", "20.00", dt.datetime(2026, 11, 20, 15, tzinfo=dt.timezone.utc))
    sign_in_as(client, mari)
    printable = client.get(f"/receipts/{receipt.number}").text
    assert LEGAL in printable and GREETING not in printable
    account = client.get("/account").text
    assert LEGAL in account
    profile = client.get("/profile").text
    assert f'data-testid="profile-name">{LEGAL}<' in profile and f'data-testid="profile-preferred">Mari<' in profile


def test_staff_pages_carry_the_legal_name(client, mari, staff):
    staff_login(client, staff)
    dashboard = client.get(f"/staff/guarantors/{mari.account}").text
    assert f"<h1>{LEGAL} " in dashboard and GREETING not in dashboard
    desk = post_form(client, f"/staff/guarantors/{mari.account}/qr").text
    assert LEGAL in desk and GREETING not in desk
    post_form(client, "/staff/mirror", {"group": "RFM", "guarantor": mari.account, "quickpay": "on"})
    mirrored = client.get("/quickpay").text  # the banner speaks to staff; the page greets as the patient sees it
    assert f"is seeing {LEGAL}'s QuickPay" in mirrored and f'data-testid="guarantor-name">{GREETING}<' in mirrored
