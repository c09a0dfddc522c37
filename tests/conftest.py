"""Fixtures: a fresh database per test (SQLite, or PostgreSQL with POPS_TEST_DATABASE_URL), a frozen clock,
cheap password hashes; the practice, Maria and staff members; the app and a browser on it.

Builders and helpers live in factories.py and http_helpers.py; test modules import those, never this.
"""
from __future__ import annotations

import datetime as dt
import graphlib
import os
import shutil

import pytest
from argon2 import PasswordHasher

from pops import clock, migrate, staff as staff_accounts
from pops.db import bind, database, open_database
from pops.schema import TABLES

from factories import MARIA, SAM, WEST, build_ledger, make_group, make_guarantor, make_staff
from http_helpers import SECRET, open_browser

PG_URL = os.environ.get("POPS_TEST_DATABASE_URL")
FROZEN_AT = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc)


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}"


# The job queue's tables (PostgreSQL: procrastinate's, from migration 0006), emptied with POPS's own.
QUEUE_TABLES = ["procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers", "procrastinate_workers"]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = open_database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture(scope="session")
def _postgres():
    """The migrated test database, and the one batch of statements that empties it between tests."""
    db = open_database(PG_URL)
    with db:
        db.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    migrate.upgrade(db)
    with db:
        emptying = _emptying(db)
    db.close()
    return db, emptying


def _emptying(db) -> str:
    """DELETE from every table, each after the tables that refer to it, then the sequences they own back to 1.

    Not TRUNCATE: that makes new files for 46 tables and their indexes, 200 to 300 ms a test here,
    against a few ms for deleting the handful of rows a test wrote. ledger_version goes last: deleting
    a ledger row fires the trigger that writes it. The commit does not wait for the disk; nothing
    but the test database is at stake."""
    tables = [*(m._meta.table_name for m in TABLES), *QUEUE_TABLES]
    order = graphlib.TopologicalSorter({table: () for table in tables})
    referrers = db.execute_sql(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c"
        " WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace").fetchall()
    for referrer, referred in referrers:
        referrer, referred = referrer.strip('"'), referred.strip('"')
        if referrer != referred and {referrer, referred} <= set(tables):
            order.add(referred, referrer)
    tables = [t for t in order.static_order() if t != "ledger_version"] + ["ledger_version"]
    sequences = [row[0] for row in db.execute_sql(  # those the tables own, as TRUNCATE's RESTART IDENTITY
        "SELECT s.oid::regclass::text FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
        " JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND t.relname = ANY(%s)", (tables,))]
    return ";".join(["SET LOCAL synchronous_commit TO off",
                     *(f'DELETE FROM "{table}"' for table in tables),
                     *(f"SELECT setval('{sequence}', 1, false)" for sequence in sequences)])


@pytest.fixture
def db_url(request, tmp_path):
    """The URL of a fresh, migrated database for this test."""
    if PG_URL:
        pg, emptying = request.getfixturevalue("_postgres")
        with pg:
            pg.execute_sql(emptying)
        return PG_URL
    path = tmp_path / "pops.sqlite3"
    shutil.copy(request.getfixturevalue("_sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_url):
    """The test's database, bound for the models and connected for the test body."""
    bound = bind(db_url)
    bound.connect(reuse_if_open=True)
    yield bound
    if not bound.is_closed():
        bound.close()
    database.initialize(None)


@pytest.fixture(autouse=True)
def frozen_clock():
    """Every test starts at the same instant; move it with pops.clock.advance()."""
    clock.freeze(FROZEN_AT)
    yield FROZEN_AT
    clock.reset()


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes():
    """Staff passwords hash in milliseconds: production's argon2 cost (seconds a member) is for attackers.
    Hashes made at production cost still verify: argon2 reads the cost from the hash."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


@pytest.fixture
def group(db):
    return make_group()


@pytest.fixture
def guarantor(group):
    return make_guarantor(group, **MARIA)


@pytest.fixture
def second(guarantor):
    """Sam Lee, Jr. (B2002), a second guarantor of Maria's group."""
    return make_guarantor(guarantor.group, **SAM)


@pytest.fixture
def west(db):
    """West Clinic (WEST), a practice in America/Los_Angeles: two hours behind Riverside."""
    return make_group(WEST)


@pytest.fixture
def ann(west):
    """Ann West (W1), a guarantor of West Clinic."""
    return make_guarantor(west, "W1", "Ann", "West", dt.date(1990, 1, 1))


@pytest.fixture
def ledger_rows(guarantor):
    """Maria's account, worked by hand (factories.build_ledger): the rows a test may want by name."""
    return build_ledger(guarantor)


@pytest.fixture
def staff(db):
    return make_staff()


@pytest.fixture
def admin(db):
    return make_staff("admin@example.org", role="admin")


# --- the web application over HTTP ---------------------------------------------------------

@pytest.fixture
def settings(db_url):
    from pops.settings import Settings

    return Settings(database_url=db_url, secret_key=SECRET, environment="test", base_url="http://testserver")


@pytest.fixture
def app(settings):
    from pops.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app, db):
    """A browser: no redirects followed, and a form token cookie that post_form() sends back."""
    with open_browser(app) as client:
        yield client

