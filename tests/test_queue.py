"""The job queue on PostgreSQL (procrastinate): jobs deferred in the message's own transaction, run by
real `pops worker` processes, retried on schedule, never sent twice, and taken back from a worker
killed mid-job. SQLite has no queue: `pops serve` runs the jobs (tests/test_jobs.py)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import shutil

import pytest

from pops import clock, crash, migrate, notify
from pops.db import database, open_database
from pops.gateways.sandbox_tables import SandboxCharge
from pops.jobs import queue
from pops.models import Group, OutboxMessage, PaymentAttempt, Receipt

from factories import make_encounter, make_patient, make_statement
from http_helpers import open_browser, post_form, sign_in_as
from smtp_helpers import smtp_server

pytestmark = pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"),
                                reason="the queue needs PostgreSQL (POPS_TEST_DATABASE_URL)")

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(36)
RETRY_MINUTES = [1, 5, 15, 60, 240]


def _jobs(task: str = queue.DELIVER) -> list[dict]:
    cursor = database.execute_sql(
        "SELECT id, status, lock, args, scheduled_at FROM procrastinate_jobs WHERE task_name = %s ORDER BY id", (task,))
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env.update(POPS_DATABASE_URL=db_url, POPS_SECRET_KEY=SECRET, POPS_ENV="test",
               POPS_BASE_URL="http://pops.test", PYTHONUNBUFFERED="1", **extra)
    return env


def _worker(db_url: str, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pops", "worker", *args], env=_env(db_url, **env), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run_worker_until_idle(db_url: str, **env: str) -> str:
    process = _worker(db_url, "--until-idle", **env)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return out


# --- a job is deferred in its message's transaction -------------------------------------------------

def test_a_message_and_its_job_commit_together_or_not_at_all(db, guarantor):
    with database.atomic():
        kept = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
    try:
        with database.atomic():
            notify.queue_email("leo@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
            raise RuntimeError("the unit of work fails after queueing")
    except RuntimeError:
        pass
    assert [m.id for m in OutboxMessage.select()] == [kept.id]
    assert [(j["lock"], j["args"], j["status"]) for j in _jobs()] == [(f"outbox:{kept.id}", {"message_id": kept.id}, "todo")]


_KILLED_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pops import db, notify
    from pops.models import Guarantor
    db.bind(sys.argv[1]).connect()
    with db.database.atomic():
        notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=Guarantor.get())
        if sys.argv[2] == "before_commit":
            os.kill(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before anything else
""")


@pytest.mark.parametrize("when, kept", [("before_commit", 0), ("after_commit", 1)])
def test_a_process_killed_around_the_commit_leaves_no_message_without_its_job(db_url, db, guarantor, when, kept):
    killed = subprocess.run([sys.executable, "-c", _KILLED_SCRIPT, db_url, when], cwd=ROOT, env=_env(db_url),
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert OutboxMessage.select().count() == kept and len(_jobs()) == kept


def test_an_unsent_message_without_a_job_gets_one_from_the_sweep(db, settings, guarantor):
    message = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
    database.execute_sql("DELETE FROM procrastinate_jobs")  # as after an upgrade, or a job deleted by hand
    mailing = dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:25")
    assert notify.sweep(settings) == 0  # no mail server set up: the message waits in the outbox, jobless
    assert notify.sweep(mailing) == 1 and notify.sweep(mailing) == 0
    assert [j["lock"] for j in _jobs()] == [f"outbox:{message.id}"]


def test_the_periodic_sweep_task_queues_a_jobless_message(db, settings, guarantor):
    from pops.gateways.sandbox import SandboxGateway
    from pops.jobs import tasks

    message = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
    database.execute_sql("DELETE FROM procrastinate_jobs")
    tasks.configure(dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:25"),
                    SandboxGateway(settings.secret_key, settings.base_url))
    tasks.sweep_outbox(timestamp=0)  # the worker's every-minute run, called as the worker calls it
    database.connect(reuse_if_open=True)
    assert [j["lock"] for j in _jobs()] == [f"outbox:{message.id}"]



def test_every_minute_task_runs_as_the_worker_calls_it(db, settings, guarantor):
    from pops.gateways.sandbox import SandboxGateway
    from pops.jobs import tasks

    tasks.configure(settings, SandboxGateway(settings.secret_key, settings.base_url))
    for task in (tasks.settle_payments, tasks.charge_plans, tasks.send_reminders, tasks.sweep_outbox):
        task(timestamp=0)  # a wrong call (a missing argument, a renamed function) fails here, not every minute in production
    database.connect(reuse_if_open=True)


def test_pops_jobs_lists_the_queue(db, guarantor):
    from pops.jobs import listing

    message = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="receipt", guarantor=guarantor)
    text = listing.text()
    assert f"pops.deliver_message(message_id={message.id}): queued" in text
    assert "email to maria@example.org [receipt]: due" in text


def test_on_upgrade_each_unsent_message_gets_one_job(tmp_path):
    name = f"pops_upgrade_{secrets.token_hex(4)}"
    admin = open_database(_admin_url())
    admin.connect()
    admin.execute_sql(f"CREATE DATABASE {name}")
    url = f"{_admin_url().rsplit('/', 1)[0]}/{name}"
    try:
        directory = tmp_path / "migrations"
        shutil.copytree(migrate.MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__", "00[0-9][6-9]_*", "001*"))
        old = open_database(url)
        migrate.upgrade(old, directory)
        old.execute_sql("INSERT INTO outbox_message (channel, recipient, subject, body, purpose, status, attempts, error, created_at)"
                        " VALUES ('email', 'a@example.org', 's', 'b', 'receipt', 'outbox', 0, '', now()),"
                        " ('email', 'b@example.org', 's', 'b', 'receipt', 'sent', 1, '', now()),"
                        " ('sms', '+15555550123', '', 'b', 'balance', 'outbox', 2, '', now())")
        migrate.upgrade(old)
        jobs = old.execute_sql("SELECT lock, args FROM procrastinate_jobs ORDER BY id").fetchall()
        assert jobs == [("outbox:1", {"message_id": 1}), ("outbox:3", {"message_id": 3})]
        old.close()
    finally:
        admin.execute_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def _admin_url() -> str:
    return os.environ["POPS_TEST_DATABASE_URL"]


# --- real workers ------------------------------------------------------------------------------------

def test_pops_worker_sends_the_queue_with_a_stable_message_id(db_url, db, guarantor):
    queued = [notify.queue_email(f"patient{i}@example.org", "Hello", f"message {i}", purpose="test",
                                 guarantor=guarantor) for i in range(3)]
    with smtp_server() as mail:
        _run_worker_until_idle(db_url, POPS_SMTP_URL=f"smtp://127.0.0.1:{mail.server_address[1]}")
        ids = sorted(re.search(r"Message-ID: <(pops-outbox-\d+-\d+)@pops.test>", m["data"]).group(1)
                     for m in mail.received)
    assert ids == sorted(notify.message_key(m) for m in queued)
    assert OutboxMessage.select().where(OutboxMessage.status == OutboxMessage.SENT).count() == 3
    assert {j["status"] for j in _jobs()} == {"succeeded"}


def test_two_workers_in_parallel_send_each_message_once(db_url, db, guarantor):
    for i in range(40):
        notify.queue_email(f"patient{i}@example.org", "Hello", f"message {i}", purpose="test", guarantor=guarantor)
    with smtp_server() as mail:
        smtp = f"smtp://127.0.0.1:{mail.server_address[1]}"
        workers = [_worker(db_url, "--concurrency", "4", POPS_SMTP_URL=smtp) for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while OutboxMessage.select().where(OutboxMessage.status == OutboxMessage.SENT).count() < 40:
                assert time.monotonic() < deadline, "the workers did not send the queue"
                assert all(w.poll() is None for w in workers), [w.communicate()[0] for w in workers]
                time.sleep(0.1)
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            outputs = [w.communicate(timeout=30)[0] for w in workers]
        recipients = [re.search(r"patient\d+@example.org", m["rcpt"][0]).group(0) for m in mail.received]
    assert len(recipients) == 40 and len(set(recipients)) == 40, outputs
    assert all(w.returncode == 0 for w in workers), outputs


def test_a_failing_email_is_retried_by_its_own_job_on_schedule_then_fails(db, settings, guarantor, frozen_clock):
    message = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
    broken = dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:9")  # nothing listens on the discard port
    for minutes in RETRY_MINUTES:
        before = dt.datetime.now(dt.timezone.utc)
        assert notify.deliver_one(broken, message.id) is False
        follow_up = _jobs()[-1]
        assert follow_up["status"] == "todo"
        delay = (follow_up["scheduled_at"] - before).total_seconds()
        assert minutes * 60 - 5 <= delay <= minutes * 60 + 5  # run by the queue's clock as many seconds later
        assert notify.deliver_one(broken, message.id) is False  # not due yet: not tried again
        clock.advance(minutes=minutes)
    assert notify.deliver_one(broken, message.id) is False
    message = OutboxMessage.get_by_id(message.id)
    assert message.status == OutboxMessage.FAILED and message.attempts == 6
    assert len(_jobs()) == 1 + len(RETRY_MINUTES)  # no job after the last try


def test_a_code_is_not_sent_by_its_job_once_expired(db, settings, guarantor, frozen_clock):
    message = notify.queue_email("maria@example.org", "Your code", "123456", purpose="sign_in", guarantor=guarantor,
                                 expires_at=clock.now() + dt.timedelta(minutes=10))
    clock.advance(minutes=11)
    assert notify.deliver_one(dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:9"), message.id) is False
    assert OutboxMessage.get_by_id(message.id).status == OutboxMessage.EXPIRED


def test_a_staff_retry_of_a_failed_message_queues_a_job(db, guarantor):
    message = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
    OutboxMessage.update(status=OutboxMessage.FAILED, attempts=6).execute()
    database.execute_sql("UPDATE procrastinate_jobs SET status = 'failed'")
    assert notify.retry(OutboxMessage.get_by_id(message.id))
    assert [j["status"] for j in _jobs()] == ["failed", "todo"]


# --- a worker killed mid-job --------------------------------------------------------------------------

@pytest.fixture
def paid_but_not_recorded(settings, guarantor):
    """A hosted checkout the patient paid at the gateway, never back at POPS (the tab was closed)."""
    Group.update(email_receipts=False).execute()
    leo = make_patient(guarantor, "P1", "Leo", "Lopez")
    make_encounter(guarantor, "E1", patient=leo, date=dt.date(2026, 9, 1), provider="Dr. Ada Stone", charge="50.00")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10), balance="50.00")
    from pops.app import create_app

    with open_browser(create_app(settings)) as client:
        sign_in_as(client, guarantor, quickpay=True)
        page = client.get("/quickpay").text
        form = {name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1) for name in ("key", "seq", "account")}
        started = post_form(client, "/pay/start", {**form, "amount": "amount_due", "other_amount": ""})
        paid = client.post(urlsplit(started.headers["location"]).path,
                           data={"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"})
        assert paid.status_code == 303  # charged at the gateway; the patient does not come back
    attempt = PaymentAttempt.get()
    assert attempt.status in PaymentAttempt.OPEN and Receipt.select().count() == 0
    return attempt


def test_a_worker_killed_after_the_gateway_answered_is_replaced_and_the_payment_recorded_once(
        db_url, db, paid_but_not_recorded):
    later = (clock.now() + dt.timedelta(minutes=10)).isoformat()  # the settle job takes attempts 2 minutes old
    queue.defer("pops.settle_payments", lock="settle", timestamp=0)
    killed = _worker(db_url, "--until-idle", POPS_NOW=later, POPS_CRASH_AT=crash.AFTER_LOOKUP)
    out, _ = killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL, out
    # left behind by the dead worker (beside, maybe, the minute's periodic settle job it queued)
    left = [j["id"] for j in _jobs("pops.settle_payments") if j["status"] == "doing"]
    assert len(left) == 1
    assert Receipt.select().count() == 0
    database.execute_sql("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")  # time passes

    out = _run_worker_until_idle(db_url, POPS_NOW=later)
    assert "left by a dead worker; running it again" in out
    assert {j["id"]: j["status"] for j in _jobs("pops.settle_payments")}[left[0]] == "succeeded"
    attempt = PaymentAttempt.get_by_id(paid_but_not_recorded.id)
    assert attempt.status == PaymentAttempt.PAID
    assert [r.amount for r in Receipt.select()] == [Decimal("50.00")]
    assert SandboxCharge.select().count() == 1

    queue.defer("pops.settle_payments", lock="settle", timestamp=1)
    _run_worker_until_idle(db_url, POPS_NOW=later)  # again: nothing more is recorded
    assert Receipt.select().count() == 1


def test_a_worker_killed_after_the_mail_server_took_a_message_resends_it_once_with_the_same_message_id(
        db_url, db, guarantor):
    message = notify.queue_email("maria@example.org", "Hello", "Hi", purpose="test", guarantor=guarantor)
    with smtp_server() as mail:
        smtp = f"smtp://127.0.0.1:{mail.server_address[1]}"
        killed = _worker(db_url, "--until-idle", POPS_SMTP_URL=smtp, POPS_CRASH_AT=crash.AFTER_SEND)
        out, _ = killed.communicate(timeout=60)
        assert killed.returncode == -signal.SIGKILL, out
        assert len(mail.received) == 1 and OutboxMessage.get_by_id(message.id).status == OutboxMessage.OUTBOX
        database.execute_sql("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")

        _run_worker_until_idle(db_url, POPS_SMTP_URL=smtp)
        _run_worker_until_idle(db_url, POPS_SMTP_URL=smtp)  # and again: nothing more goes out
        ids = [re.search(r"Message-ID: (<[^>]+>)", m["data"]).group(1) for m in mail.received]
    assert len(ids) == 2 and ids[0] == ids[1]  # the one duplicate allowed, recognisable as such
    assert OutboxMessage.get_by_id(message.id).status == OutboxMessage.SENT
