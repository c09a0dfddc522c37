"""POPS with POPS_GATEWAY=stripe against the Stripe-compatible test server (tests/stripe_server): fixtures
and the moves the Stripe tests share. Test modules import the fixtures from here by name."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from pops import clock
from pops.app import create_app
from pops.settings import Settings
from stripe_server import StripeServer

from factories import make_encounter, make_patient, make_statement
from http_helpers import SECRET, open_browser, post_form, sign_in_as

APPROVED = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT = "4000 0000 0000 9995"
THREE_D_SECURE = "4000 0027 6000 3184"


@pytest.fixture
def stripe_server(db):
    """The test server on POPS's (frozen) clock, its events held until a test releases them."""
    with StripeServer(now=lambda: int(clock.now().timestamp())) as server:
        server.hold_events()
        yield server


def stripe_settings(db_url: str, server: StripeServer, **extra) -> Settings:
    return Settings(database_url=db_url, secret_key=SECRET, environment="test", base_url="http://testserver",
                    gateway="stripe", stripe_secret_key=server.api_key, stripe_webhook_secret=server.webhook_secret,
                    stripe_api_base=server.api_url,
                    stripe_test_origins=(server.checkout_origin, server.three_ds_origin), **extra)


@pytest.fixture
def stripe_app(db_url, stripe_server):
    app = create_app(stripe_settings(db_url, stripe_server))
    with TestClient(app, follow_redirects=False) as hooks:  # Stripe's side: its own connection, no cookies
        stripe_server.webhook_url = lambda body, headers: hooks.post("/webhooks/stripe", content=body,
                                                                     headers=headers).status_code
        yield app


@pytest.fixture
def browser(stripe_app, db):
    with open_browser(stripe_app) as client:
        yield client


@pytest.fixture
def account(guarantor):
    """Two open visits (Sept $50, Oct $70), a statement of Oct 15 with $120 due."""
    leo = make_patient(guarantor, "P1", "Leo", "Lopez")
    for ext, day, amount in (("E1", dt.date(2026, 9, 1), "50.00"), ("E2", dt.date(2026, 10, 1), "70.00")):
        make_encounter(guarantor, ext, patient=leo, date=day, provider="Dr. Ada Stone", charge=amount)
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="120.00")
    return guarantor


def pay_form(client, page: str = "/pay") -> dict:
    text = client.get(page).text
    return {name: re.search(rf'name="{name}" value="([^"]+)"', text).group(1) for name in ("key", "seq", "account")}


def start(client, amount: str = "amount_due", page: str = "/pay", **extra):
    """Send the pay form as shown; the response (a 303 to Stripe's page, or back to POPS)."""
    return post_form(client, "/pay/start", {**pay_form(client, page), "amount": amount, **extra})


def checkout(client, guarantor, **extra) -> tuple[str, str]:
    """A signed-in patient starts paying the Amount Due: (the session id, the attempt's key)."""
    sign_in_as(client, guarantor)
    response = start(client, **extra)
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    session_id = re.search(r"/(cs_[A-Za-z0-9_]+)", url).group(1)
    return session_id, pay_key(client)


def pay_key(client) -> str:
    from pops.models import PaymentAttempt

    return PaymentAttempt.select().order_by(PaymentAttempt.id.desc()).get().key


def come_back(client, redirect: str):
    """Follow Stripe's redirect back to POPS (the success or cancel URL): the result page's response."""
    url = urlsplit(redirect)
    assert url.netloc == "testserver" and url.path.startswith("/pay/return/"), redirect
    back = client.get(f"{url.path}?{url.query}")
    assert back.status_code == 303, back.text
    return client.get(back.headers["location"])


def session_query(redirect: str) -> dict:
    return parse_qs(urlsplit(redirect).query)


def deliver(server: StripeServer, **options) -> list[int]:
    """Deliver the held events now (options as release_events), and hold the next ones again."""
    statuses = server.release_events(**options)
    server.hold_events()
    return statuses
