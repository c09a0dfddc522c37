"""Choosing Stripe: the settings and their start-up errors, the Content Security Policy, every command on
the configured gateway, and payments the sandbox took before (refunded by the sandbox, shown as such)."""
from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from pops import cli, clock, payments
from pops.app import create_app
from pops.gateways import from_settings
from pops.gateways.sandbox import SandboxGateway
from pops.gateways.sandbox_tables import SandboxCheckout, SandboxRefund
from pops.models import Group, OutboxMessage, PatientSession, PaymentAttempt, Receipt, Transaction
from pops.settings import Settings, SettingsError

from factories import make_staff, patient_session
from http_helpers import SECRET, give_staff_session, open_browser, post_form
from stripe_helpers import account, stripe_server, stripe_settings  # noqa: F401 (fixtures)


@pytest.mark.parametrize("env, named", [
    ({"POPS_GATEWAY": "paypal"}, "POPS_GATEWAY"),
    ({"POPS_GATEWAY": "stripe"}, "POPS_STRIPE_SECRET_KEY and POPS_STRIPE_WEBHOOK_SECRET"),
    ({"POPS_GATEWAY": "stripe", "POPS_STRIPE_SECRET_KEY": "sk_test_x"}, "POPS_STRIPE_WEBHOOK_SECRET"),
    ({"POPS_GATEWAY": "stripe", "POPS_STRIPE_SECRET_KEY": "pk_test_x", "POPS_STRIPE_WEBHOOK_SECRET": "whsec_x"},
     "POPS_STRIPE_SECRET_KEY is not a Stripe secret key"),
    ({"POPS_GATEWAY": "stripe", "POPS_STRIPE_SECRET_KEY": "sk_test_x", "POPS_STRIPE_WEBHOOK_SECRET": "x"},
     "POPS_STRIPE_WEBHOOK_SECRET is not a webhook signing secret"),
    ({"POPS_ENV": "production"}, "POPS_GATEWAY is not set"),
])
def test_a_missing_or_wrong_gateway_setting_is_a_clear_start_up_error(env, named):
    with pytest.raises(SettingsError, match=named):
        from_settings(Settings.from_env({"POPS_SECRET_KEY": SECRET, **env}))


def test_the_sandbox_is_the_default_outside_production_and_production_names_it():
    assert Settings.from_env({"POPS_ENV": "development"}).gateway == "sandbox"
    assert Settings.from_env({}).gateway == ""  # production: refused when serving
    assert from_settings(Settings.from_env({"POPS_GATEWAY": "sandbox", "POPS_SECRET_KEY": SECRET})).name == "sandbox"
    live = Settings.from_env({"POPS_GATEWAY": "Stripe", "POPS_STRIPE_SECRET_KEY": "sk_live_x",
                              "POPS_STRIPE_WEBHOOK_SECRET": "whsec_x", "POPS_SECRET_KEY": SECRET})
    gateway = from_settings(live)
    assert gateway.name == "stripe" and gateway.live and "sandbox" in gateway.others


def test_pops_serve_refuses_production_without_a_gateway(db_url, monkeypatch, capsys):
    for name in ("POPS_GATEWAY", "POPS_ENV", "POPS_STRIPE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POPS_DATABASE_URL", db_url)
    monkeypatch.setenv("POPS_SECRET_KEY", SECRET)
    assert cli.main(["serve", "--port", "1"]) == 2
    assert "POPS_GATEWAY is not set" in capsys.readouterr().err


def test_the_csp_lets_the_pay_form_reach_stripe_and_each_test_origin(db_url, stripe_server):
    with open_browser(create_app(stripe_settings(db_url, stripe_server))) as client:
        csp = client.get("/healthz").headers["content-security-policy"]
    action = next(part for part in csp.split("; ") if part.startswith("form-action"))
    assert action.split() == ["form-action", "'self'", "https://checkout.stripe.com", "https://hooks.stripe.com",
                              stripe_server.checkout_origin, stripe_server.three_ds_origin]
    assert stripe_server.checkout_origin != stripe_server.three_ds_origin
    sandbox = create_app(Settings(database_url=db_url, secret_key=SECRET, environment="test"))
    with open_browser(sandbox) as client:
        assert "form-action 'self';" in client.get("/healthz").headers["content-security-policy"]


def test_the_settle_command_uses_the_configured_gateway(db_url, account, stripe_server, monkeypatch, capsys):
    settings = stripe_settings(db_url, stripe_server)
    for name, value in (("POPS_DATABASE_URL", db_url), ("POPS_SECRET_KEY", SECRET), ("POPS_ENV", "test"),
                        ("POPS_GATEWAY", "stripe"), ("POPS_STRIPE_SECRET_KEY", settings.stripe_secret_key),
                        ("POPS_STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret),
                        ("POPS_STRIPE_API_BASE", settings.stripe_api_base)):
        monkeypatch.setenv(name, value)
    gateway = from_settings(settings)
    session = PatientSession.get_by_id(patient_session(account)[1].id)
    started = payments.start(gateway, session, key=payments.new_key(), seq=account.payment_seq,
                             account=account.account, choice="amount_due", return_url="unused")
    stripe_server.pay_session(started.attempt.gateway_checkout, "4242 4242 4242 4242")
    clock.advance(minutes=5)
    assert cli.main(["payments", "settle"]) == 0
    assert "paid: 1" in capsys.readouterr().out
    assert PaymentAttempt.get().status == "paid"


def test_a_payment_the_sandbox_took_is_refunded_by_the_sandbox_and_says_so(db_url, account, stripe_server):
    sandbox = SandboxGateway(SECRET, "http://testserver")
    session = PatientSession.get_by_id(patient_session(account)[1].id)
    started = payments.start(sandbox, session, key=payments.new_key(), seq=account.payment_seq,
                             account=account.account, choice="amount_due", return_url="http://testserver/r")
    checkout = SandboxCheckout.get(SandboxCheckout.token == started.attempt.gateway_checkout)
    checkout.pay("approve", "Visa", "4242", expiry=(12, 2030))
    payments.complete(sandbox, started.attempt, sandbox.result_token(checkout))
    receipt = Receipt.get(Receipt.status == "paid")
    assert Transaction.get(Transaction.receipt == receipt).gateway == "sandbox"

    app = create_app(stripe_settings(db_url, stripe_server))  # the practice moves to Stripe
    with open_browser(app) as desk:
        give_staff_session(desk, make_staff())
        page = desk.get(f"/staff/receipts/{receipt.number}").text
        assert "Made in the sandbox" in page
        response = post_form(desk, f"/staff/receipts/{receipt.number}/refund",
                             {"amount": "10.00", "key": "sandbox-refund-key-0123456789"})
        assert response.status_code == 303
    assert SandboxRefund.get().amount == Decimal("10.00") and not stripe_server.objects("refund")
    refund = Transaction.get(Transaction.kind == "refund")
    assert refund.gateway == "sandbox" and refund.number.startswith("sbx_re_")


def pay_with_the_sandbox(client) -> None:
    """$5.00 paid on the sandbox's card page, and back at POPS."""
    page = client.get("/pay").text
    form = {name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1) for name in ("key", "seq", "account")}
    started = post_form(client, "/pay/start", {**form, "amount": "other", "other_amount": "5.00"})
    assert started.status_code == 303, started.text
    hosted = client.post(urlsplit(started.headers["location"]).path,
                         data={"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"})
    back = urlsplit(hosted.headers["location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 303


def test_production_on_the_sandbox_says_test_mode_on_every_page(db_url, account):
    from http_helpers import sign_in_as

    chosen = Settings.from_env({"POPS_GATEWAY": "sandbox", "POPS_DATABASE_URL": db_url, "POPS_SECRET_KEY": SECRET,
                                "POPS_BASE_URL": "http://testserver"})
    assert chosen.environment == "production"
    with open_browser(create_app(chosen)) as client:
        sign_in_as(client, account)
        for path in ("/pay", "/receipts", "/"):
            assert "TEST MODE" in client.get(path, follow_redirects=True).text, path
        Group.update(email_receipts=True).execute()
        paid = Receipt.select().count()
        pay_with_the_sandbox(client)
        assert Receipt.select().count() == paid + 1
        email = OutboxMessage.get(OutboxMessage.purpose == "receipt")
        assert email.body.startswith("TEST MODE: payments go to the sandbox gateway")  # the emailed receipt too
    with open_browser(create_app(Settings(database_url=db_url, secret_key=SECRET, environment="test",
                                          base_url="http://testserver"))) as client:
        sign_in_as(client, account)
        assert "TEST MODE" not in client.get("/pay").text
        pay_with_the_sandbox(client)
        latest = OutboxMessage.select().where(OutboxMessage.purpose == "receipt").order_by(OutboxMessage.id.desc()).get()
        assert latest.id != email.id and "TEST MODE" not in latest.body
