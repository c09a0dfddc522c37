"""The payment crash test: the real server kills itself (SIGKILL) at a point of a payment, is started
again, the settle job runs and the patient comes back. Then every approved charge at the gateway has
exactly one receipt, no receipt lacks its charge, and no attempt is left unsettled.

The points (POPS_CRASH_AT, pops.crash): "after_attempt" (the attempt committed, the gateway not yet
called), "after_gateway" (the gateway answered a checkout or a stored-card charge, POPS has not
recorded it), "during_return" (back from the hosted page, the result confirmed at the gateway, not
recorded). The server runs on this test's database: SQLite, or POPS_TEST_DATABASE_URL.
"""
from __future__ import annotations

import datetime as dt
import html
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest

from pops import clock, crash, links
from pops.app import create_app
from pops.gateways.sandbox_tables import SandboxCardToken, SandboxCharge
from pops.models import Group, PaymentAttempt, Receipt, StoredCard
from pops.settings import Settings, SettingsError

from factories import make_encounter, make_guarantor, make_patient, make_statement, patient_session

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(36)
APPROVED = {"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
STARTUP_SECONDS = 20


# --- the setting: only a test environment takes it ------------------------------------------------

@pytest.mark.parametrize("environment", ["production", "development"])
def test_crash_at_is_refused_outside_a_test_environment(environment):
    with pytest.raises(SettingsError, match="POPS_CRASH_AT"):
        Settings.from_env({"POPS_ENV": environment, "POPS_CRASH_AT": crash.AFTER_ATTEMPT})


def test_crash_at_names_a_known_point():
    with pytest.raises(SettingsError, match="after_attempt, after_gateway, during_return"):
        Settings.from_env({"POPS_ENV": "test", "POPS_CRASH_AT": "before_lunch"})
    assert Settings.from_env({"POPS_ENV": "test", "POPS_CRASH_AT": "during_return"}).crash_at == "during_return"
    assert Settings.from_env({"POPS_ENV": "test"}).crash_at is None


def test_only_an_app_in_a_test_environment_arms_its_crash_point(db_url, monkeypatch):
    kills = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    try:
        for environment in ("production", "test"):
            create_app(Settings(database_url=db_url, secret_key=SECRET, environment=environment,
                                crash_at=crash.AFTER_ATTEMPT))
            crash.point(crash.AFTER_GATEWAY)
            crash.point(crash.AFTER_ATTEMPT)
    finally:
        crash.arm(None)
    assert kills == [(os.getpid(), signal.SIGKILL)]


# --- the server ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`pops serve` on one port and database, started, killed and started again by the test."""

    def __init__(self, db_url: str, tmp: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
        self.env.update(POPS_DATABASE_URL=db_url, POPS_SECRET_KEY=SECRET, POPS_ENV="test", POPS_BASE_URL=self.url,
                        POPS_DATA_DIR=str(tmp / "data"), PYTHONUNBUFFERED="1")
        self.log_path = tmp / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self, crash_at: str | None = None) -> None:
        env = {**self.env, **({"POPS_CRASH_AT": crash_at} if crash_at else {})}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pops", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._healthy():
            assert self.process.poll() is None, f"the server exited {self.process.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"the server did not answer /healthz:\n{self.log()}"
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def died(self) -> int:
        """The return code of a server that is going down (its last request killed it)."""
        return self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def settle(self) -> str:
        done = subprocess.run([sys.executable, "-m", "pops", "payments", "settle", "--older-than", "0"],
                              env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def server(db_url, tmp_path):
    served = Server(db_url, tmp_path)
    yield served
    served.stop()


@pytest.fixture
def real_time():
    """The server runs on the real clock: rows made here (sessions, links) are made on it too."""
    clock.reset()


@pytest.fixture
def owing(db, real_time):
    """C300, $40.00 due, with a card on file at the gateway (signed-in patients may charge it)."""
    group = Group.create(code="CRS", name="Crash Test Clinic", timezone="America/Chicago",
                         enable_payment_method_storage=True)
    guarantor = make_guarantor(group, "C300", "Cora", "Stone", dt.date(1980, 3, 4))
    make_encounter(guarantor, "E1", patient=make_patient(guarantor), date=dt.date(2026, 9, 1), charge="40.00")
    make_statement(guarantor, "S-C300", date=dt.date(2026, 10, 1), balance="40.00")
    token = SandboxCardToken.create(token="sbx_card_crash", brand="Visa", last4="4242", exp_month=12, exp_year=2030,
                                    behaviour="approve")
    StoredCard.create(guarantor=guarantor, gateway_token=token.token, brand="Visa", last4="4242", exp_month=12,
                      exp_year=2030)
    return guarantor


# --- the patient's browser ---------------------------------------------------------------------

def browser(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=10, headers={"Origin": server.url})


def pay_form(client, path: str) -> dict:
    """The pay form's fields as `path` shows it now; {} when there is nothing to pay."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    if 'action="/pay/start"' not in page.text:
        return {}
    form = page.text[page.text.index('action="/pay/start"'):]
    form = form[:form.index("</form>")]
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form)}


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def follow(client, response) -> httpx.Response:
    """Follow the patient through: pay on the hosted page if sent there, back to POPS, to the result."""
    while response.status_code == 303:
        where = local(response.headers["location"])
        if where.startswith("/sandbox-gateway/checkout/") and "/cancel" not in where:
            response = client.post(where, data=APPROVED)
        else:
            response = client.get(where)
    return response


def send(client, request: tuple[str, str, dict | None]) -> httpx.Response:
    method, url, data = request
    return client.request(method, url, data=data)


def killed_by(server, client, request) -> None:
    """The server dies on `request`: no answer, and the process is gone by SIGKILL."""
    with pytest.raises(httpx.TransportError):
        send(client, request)
    assert server.died() == -signal.SIGKILL, server.log()


# --- the test ------------------------------------------------------------------------------------

def charges_and_receipts_match() -> list[Receipt]:
    charges = [c.transaction for c in SandboxCharge.select().where(SandboxCharge.status == "approved")]
    receipts = list(Receipt.select().where(Receipt.source == Receipt.POPS))
    numbers = Counter(r.transactions.get().number for r in receipts)
    assert sorted(numbers) == sorted(charges), "every approved charge has a receipt and every receipt a charge"
    assert set(numbers.values()) <= {1} and len(charges) == len(set(charges)), "nothing recorded twice"
    assert PaymentAttempt.select().where(PaymentAttempt.status.in_(PaymentAttempt.OPEN)).count() == 0
    return receipts


@pytest.mark.parametrize("point, card, first_attempt", [
    (crash.AFTER_ATTEMPT, "new", "canceled"),  # nothing at the gateway: the settle job closes it
    (crash.AFTER_GATEWAY, "new", "paid"),  # the checkout stays open: the resent form reaches it
    (crash.AFTER_GATEWAY, "saved", "paid"),  # the card was charged: the settle job records it
    (crash.DURING_RETURN, "new", "paid"),  # the result was confirmed: the settle job records the charge
], ids=["after_attempt", "after_gateway-checkout", "after_gateway-saved_card", "during_return"])
def test_a_crash_loses_no_payment_and_records_none_twice(server, owing, point, card, first_attempt, request):
    client = browser(server)
    request.addfinalizer(client.close)
    server.start(crash_at=point)
    if card == "new":
        code, _ = links.mint(owing, "sms", SECRET)
        assert client.get(f"/q/{code}").status_code == 303
        page = "/quickpay"
    else:
        token, _ = patient_session(owing)  # signed in with a code: may charge the card on file
        client.cookies.set("pops_session", token)
        page = "/pay"
    form = {**pay_form(client, page), "amount": "amount_due",
            "card": "new" if card == "new" else str(StoredCard.get().id)}

    if point == crash.DURING_RETURN:
        hosted = client.post("/pay/start", data=form)
        back = client.post(local(hosted.headers["location"]), data=APPROVED)
        assert back.status_code == 303 and "/pay/return/" in back.headers["location"]
        interrupted = ("GET", local(back.headers["location"]), None)  # reloaded once the server is back
    else:
        interrupted = ("POST", "/pay/start", form)  # resent by the browser once the server is back
    killed_by(server, client, interrupted)
    attempt = PaymentAttempt.get()
    assert attempt.receipt_id is None and Receipt.select().count() == 0

    server.start()
    server.settle()
    result = follow(client, send(client, interrupted))
    assert result.status_code == 200, result.text
    assert PaymentAttempt.get_by_id(attempt.id).status == first_attempt
    if form := pay_form(client, page):  # still owing: the patient pays afresh
        follow(client, client.post("/pay/start", data={**form, "amount": "amount_due", "card": "new"}))
    assert server.settle() == "nothing to settle"

    receipts = charges_and_receipts_match()
    assert [(r.amount, r.status) for r in receipts] == [(Decimal("40.00"), Receipt.PAID)]
    paid = PaymentAttempt.get(PaymentAttempt.receipt == receipts[0])
    assert "Payment received" in client.get(f"/pay/result/{paid.key}").text
