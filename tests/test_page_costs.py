"""What the pages patients open most cost: at most 4 SQL statements each, writes included (counted
as bench/page_speed.py counts them), no gateway call on a GET, and every visit still counted for the
Session Usage report. On SQLite, and on PostgreSQL with POPS_TEST_DATABASE_URL."""
from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import anyio.to_thread
import pytest

from pops import clock, db as pops_db, loop_pages, sessions
from pops.db import bind, database
from pops.models import Group, LedgerVersion, PatientSession, PaymentAttempt, SessionPage, StoredCard

from pops.web.worker import loop_statements

from factories import make_encounter, patient_session
from http_helpers import counting_statements, give_staff_session, sign_in_as

BUDGET = 4
PORTAL_PAGES = ["/home", "/account", "/pay"]
GATEWAY_CALLS = {"create_checkout", "confirm", "charge_stored", "lookup", "cancel", "refund"}


def statements_of(client, path: str) -> list[str]:
    """The statements of a request for `path` whose account changed since the last (its facts read afresh)."""
    client.get(path)  # the connection opened and the statement texts built: what every later request finds
    LedgerVersion.update(version=LedgerVersion.version + 1).execute()  # as any change to the ledger would
    with counting_statements() as executed:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return executed


@pytest.fixture
def busy_account(guarantor, ledger_rows):
    """Maria's ledger, a saved card on a verified session's Pay page, a charge not answered yet on Home."""
    Group.update(enable_payment_method_storage=True).execute()
    card = StoredCard.create(guarantor=guarantor, gateway_token="tok-costs", brand="Visa", last4="4242",
                             exp_month=12, exp_year=clock.now().year + 2)
    PaymentAttempt.create(key="k" * 24, guarantor=guarantor, entrance="portal", amount=Decimal("25.00"),
                          amount_choice="other", status=PaymentAttempt.PENDING, created_at=clock.now(),
                          updated_at=clock.now(), stored_card=card)
    for n in range(5):  # the statements do not grow with the ledger
        make_encounter(guarantor, f"E-COST{n}", date=dt.date(2026, 11, 1), charge="30.00")
    return guarantor


@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_a_portal_page_runs_at_most_4_statements(client, busy_account, path):
    sign_in_as(client, busy_account)
    executed = statements_of(client, path)
    assert len(executed) <= BUDGET, "\n".join(executed)


def test_quickpay_runs_at_most_4_statements(client, busy_account):
    sign_in_as(client, busy_account, quickpay=True)
    executed = statements_of(client, "/quickpay")
    assert len(executed) <= BUDGET, "\n".join(executed)


def test_each_visit_is_counted_in_the_statement_that_touches_the_session(client, busy_account):
    session = sign_in_as(client, busy_account)
    clock.advance(minutes=5)
    for path in PORTAL_PAGES:
        writes = [sql for sql in statements_of(client, path) if not sql.lstrip().upper().startswith("SELECT")]
        assert len(writes) == 1, writes  # the touch: activity, pages + 1 and the visit's row
    visits = [p.path for p in SessionPage.select().where(SessionPage.session == session.id).order_by(SessionPage.id)]
    assert visits == ["/home", "/home", "/account", "/account", "/pay", "/pay"]
    row = PatientSession.get_by_id(session.id)
    assert row.pages == 6 and row.last_page == "/pay"
    assert row.last_seen_at == clock.now() and row.expires_at == clock.now() + dt.timedelta(minutes=15)


def test_the_session_usage_report_counts_the_visits(client, busy_account, staff):
    session = sign_in_as(client, busy_account)
    for path in ["/home", "/account", "/pay", "/receipts", "/home"]:
        assert client.get(path).status_code == 200
    client.get("/login?view_account=1")  # not a portal page: not a visit
    clock.advance(minutes=1)
    give_staff_session(client, staff)
    csv = client.get("/staff/reports/sessions.csv?from=2026-11-23&to=2026-11-23&origin=sign_in")
    assert csv.status_code == 200
    lines = csv.text.split("\r\n")
    pages = lines[0].split(",").index("pages")
    row = next(line.split(",") for line in lines[1:] if line.startswith(f"{session.id},"))
    assert row[pages] == "5"
    page = client.get("/staff/reports/sessions?from=2026-11-23&to=2026-11-23&origin=sign_in")
    totals = page.text.split("<tfoot>")[1].split("</tfoot>")[0]
    assert '<td class="num">5</td>' in totals


def test_a_quickpay_session_refused_a_portal_page_is_touched_but_not_counted(client, busy_account):
    session = sign_in_as(client, busy_account, quickpay=True)
    clock.advance(minutes=5)
    assert client.get("/home").headers["location"] == "/login?view_account=1"
    row = PatientSession.get_by_id(session.id)
    assert row.pages == 0 and row.last_seen_at == clock.now()
    assert SessionPage.select().count() == 0


class GatewayWatch:
    """The app's gateway, but every call to it is written down (and refused)."""

    def __init__(self, gateway):
        self._gateway, self.calls = gateway, []

    def __getattr__(self, name):
        if name not in GATEWAY_CALLS:
            return getattr(self._gateway, name)

        def refused(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"a GET asked the gateway: {name}")

        return refused


@pytest.mark.parametrize("quickpay, path", [(True, "/quickpay"), (False, "/home"), (False, "/account"),
                                            (False, "/pay"), (False, "/receipts")])
def test_no_gateway_call_on_a_get(app, client, busy_account, quickpay, path):
    sign_in_as(client, busy_account, quickpay=quickpay)
    watch = GatewayWatch(app.state.gateway)
    app.state.gateway = watch
    assert client.get(path).status_code == 200
    assert watch.calls == []


@pytest.fixture
def pooled(db_url, db):
    """The server's database: PostgreSQL connections pooled (POPS_DB_POOL), so they outlive a request."""
    if not db_url.startswith("postgres"):
        pytest.skip("PostgreSQL only: SQLite keeps one connection per thread already")
    pool = bind(db_url, 2)
    yield pool
    pool.close_all()
    database.initialize(db)


@pytest.mark.parametrize("quickpay, path", [(True, "/quickpay"), (False, "/home"), (False, "/account"),
                                            (False, "/pay")])
def test_on_pooled_postgresql_the_hot_statements_are_prepared_once_per_connection(client, busy_account, pooled,
                                                                                   quickpay, path):
    sign_in_as(client, busy_account, quickpay=quickpay)
    with counting_statements() as first:
        assert client.get(path).status_code == 200
    assert any(sql.startswith("PREPARE ") for sql in first)
    executed = statements_of(client, path)
    assert len(executed) <= BUDGET and not any(sql.startswith("PREPARE ") for sql in executed), "\n".join(executed)
    # Peewee's pool runs EXECUTE of what it prepared; what the page awaits on the event loop (the session read
    # ahead, touched and its visit counted in the same statement), psycopg prepares on each of its connections
    # itself (prepare_threshold 0: pops.db.LoopStatements). On the thread, the page reads the facts (just changed)
    # and writes no touch of its own.
    awaited = [sql for sql in executed if not sql.startswith("EXECUTE ")]
    assert len(awaited) == 1 and awaited[0].startswith('WITH s AS (UPDATE "patient_session"'), awaited
    assert sum(sql.startswith("EXECUTE ") for sql in executed) >= 1


def test_on_postgresql_quickpay_for_an_unchanged_account_awaits_one_statement_on_the_event_loop(
        client, busy_account, pooled):
    session = sign_in_as(client, busy_account, quickpay=True)
    client.get("/quickpay")  # the facts read (on a thread: the page came to a statement it would wait on)
    before = PatientSession.get_by_id(session.id)
    clock.advance(minutes=1)
    with counting_statements() as executed:
        assert client.get("/quickpay").status_code == 200
    assert [sql.split()[:3] for sql in executed] == [["WITH", "s", "AS"]], executed  # awaited: no EXECUTE, no thread
    after = PatientSession.get_by_id(session.id)
    assert after.pages == 2  # each visit counted once, the one on a thread too
    assert SessionPage.select().where(SessionPage.session == session.id).count() == 2
    assert after.last_seen_at > before.last_seen_at and after.expires_at > before.expires_at  # touched


@pytest.mark.parametrize("quickpay, path", [(True, "/quickpay"), (False, "/home"), (False, "/pay")])
def test_on_postgresql_the_statement_that_reads_the_session_moves_its_deadline_as_a_touch_does(
        client, busy_account, pooled, quickpay, path):
    session = sign_in_as(client, busy_account, quickpay=quickpay)
    idle = dt.timedelta(minutes=busy_account.group.session_idle_timeout)
    for at in (idle - dt.timedelta(minutes=1), 2 * idle - dt.timedelta(minutes=2)):  # each visit moves the idle end
        clock.freeze(session.started_at + at)
        assert client.get(path).status_code == 200
        assert PatientSession.get_by_id(session.id).expires_at == clock.now() + idle
    # as if the patient had kept busy all day: the 12-hour limit caps the deadline, then ends the session
    PatientSession.update(expires_at=session.started_at + sessions.MAX_AGE).where(
        PatientSession.id == session.id).execute()
    clock.freeze(session.started_at + sessions.MAX_AGE - dt.timedelta(minutes=1))
    assert client.get(path).status_code == 200
    assert PatientSession.get_by_id(session.id).expires_at == session.started_at + sessions.MAX_AGE
    clock.freeze(session.started_at + sessions.MAX_AGE)
    assert client.get(path).status_code in (303, 401)
    row = PatientSession.get_by_id(session.id)
    assert (row.end_reason, row.pages) == ("limit", 3)


async def _loop_pool(app):
    return loop_statements(app).pool


def test_on_postgresql_a_page_whose_loop_connections_are_all_taken_answers_from_a_thread(app, client, busy_account,
                                                                                        pooled):
    session = sign_in_as(client, busy_account, quickpay=True)
    assert client.get("/quickpay").status_code == 200
    pool = client.portal.call(_loop_pool, app)
    held = [client.portal.call(pool.getconn) for _ in range(pool.max_size)]  # another page's, for too long
    try:
        with counting_statements() as executed:
            assert client.get("/quickpay").status_code == 200
    finally:
        for connection in held:
            client.portal.call(pool.putconn, connection)
    assert executed and all(sql.startswith(("PREPARE ", "EXECUTE ")) for sql in executed), executed  # on a thread
    assert PatientSession.get_by_id(session.id).pages == 2


def test_on_postgresql_a_page_that_waited_too_long_for_a_loop_connection_is_refused_it(db_url, db):
    """Pages queue for the loop's connections; one still waiting after LOOP_WAIT_SECONDS gets LoopBusy (it runs
    on a thread instead: pops.loop_pages), and the connection serves the next page once it is free."""
    if not db_url.startswith("postgres"):
        pytest.skip("PostgreSQL only: SQLite's pages never await")

    async def scenario():
        statements = await pops_db.LoopStatements(db_url, 1).open()
        try:
            async with statements._connection():  # another page's, for longer than LOOP_WAIT_SECONDS
                with pytest.raises(pops_db.LoopBusy):
                    await statements.fetch_one("SELECT 1", ())
            return await statements.fetch_one("SELECT 1", ())
        finally:
            await statements.close()

    assert asyncio.run(scenario()) == (1,)


def test_on_postgresql_only_the_loop_commits_without_waiting_for_the_disk(db_url, db):
    """The loop writes a session's activity only (pops.db.LOOP_SESSION_SETTINGS); a page's other work, on a
    thread, and so every payment, commits as the server is set to."""
    if not db_url.startswith("postgres"):
        pytest.skip("PostgreSQL only: SQLite's pages never await")

    async def on_the_loop():
        statements = await pops_db.LoopStatements(db_url, 1).open()
        try:
            return await statements.fetch_one("SHOW synchronous_commit", ())
        finally:
            await statements.close()

    assert asyncio.run(on_the_loop()) == ("off",)
    on_a_thread, configured = db.execute_sql("SELECT current_setting('synchronous_commit'), reset_val"
                                             " FROM pg_settings WHERE name = 'synchronous_commit'").fetchone()
    assert on_a_thread == configured != "off"


def test_on_postgresql_a_touch_the_loop_could_not_send_is_written_from_a_thread(db_url, db, guarantor):
    if not db_url.startswith("postgres"):
        pytest.skip("PostgreSQL only: SQLite's pages never await")
    _, session = patient_session(guarantor)
    sent_from_a_thread = []

    async def write_on_a_thread(sql, params):
        await anyio.to_thread.run_sync(loop_pages.write, sql, params)
        sent_from_a_thread.append(sql)

    async def on_a_thread():
        raise AssertionError("the page itself ran on the loop")

    def page():
        sessions.touch_session(session, page="/quickpay")  # kept for the loop's connection
        return "the page"

    async def scenario():
        statements = await pops_db.LoopStatements(db_url, 1).open()
        held = await statements.pool.getconn()  # the only connection, busy for longer than LOOP_WAIT_SECONDS
        try:
            return await loop_pages.serve(statements, None, page, on_a_thread, write_on_a_thread)
        finally:
            await statements.pool.putconn(held)
            await statements.close()

    assert asyncio.run(scenario()) == "the page"
    assert len(sent_from_a_thread) == 1
    assert PatientSession.get_by_id(session.id).pages == 1


def test_on_postgresql_a_page_whose_loop_connection_the_server_dropped_still_answers(app, client, busy_account,
                                                                                     pooled):
    session = sign_in_as(client, busy_account, quickpay=True)
    assert client.get("/quickpay").status_code == 200
    dropped = pooled.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s"
                                 " AND datname = current_database()", (pops_db.LOOP_APPLICATION_NAME,)).fetchall()
    assert dropped  # a restart, as the loop's connections see it
    for _ in range(2):  # each of them may have been dropped
        assert client.get("/quickpay").status_code == 200
    assert client.get("/quickpay").status_code == 200
    assert PatientSession.get_by_id(session.id).pages == 4


def test_on_postgresql_the_loop_reads_what_psycopg_reads_and_a_failed_statement_harms_nothing(db_url, db, guarantor):
    """The loop sends its statements at libpq's level (pops.db._OnConnection): a session's row comes back with
    the values and types a psycopg cursor gives; a statement the server refuses raises psycopg's own error and
    the connection serves the next; an integer too big for the first one's type is prepared again."""
    if not db_url.startswith("postgres"):
        pytest.skip("PostgreSQL only: SQLite's pages never await")
    import psycopg

    token, _ = patient_session(guarantor)
    token_hash = sessions.hash_token(token)

    async def scenario():
        statements = await pops_db.LoopStatements(db_url, 1).open()
        try:
            row = await statements.fetch_one(sessions._patient_sql(), (token_hash,))
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                cursor = await conn.execute(sessions._patient_sql().replace("?", "%s"), (token_hash,))
                expected = await cursor.fetchone()
            with pytest.raises(psycopg.errors.DivisionByZero):
                await statements.fetch_one("SELECT 1 / ?", (0,))
            return (row, expected, await statements.fetch_one("SELECT ? + 1, ?", (41, None)),
                    await statements.fetch_one("SELECT ? + 1, ?", (2**40, "x")),
                    await statements.write('UPDATE "patient_session" SET "pages" = "pages" + ? WHERE "token_hash" = ?',
                                           (2, token_hash)),
                    await statements.fetch_one('SELECT 1 FROM "patient_session" WHERE "token_hash" = ?', ("none",)))
        finally:
            await statements.close()

    row, expected, small, big, written, nothing = asyncio.run(scenario())
    assert row == expected and [type(v) for v in row] == [type(v) for v in expected]
    assert {dt.datetime, dt.date, bool, int, str} <= {type(v) for v in row}
    assert small == (42, None) and big == (2**40 + 1, "x")
    assert written == 1 and nothing is None
    assert PatientSession.get(PatientSession.token_hash == token_hash).pages == 2
