"""Several processes: POPS_DB_POOL, the pooled and per-thread connections, X-POPS-Worker, `pops serve --workers 2`."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import html
import http.client
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from anyio import to_thread

from pops import clock, links, serving
from pops.serving import listening_sockets
from pops import db as pops_db
from pops.app import create_app
from pops.db import CheckedPool, database, open_database, request_scope
from pops.models import OutboxMessage, PatientSession, Receipt
from pops.settings import Settings, SettingsError
from pops.web.worker import loop_statements, page_threads

from factories import (MARIA, PASSWORD, make_encounter, make_group, make_guarantor, make_patient, make_staff,
                       make_statement, totp_now)
from http_helpers import open_browser, sign_in_as

ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(36)
PG = bool(os.environ.get("POPS_TEST_DATABASE_URL"))
LINUX = sys.platform.startswith("linux")  # `pops serve --workers N`: a socket per worker (pops.serving)
STARTUP_SECONDS = 30
CSRF = "csrf-token-for-the-runtime-test-0123"
APPROVED = {"number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


# --- settings and connections --------------------------------------------------------------------

def test_db_pool_setting():
    assert Settings.from_env({}).db_pool == 10
    assert Settings.from_env({"POPS_DB_POOL": "4"}).db_pool == 4
    for wrong in ("0", "-1", "ten", "2.5"):
        with pytest.raises(SettingsError, match="POPS_DB_POOL"):
            Settings.from_env({"POPS_DB_POOL": wrong})


def test_access_log_setting():
    assert Settings.from_env({}).access_log is False
    assert Settings.from_env({"POPS_ACCESS_LOG": "1"}).access_log is True
    assert Settings.from_env({"POPS_ACCESS_LOG": "off"}).access_log is False
    with pytest.raises(SettingsError, match="POPS_ACCESS_LOG"):
        Settings.from_env({"POPS_ACCESS_LOG": "loud"})


def test_postgresql_is_pooled_only_when_asked(tmp_path):
    pooled = open_database("postgresql://u@db.example/pops", pool=7)
    assert isinstance(pooled, CheckedPool) and pooled._max_connections == 7
    assert not isinstance(open_database("postgresql://u@db.example/pops"), CheckedPool)
    assert not isinstance(open_database(f"sqlite:///{tmp_path}/x.sqlite3", pool=7), CheckedPool)


@pytest.mark.skipif(PG, reason="SQLite's per-thread connection")
def test_a_sqlite_thread_keeps_its_connection_from_request_to_request(db_url):
    pops_db.bind(db_url, 10)
    seen: list[int] = []

    def two_requests():
        for _ in range(2):
            with request_scope():
                seen.append(id(database.connection()))

    worker = threading.Thread(target=two_requests)
    worker.start()
    worker.join()
    assert len(seen) == 2 and seen[0] == seen[1]
    database.initialize(None)


@pytest.mark.skipif(not PG, reason="needs PostgreSQL (POPS_TEST_DATABASE_URL)")
def test_the_pool_returns_connections_and_replaces_a_dead_one(db_url):
    pool = pops_db.bind(db_url, 2)
    try:
        with request_scope():
            first = database.connection()
            pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        assert len(pool._connections) == 1 and not pool._in_use  # back in the pool, still open
        with request_scope():
            assert database.connection() is first  # reused
        with open_database(db_url) as other:  # the server drops it while it idles in the pool
            other.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.1)
        pool._returned_at.clear()  # as if it had idled past PING_AFTER: the check asks the server
        with request_scope():
            assert database.connection() is not first
            assert database.execute_sql("SELECT 1").fetchone()[0] == 1
    finally:
        pool.close_all()
        database.initialize(None)


# --- one process -----------------------------------------------------------------------------------

def test_a_test_server_names_its_worker_and_production_does_not(db_url):
    settings = Settings(database_url=db_url, secret_key=SECRET, environment="test", base_url="http://testserver",
                        db_pool=3)
    with open_browser(create_app(settings)) as client:
        assert client.get("/healthz").headers["x-pops-worker"] == str(os.getpid())

        async def threads() -> float:
            return to_thread.current_default_thread_limiter().total_tokens

        assert client.portal.call(threads) == 3  # the request threads are capped at the pool size
    with open_browser(create_app(Settings(database_url=db_url, secret_key=SECRET, environment="production",
                                          base_url="http://testserver"))) as client:
        assert "x-pops-worker" not in client.get("/healthz").headers
    database.initialize(None)


async def _loop_pool_size(app) -> int:
    return loop_statements(app).pool.max_size


def test_where_pages_run_on_sqlite_the_loop_then_a_thread_when_the_database_is_busy(db, db_url):
    """SQLite: a patient's page runs on the event loop; found busy (another connection's write lock) before
    it has written, it waits on one of two page threads instead, the loop still answering, and counts the
    visit once. PostgreSQL: 2 of the POPS_DB_POOL connections are awaited on the loop (the session's read and
    touch: tests/test_page_costs.py), the rest are the general threads', where a page's other statements run."""
    guarantor = make_guarantor(make_group(), **MARIA)
    app = create_app(Settings(database_url=db_url, secret_key=SECRET, environment="test", base_url="http://testserver"))
    with open_browser(app) as client:
        session = sign_in_as(client, guarantor)

        async def tokens():
            limiter = page_threads(app)
            return None if limiter is None else limiter.total_tokens

        if PG:  # a page on a thread holds a pooled connection: pages share the general pool
            assert client.portal.call(tokens) is None and app.state.on_the_loop is None
            assert client.portal.call(_loop_pool_size, app) == 2

            async def threads() -> float:
                return to_thread.current_default_thread_limiter().total_tokens

            assert client.portal.call(threads) == 8  # POPS_DB_POOL (10) less the loop's 2
            assert client.get("/home").status_code == 200
            return
        assert client.portal.call(tokens) == 2
        holders = [object(), object()]

        async def hold():
            for holder in holders:
                await page_threads(app).acquire_on_behalf_of(holder)

        async def release():
            for holder in holders:
                page_threads(app).release_on_behalf_of(holder)

        client.portal.call(hold)  # both page threads busy: a page still answers, on the loop
        on_the_loop: dict[str, int] = {}
        asking = threading.Thread(target=lambda: on_the_loop.update(home=client.get("/home").status_code))
        asking.start()
        asking.join(10)
        client.portal.call(release)
        asking.join(10)
        assert on_the_loop == {"home": 200}
        pages = PatientSession.get_by_id(session.id).pages

        other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing
        answers: dict[str, int] = {}
        waiting = threading.Thread(target=lambda: answers.update(home=client.get("/home").status_code))
        waiting.start()
        try:
            waiting.join(0.5)
            assert answers == {}  # the page waits for the lock on a thread ...
            assert client.get("/healthz").status_code == 200  # ... and the loop answers meanwhile
            assert client.get("/pay/result/no-key").status_code == 404  # a gateway page too, on the general pool
        finally:
            other.execute("ROLLBACK")
            other.close()
        waiting.join(10)
        assert answers == {"home": 200}
        assert PatientSession.get_by_id(session.id).pages == pages + 1  # the visit counted once
    database.initialize(None)


def test_on_sqlite_work_on_the_loop_waits_for_the_lock_only_once_it_has_written(db, db_url):
    """pops.db.without_waiting: before its first write the work does not wait for another connection's write lock
    (None: run it where it may wait); after it, it waits like any other work, since it cannot be run again."""
    if PG:
        pytest.skip("SQLite's busy handling")
    group = make_group()
    write = f'UPDATE "group" SET "name" = "name" WHERE "id" = {group.id}'
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    try:
        def work():
            db.execute_sql(write)  # the lock is free: written at once
            other.execute("BEGIN IMMEDIATE")  # another process takes the lock, for a quarter of a second
            threading.Timer(0.25, other.execute, ("ROLLBACK",)).start()
            started = time.monotonic()
            db.execute_sql(write)  # waits for it rather than fail
            return time.monotonic() - started

        assert pops_db.without_waiting(work) >= 0.2
        other.execute("BEGIN IMMEDIATE")
        try:
            assert pops_db.without_waiting(lambda: db.execute_sql(write)) is None  # found busy first: not waited
            # the same connection outside such work waits again (its busy timeout back before its next statement)
            threading.Timer(0.25, other.execute, ("ROLLBACK",)).start()
            db.execute_sql(write)
        finally:
            if other.in_transaction:
                other.execute("ROLLBACK")
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == pops_db.BUSY_TIMEOUT_MS
    finally:
        other.close()


def test_a_worker_process_runs_on_the_rehearsal_clock(db_url, tmp_path, monkeypatch):
    from pops.app import app_from_env

    for name in [k for k in os.environ if k.startswith("POPS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("POPS_DATABASE_URL", db_url)
    monkeypatch.setenv("POPS_ENV", "test")
    monkeypatch.setenv("POPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("POPS_NOW", "2027-03-01T15:00:00Z")
    clock.reset()
    app_from_env()
    assert dt.timedelta(0) <= clock.now() - dt.datetime(2027, 3, 1, 15, tzinfo=dt.timezone.utc) < dt.timedelta(minutes=1)
    database.initialize(None)


# --- `pops serve --workers 2` ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_workers(db_url, tmp_path, request):
    """`pops serve --workers 2` on this test's database (its output in tmp_path/server.log; more settings
    by indirect parametrisation); yields its address."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env.update(POPS_DATABASE_URL=db_url, POPS_SECRET_KEY=SECRET, POPS_ENV="test", POPS_DB_POOL="4",
               POPS_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")  # no POPS_BASE_URL: serve passes it on
    env.update(getattr(request, "param", {}))
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "pops", "serve", "--workers", "2", "--host", "127.0.0.1",
                                    "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"the server exited {process.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"the server did not answer /healthz:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Pinned:
    """A browser on one keep-alive connection, so on one worker: every answer must come from `pid`."""

    def __init__(self, client: httpx.Client, pid: str):
        self.client, self.pid = client, pid

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        assert response.headers["x-pops-worker"] == self.pid, f"{method} {path} reached another worker"
        return response

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> httpx.Response:
        return self.request("POST", path, data={"csrf": CSRF, **data})


def one_connection_per_worker(url: str, workers: int = 2, tries: int = 200) -> list[Pinned]:
    """Fresh keep-alive connections until one reaches each worker (the kernel spreads them, once each listens)."""
    if LINUX:
        all_listening(url, workers)
    held: dict[str, Pinned] = {}
    for _ in range(tries):
        client = httpx.Client(base_url=url, follow_redirects=False, timeout=10, headers={"Origin": url},
                              limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        pid = client.get("/healthz").headers["x-pops-worker"]
        if pid in held:
            client.close()
            continue
        client.cookies.set("pops_csrf", CSRF)
        held[pid] = Pinned(client, pid)
        if len(held) == workers:
            return list(held.values())
    pytest.fail(f"{tries} connections reached only the workers {sorted(held)}")


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.mark.skipif(PG, reason="SQLite's run; the PostgreSQL one below pays, refunds and signs in")
@pytest.mark.parametrize("two_workers", [{}, {"POPS_ACCESS_LOG": "1"}], indirect=True, ids=["quiet", "access-log"])
def test_two_workers_answer_on_sqlite(db, two_workers, tmp_path, request):
    browsers = one_connection_per_worker(two_workers)
    assert len({b.pid for b in browsers}) == 2 and str(os.getpid()) not in {b.pid for b in browsers}
    for browser in browsers:
        assert browser.get("/healthz").status_code == 200
        browser.client.close()
    # A line per request only when asked (POPS_ACCESS_LOG=1); by default the proxy in front keeps that log.
    logged = '"GET /healthz HTTP/1.1" 200' in (tmp_path / "server.log").read_text()
    assert logged == (request.node.callspec.id == "access-log")


def all_listening(url: str, workers: int = 2) -> int:
    """The server's port once each of its workers listens there (the first answers before the others start)."""
    port = urlsplit(url).port
    deadline = time.monotonic() + STARTUP_SECONDS
    while listening_sockets(port) < workers:
        assert time.monotonic() < deadline, f"{listening_sockets(port)} of {workers} workers listen on {port}"
        time.sleep(0.05)
    return port


def workers_of_connections_opened_at_once(url: str, count: int) -> collections.Counter:
    """`count` keep-alive connections opened together, as a load generator or a proxy's pool opens them, then
    asked which worker holds each."""
    parts = urlsplit(url)
    connections = [http.client.HTTPConnection(parts.hostname, parts.port, timeout=10) for _ in range(count)]
    try:
        for connection in connections:
            connection.connect()
        pids = collections.Counter()
        for connection in connections:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            pids[response.getheader("X-POPS-Worker")] += 1
        return pids
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.skipif(PG or not LINUX, reason="the processes, not the database: once, on SQLite; Linux's SO_REUSEPORT")
def test_each_worker_listens_on_its_own_socket_and_connections_opened_at_once_are_spread(db, two_workers):
    port = all_listening(two_workers)
    assert listening_sockets(port) == 2
    pids = workers_of_connections_opened_at_once(two_workers, 40)
    # One socket shared by both would give every waiting connection to whichever process woke first.
    assert len(pids) == 2 and min(pids.values()) >= 8, pids


@pytest.mark.skipif(PG or not LINUX, reason="the processes, not the database: once, on SQLite; Linux's SO_REUSEPORT")
def test_a_worker_socket_sends_each_answer_at_once():
    """A connection accepted on a worker's socket has TCP_NODELAY, as on uvicorn's own: an answer written in two
    parts (its head, then its body) does not wait for the client's delayed acknowledgement of the first."""
    async def accepted_nodelay() -> int:
        listening = serving._listening_socket("127.0.0.1", 0)
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        def connected(reader, writer):
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname())
            try:
                return await asyncio.wait_for(seen, 10)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0


@pytest.mark.skipif(PG or not LINUX, reason="the processes, not the database: once, on SQLite; Linux's SO_REUSEPORT")
def test_a_worker_that_dies_is_replaced_and_no_connection_waits_on_its_socket(db, two_workers):
    port = all_listening(two_workers)
    dead = next(iter(workers_of_connections_opened_at_once(two_workers, 1)))
    os.kill(int(dead), signal.SIGKILL)
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            pids = workers_of_connections_opened_at_once(two_workers, 20)
        except OSError:  # a connection the dead worker's socket held when it died
            pids = collections.Counter()
        if len(pids) == 2 and dead not in pids:
            break
        assert time.monotonic() < deadline, f"no new worker took the dead one's place: {pids}"
        time.sleep(0.2)
    assert listening_sockets(port) == 2  # the dead worker's socket went with it: no connection is queued there


@pytest.mark.skipif(PG or not LINUX, reason="the processes, not the database: once, on SQLite; Linux's SO_REUSEPORT")
def test_a_second_server_on_the_same_address_is_refused_with_a_clear_message(db, two_workers, db_url, tmp_path):
    port = all_listening(two_workers)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env.update(POPS_DATABASE_URL=db_url, POPS_SECRET_KEY=SECRET, POPS_ENV="test", POPS_DATA_DIR=str(tmp_path / "d2"))
    second = subprocess.run([sys.executable, "-m", "pops", "serve", "--workers", "2", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=STARTUP_SECONDS)
    assert second.returncode == 1
    assert f"pops: serve: cannot listen on 127.0.0.1:{port}" in second.stderr
    assert listening_sockets(port) == 2 and len(workers_of_connections_opened_at_once(two_workers, 20)) == 2


@pytest.fixture
def owing(db):
    clock.reset()  # the server runs on the real clock: rows made here are made on it too
    guarantor = make_guarantor(make_group(), **MARIA)
    make_encounter(guarantor, "E1", patient=make_patient(guarantor), date=dt.date(2026, 9, 1), charge="40.00")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 1), balance="40.00")
    return guarantor


@pytest.mark.skipif(not PG, reason="needs PostgreSQL (POPS_TEST_DATABASE_URL)")
def test_two_workers_share_everything_through_the_database(owing, two_workers):
    payer, other = one_connection_per_worker(two_workers)
    try:
        # QuickPay and a payment, all on the first worker.
        code, _ = links.mint(owing, "sms", SECRET)
        assert payer.get(f"/q/{code}").status_code == 303
        page = payer.get("/quickpay")
        form = page.text[page.text.index('action="/pay/start"'):]
        fields = {k: html.unescape(v) for k, v in HIDDEN.findall(form[:form.index("</form>")])}
        response = payer.post("/pay/start", {**fields, "amount": "amount_due", "card": "new"})
        while response.status_code == 303:
            where = local(response.headers["location"])
            response = (payer.post(where, APPROVED) if where.startswith("/sandbox-gateway/checkout/")
                        else payer.get(where))
        assert response.status_code == 200 and "Payment received" in response.text
        receipt = Receipt.get()
        assert receipt.amount == 40

        # A refund by staff, signed in on the second worker.
        staff = make_staff()
        signed_in = other.post("/staff/login", {"email": staff.email, "password": PASSWORD, "code": totp_now(staff),
                                                "next": ""})
        assert signed_in.status_code == 303, signed_in.text
        refunded = other.post(f"/staff/receipts/{receipt.number}/refund", {"amount": "$15"})
        assert refunded.status_code == 303, refunded.text
        assert Receipt.get_by_id(receipt.id).refunded_amount == 15

        # And the patient signs in there too, with the code the first sign-in step sent.
        other.client.cookies.delete("pops_session")
        looked_up = other.post("/login", {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "1981-04-12"})
        assert looked_up.headers["location"] == "/login/send"
        assert other.post("/login/send", {"destination": "0:sms"}).headers["location"] == "/login/code"
        message = OutboxMessage.select().where(OutboxMessage.purpose == "sign_in").get()
        entered = other.post("/login/code", {"code": re.search(r"\b(\d{6})\b", message.body).group(1)})
        assert entered.headers["location"] == "/home"
        assert other.get("/home").status_code == 200
        assert PatientSession.select().where(PatientSession.origin == "sign_in").count() == 1
    finally:
        payer.client.close()
        other.client.close()
