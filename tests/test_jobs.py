"""Jobs outside requests: a request only records; the job runner sends, retries on schedule and settles."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import sqlite3
import threading
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from pops import clock, jobs, migrate, notify, otp
from pops.app import create_app
from pops.db import open_database
from pops.db import database
from pops.models import AuditLog, Group, JobLease, OutboxMessage, PaymentAttempt, Receipt, StoredCard

from factories import make_encounter, make_patient, make_staff, make_statement
from http_helpers import open_browser, post_form, sign_in_as, staff_login
from smtp_helpers import silent_server, smtp_server

FAST = 2.0  # seconds: a request that waited on a mail server would take SEND_TIMEOUT at least
RETRY_MINUTES = [1, 5, 15, 60, 240]


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the probe is closed


@pytest.fixture
def account(guarantor):
    Group.update(email_receipts=True).execute()
    leo = make_patient(guarantor, "P1", "Leo", "Lopez")
    make_encounter(guarantor, "E1", patient=leo, date=dt.date(2026, 9, 1), provider="Dr. Ada Stone", charge="50.00")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="50.00")
    return guarantor


def _pay_form(client, page="/quickpay") -> dict:
    html = client.get(page).text
    return {name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1) for name in ("key", "seq", "account")}


# --- no patient waits on a mail server ------------------------------------------------------

def test_the_code_page_and_the_pay_return_answer_while_the_mail_server_hangs(settings, account, monkeypatch):
    monkeypatch.setattr(notify, "SEND_TIMEOUT", 0.5)
    with silent_server() as hung:
        app = create_app(dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{hung['port']}"))
        with open_browser(app) as client:
            post_form(client, "/login", {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "1981-04-12"})
            began = time.monotonic()
            answer = post_form(client, "/login/send", {"destination": "0:email"})
            assert answer.status_code == 303 and answer.headers["location"] == "/login/code"
            assert time.monotonic() - began < FAST
            assert hung["accepted"] == []  # the request never even opened the mail server's socket

            sign_in_as(client, account, quickpay=True)
            started = post_form(client, "/pay/start", {**_pay_form(client), "amount": "amount_due", "other_amount": ""})
            hosted = client.post(urlsplit(started.headers["location"]).path,
                                 data={"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"})
            back = urlsplit(hosted.headers["location"])
            began = time.monotonic()
            returned = client.get(f"{back.path}?{back.query}")
            assert returned.status_code == 303 and time.monotonic() - began < FAST
            assert hung["accepted"] == [] and Receipt.get().amount == Decimal("50.00")

        code, receipt = OutboxMessage.select().order_by(OutboxMessage.id)
        assert (code.purpose, receipt.purpose) == ("sign_in", "receipt")
        assert {m.status for m in (code, receipt)} == {OutboxMessage.OUTBOX}

        # the job meets the hanging server: it waits, not the patient, and tries again in a minute
        assert jobs.deliver_outbox(app.state.settings) == 0
        assert hung["accepted"] and hung["read"] == b""
        assert [m.attempts for m in OutboxMessage.select()] == [1, 1]

    with smtp_server() as mail:  # the mail server answers now
        answering = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")
        assert jobs.deliver_outbox(answering) == 0  # not before the retry is due
        clock.advance(minutes=1)
        assert jobs.deliver_outbox(answering) == 2
        assert [m.status for m in OutboxMessage.select()] == [OutboxMessage.SENT] * 2
        assert len(mail.received) == 2
        assert re.search(r"\d{6} is your .* sign-in code", mail.received[0]["data"])
        assert jobs.deliver_outbox(answering) == 0 and len(mail.received) == 2  # nothing sent twice


def test_home_and_receipts_never_ask_the_gateway(client, app, account, monkeypatch):
    sign_in_as(client, account)
    started = post_form(client, "/pay/start", {**_pay_form(client, "/pay"), "amount": "amount_due", "other_amount": ""})
    client.post(urlsplit(started.headers["location"]).path,
                data={"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"})  # paid; the tab closed

    def no_calls(*args, **kwargs):
        raise AssertionError("a GET asked the gateway")

    monkeypatch.setattr(app.state.gateway, "lookup", no_calls)
    assert client.get("/home").status_code == 200
    assert client.get("/receipts").status_code == 200
    assert Receipt.select().count() == 0
    monkeypatch.undo()
    clock.advance(minutes=3)  # the settle job leaves younger attempts to the patient's own return
    jobs.run_once(app.state.settings, app.state.gateway)
    receipt = Receipt.get()
    assert receipt.number in client.get("/receipts").text
    assert PaymentAttempt.get().status == PaymentAttempt.PAID


def test_a_stored_card_charge_without_an_answer_shows_as_pending_from_the_database(client, app, account):
    sign_in_as(client, account)
    attempt = PaymentAttempt.create(key="k" * 20, guarantor=account, entrance="portal", amount=Decimal("25.00"),
                                    amount_choice="other", status=PaymentAttempt.PENDING, created_at=clock.now(),
                                    updated_at=clock.now(), gateway_checkout="co_1")
    assert 'data-testid="pending-payment"' not in client.get("/receipts").text  # a checkout: the job's to find out
    card = StoredCard.create(guarantor=account, gateway_token="tok", brand="Visa", last4="4242", exp_month=12,
                             exp_year=2030, created_at=clock.now())
    PaymentAttempt.update(stored_card=card).where(PaymentAttempt.id == attempt.id).execute()
    assert 'data-testid="pending-payment"' in client.get("/receipts").text
    assert "Your payment of $25.00 is being confirmed" in client.get("/home").text


# --- the delivery rules -----------------------------------------------------------------------

def test_a_failing_email_is_retried_on_the_schedule_then_failed_and_shown_to_staff(settings, client, guarantor):
    broken = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{_closed_port()}")
    message = notify.queue_email("maria@example.org", "Your receipt", "Thanks", purpose="receipt", guarantor=guarantor)
    tried_at = []
    for waits in [*RETRY_MINUTES, None]:
        before = OutboxMessage.get_by_id(message.id).attempts
        assert jobs.deliver_outbox(broken) == 0
        row = OutboxMessage.get_by_id(message.id)
        assert row.attempts == before + 1 and row.error
        tried_at.append(clock.now())
        if waits is None:
            break
        assert row.status == OutboxMessage.OUTBOX and row.next_attempt_at == clock.now() + dt.timedelta(minutes=waits)
        clock.advance(minutes=waits, seconds=-1)
        jobs.deliver_outbox(broken)
        assert OutboxMessage.get_by_id(message.id).attempts == before + 1  # not due yet
        clock.advance(seconds=1)
    assert [round((b - a).total_seconds() / 60) for a, b in zip(tried_at, tried_at[1:])] == RETRY_MINUTES
    row = OutboxMessage.get_by_id(message.id)
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxMessage.FAILED, OutboxMessage.MAX_TRIES, None)
    clock.advance(days=1)
    jobs.deliver_outbox(broken)
    assert OutboxMessage.get_by_id(message.id).attempts == 6  # failed: no more tries until staff retry

    staff = make_staff()
    staff_login(client, staff)
    page = client.get("/staff/outbox").text
    assert row.error in page and 'data-testid="outbox-retry"' in page and f"/staff/outbox/{row.id}/retry" in page
    answer = post_form(client, f"/staff/outbox/{row.id}/retry")
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/outbox"
    row = OutboxMessage.get_by_id(message.id)
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxMessage.OUTBOX, 0, None)
    [entry] = AuditLog.select().where(AuditLog.action == "outbox_retry")
    assert entry.staff_id == staff.id and f"#{row.id}" in entry.detail
    assert 'data-testid="outbox-retry"' not in client.get("/staff/outbox").text
    assert post_form(client, f"/staff/outbox/{row.id}/retry").status_code == 303  # not failed: nothing to retry
    assert AuditLog.select().where(AuditLog.action == "outbox_retry").count() == 1
    with smtp_server() as mail:
        assert jobs.deliver_outbox(dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")) == 1
    assert OutboxMessage.get_by_id(message.id).status == OutboxMessage.SENT


@pytest.mark.parametrize("first_try_fails", [False, True])
def test_a_sign_in_code_is_never_sent_after_it_expires(settings, guarantor, first_try_fails):
    with database.atomic():
        otp.send_code(guarantor, "email", "maria@example.org", purpose="sign_in", secret_key="s" * 40)
    if first_try_fails:
        jobs.deliver_outbox(dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{_closed_port()}"))
    clock.advance(minutes=10)
    with smtp_server() as mail:
        assert jobs.deliver_outbox(dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")) == 0
        assert mail.received == []
    assert OutboxMessage.get().status == OutboxMessage.EXPIRED


def test_a_code_still_good_goes_out(settings, guarantor):
    with database.atomic():
        otp.send_code(guarantor, "email", "maria@example.org", purpose="sign_in", secret_key="s" * 40)
    clock.advance(minutes=9)
    with smtp_server() as mail:
        assert jobs.deliver_outbox(dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")) == 1
    assert OutboxMessage.get().status == OutboxMessage.SENT


# --- the runner -------------------------------------------------------------------------------

def test_serve_runs_the_jobs_in_its_lifespan_and_tests_do_not(settings, guarantor):
    if os.environ.get("POPS_TEST_DATABASE_URL"):
        pytest.skip("on PostgreSQL `pops worker` runs the jobs (tests/test_queue.py)")
    with smtp_server() as mail:
        mailing = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")
        notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
        with open_browser(create_app(mailing)):
            time.sleep(jobs.runner.POLL_SECONDS * 2.5)
            assert mail.received == [] and OutboxMessage.get().status == OutboxMessage.OUTBOX
        with open_browser(create_app(mailing, jobs=True)):
            deadline = time.monotonic() + 10
            while OutboxMessage.get().status != OutboxMessage.SENT:
                assert time.monotonic() < deadline, "the app's job runner did not send the message"
                time.sleep(0.05)
        assert len(mail.received) == 1
    assert JobLease.get().until is None  # released when the app stopped


@pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"), reason="needs PostgreSQL (POPS_TEST_DATABASE_URL)")
def test_serve_on_postgresql_only_records_and_leaves_the_jobs_to_pops_worker(settings, guarantor):
    with smtp_server() as mail:
        mailing = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")
        notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
        with open_browser(create_app(mailing, jobs=True)):
            time.sleep(jobs.runner.POLL_SECONDS * 2.5)
        assert mail.received == [] and OutboxMessage.get().status == OutboxMessage.OUTBOX
    assert JobLease.select().count() == 0  # no runner took the lease


def test_one_runner_holds_the_lease_at_a_time(db):
    assert jobs.take_lease("a") and jobs.take_lease("a")
    assert not jobs.take_lease("b")
    clock.advance(jobs.runner.LEASE + dt.timedelta(seconds=1))
    assert jobs.take_lease("b") and not jobs.take_lease("a")  # a lapsed lease is taken over
    jobs.release_lease("b")
    assert jobs.take_lease("a")


def test_pops_jobs_lists_unsent_messages_and_open_payments(guarantor):
    from pops.jobs import listing

    notify.queue_sms("+15555550123", "Pay here", purpose="balance", guarantor=guarantor)
    failed = notify.queue_email("maria@example.org", "Receipt", "Thanks", purpose="receipt", guarantor=guarantor)
    OutboxMessage.update(status=OutboxMessage.FAILED, attempts=6, error="550 no such user").where(
        OutboxMessage.id == failed.id).execute()
    text = listing.text()
    assert "sms to +15555550123 [balance]: due" in text
    assert "failed after 6 tries  (550 no such user)" in text
    assert "Payments not settled (0):\n  none" in text


# --- on upgrade -------------------------------------------------------------------------------

def test_on_upgrade_old_unsent_messages_and_expired_codes_are_never_sent(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__", "0005_*"))
    path = tmp_path / "old.sqlite3"
    old = open_database(f"sqlite:///{path}")
    migrate.upgrade(old, directory)
    old.close()
    now = clock.now().replace(tzinfo=None)
    rows = [  # (purpose, status, age)
        ("receipt", "outbox", dt.timedelta(hours=25)),
        ("receipt", "outbox", dt.timedelta(hours=23)),
        ("sign_in", "outbox", dt.timedelta(minutes=11)),
        ("sign_in", "outbox", dt.timedelta(minutes=4)),
        ("receipt", "sent", dt.timedelta(hours=30)),
    ]
    with sqlite3.connect(path) as raw:
        for purpose, status, age in rows:
            raw.execute("INSERT INTO outbox_message (created_at, channel, recipient, subject, body, purpose, status, error)"
                        " VALUES (?, 'email', 'm@example.org', '', 'x', ?, ?, '')",
                        ((now - age).isoformat(sep=" "), purpose, status))
    shutil.copy(migrate.MIGRATIONS_DIR / "0005_outbox_retries.py", directory)
    upgraded = open_database(f"sqlite:///{path}")
    assert migrate.upgrade(upgraded, directory) == ["0005_outbox_retries"]
    upgraded.close()
    with sqlite3.connect(path) as raw:
        found = raw.execute("SELECT status, expires_at FROM outbox_message ORDER BY id").fetchall()
    assert [status for status, _ in found] == ["expired", "outbox", "expired", "outbox", "sent"]
    assert found[3][1] is not None and found[1][1] is None  # the code still good expires with its code


# --- several workers (PostgreSQL) -------------------------------------------------------------

def test_pops_worker_refuses_sqlite_and_says_why(tmp_path, monkeypatch, capsys):
    from pops import cli

    monkeypatch.setenv("POPS_DATABASE_URL", f"sqlite:///{tmp_path}/w.sqlite3")
    monkeypatch.setenv("POPS_SECRET_KEY", "k" * 40)
    assert cli.main(["worker"]) == 2
    assert "pops worker needs PostgreSQL" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"), reason="needs PostgreSQL (POPS_TEST_DATABASE_URL)")
def test_workers_in_parallel_never_send_the_same_message_twice(settings, guarantor):
    for i in range(40):
        notify.queue_email(f"patient{i}@example.org", "Hello", f"message {i}", purpose="test", guarantor=guarantor)
    with smtp_server() as mail:
        mailing = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.server_address[1]}")
        start = threading.Barrier(4)
        counts: list[int] = []

        def worker() -> None:
            with database.connection_context():
                start.wait()
                counts.append(jobs.deliver_outbox(mailing))

        database.close()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        database.connect(reuse_if_open=True)
        recipients = [re.search(r"patient\d+@example.org", m["rcpt"][0]).group(0) for m in mail.received]
    assert sum(counts) == 40 and len(recipients) == 40 and len(set(recipients)) == 40
    assert OutboxMessage.select().where(OutboxMessage.status == OutboxMessage.SENT).count() == 40
