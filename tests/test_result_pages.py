"""What a patient reads when a payment does not go through, or cannot start: whether they were
charged (only where the attempt's state says so), and whom to call, as a link a phone can call."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from pops import payments
from pops.models import Group, Guarantor, PaymentAttempt, Receipt

from factories import make_encounter, make_patient, make_statement
from http_helpers import post_form, sign_in_as

PROCESSOR_ERROR = "4000 0000 0000 0119"
DECLINED = "4000 0000 0000 0002"
PHONE_LINK = '<a href="tel:5550102000">(555) 010-2000</a>'


@pytest.fixture
def account(guarantor):
    make_encounter(guarantor, "E1", patient=make_patient(guarantor, "P1", "Leo", "Lopez"), date=dt.date(2026, 9, 1),
                   provider="Dr. Ada Stone", charge="50.00")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="50.00")
    return guarantor


def pay_with(client, number: str) -> str:
    """Pay the amount due on QuickPay with this sandbox card; returns the result page's HTML."""
    form = client.get("/quickpay").text
    fields = {name: re.search(rf'name="{name}" value="([^"]+)"', form).group(1) for name in ("key", "seq", "account")}
    started = post_form(client, "/pay/start", {**fields, "amount": "amount_due"})
    hosted = client.post(urlsplit(started.headers["location"]).path,
                         data={"number": number, "expiry": "12/30", "cvc": "123"})
    back = urlsplit(hosted.headers["location"])
    result = client.get(f"{back.path}?{back.query}").headers["location"]
    return client.get(result).text


def main_text(html: str) -> str:
    """The page's own words (the footer repeats the phone as plain text)."""
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


def test_a_processor_error_says_not_charged_and_whom_to_call(client, account):
    sign_in_as(client, account, quickpay=True)
    page = main_text(pay_with(client, PROCESSOR_ERROR))
    attempt = PaymentAttempt.get()
    assert attempt.status == PaymentAttempt.ERROR and Receipt.select().count() == 0  # nothing was taken
    assert "<h1>Payment not completed</h1>" in page
    assert "The card processor had a problem, so the payment did not go through." in page
    assert page.count("You were not charged.") == 1
    assert f"You can try again, or call Riverside Family Medicine at {PHONE_LINK}." in page
    assert 'href="/quickpay">Back to payment<' in page


def test_a_declined_card_says_payment_failed_with_the_phone_as_a_link(client, account):
    sign_in_as(client, account, quickpay=True)
    page = main_text(pay_with(client, DECLINED))
    assert "<h1>Payment Failed</h1>" in page and "Your card was declined." in page
    assert f"No money was taken. You can try again with another card, or call Riverside Family Medicine at {PHONE_LINK}." in page
    assert "You were not charged" not in page  # a $0.00 receipt records the decline instead
    assert Receipt.get().amount == Decimal("0.00")


@pytest.mark.parametrize("status, message, checkout, says_not_charged", [
    (PaymentAttempt.CANCELED, payments.MSG_NOT_COMPLETED, "co_1", True),
    (PaymentAttempt.ERROR, "The card processor had a problem.", "co_1", True),
    (PaymentAttempt.ATTEMPT, payments.MSG_UNAVAILABLE, "", True),  # the gateway never had it
    (PaymentAttempt.PENDING, "", "co_1", False),  # may still be paid at the gateway: still confirming
])
def test_not_charged_is_said_only_when_the_attempt_charged_nothing(client, app, account, status, message, checkout,
                                                                    says_not_charged):
    app.state.gateway.unreachable = True  # an open attempt is not settled while the page is shown
    PaymentAttempt.create(key="k" * 32, guarantor=account, entrance="quickpay", amount=Decimal("50.00"),
                          amount_choice="amount_due", status=status, message=message, gateway_checkout=checkout)
    page = main_text(client.get(f"/pay/result/{'k' * 32}").text)
    assert (page.count("You were not charged.") == 1) is says_not_charged
    if says_not_charged:
        assert message in page and PHONE_LINK in page
    else:
        assert "Confirming your payment" in page


def test_without_a_phone_the_page_still_says_not_charged(client, account):
    Group.update(footer_phone="").execute()
    PaymentAttempt.create(key="k" * 32, guarantor=account, entrance="quickpay", amount=Decimal("50.00"),
                          amount_choice="amount_due", status=PaymentAttempt.ERROR, message="Declined by the bank.")
    page = main_text(client.get(f"/pay/result/{'k' * 32}").text)
    assert "You were not charged. You can try again." in page and "tel:" not in page


@pytest.mark.parametrize("page", ["/quickpay", "/pay"])
def test_payment_not_possible_is_said_once_with_the_phone_as_a_link(client, account, page):
    Guarantor.update(escrow=Decimal("25.00")).execute()
    sign_in_as(client, account, quickpay=page == "/quickpay")
    shown = main_text(client.get(page).text)
    assert shown.count("Payment Not Possible") == 1
    assert ("<strong>Payment Not Possible: Please contact Riverside Family Medicine to make a payment at this "
            "time.</strong>") in shown
    assert "<h2>Payment Not Possible</h2>" not in shown and PHONE_LINK in shown


def test_other_refusals_keep_their_heading(client, guarantor):
    sign_in_as(client, guarantor, quickpay=True)  # nothing owed
    shown = main_text(client.get("/quickpay").text)
    assert "<h2>No online payment</h2>" in shown and "You have no balance due. Thank you!" in shown
