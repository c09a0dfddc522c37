"""Fixtures: a fresh database per test (SQLite, or PostgreSQL with POPS_TEST_DATABASE_URL), a frozen clock,
cheap password hashes."""
from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
from argon2 import PasswordHasher

from pops import clock, migrate, staff as staff_accounts
from pops.db import bind, database, open_database
from pops.schema import TABLES

PG_URL = os.environ.get("POPS_TEST_DATABASE_URL")
FROZEN_AT = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc)


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}"


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
    db = open_database(PG_URL)
    with db:
        db.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    migrate.upgrade(db)
    db.close()
    return db


@pytest.fixture
def db_url(request, tmp_path):
    """The URL of a fresh, migrated database for this test."""
    if PG_URL:
        pg = request.getfixturevalue("_postgres")
        with pg:
            tables = ", ".join(f'"{m._meta.table_name}"' for m in TABLES)
            pg.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
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
    from pops.models import Group

    return Group.create(code="RFM", name="Riverside Family Medicine", footer_phone="(555) 010-2000",
                        timezone="America/Chicago", session_idle_timeout=15)


@pytest.fixture
def guarantor(group):
    from pops.models import Guarantor

    return Guarantor.create(account="A1001", group=group, first_name="Maria", last_name="Lopez",
                            date_of_birth=dt.date(1981, 4, 12), email="maria@example.org", mobile="+15555550123")


# --- the web application over HTTP ---------------------------------------------------------

SECRET = "q" * 48
CSRF = "csrf-token-for-tests-0123456789"


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
    from starlette.testclient import TestClient

    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set("pops_csrf", CSRF)
        yield client


def post_form(client, url: str, data: dict | None = None, **kwargs):
    """POST a plain form as the browser would, with its form token."""
    return client.post(url, data={"csrf": CSRF, **(data or {})}, **kwargs)


def sign_in_as(client, guarantor, *, quickpay: bool = False, origin: str = "sign_in", staff=None):
    """Give `client` a live patient session for `guarantor` (as a completed sign-in or link would)."""
    from pops import sessions

    auth = "staff" if staff else ("quickpay" if quickpay else "code")
    token, session = sessions.start_patient(guarantor, origin, auth, quickpay=quickpay, staff=staff)
    client.cookies.set("pops_session", token)
    if staff is not None:  # a mirror lives on its staff member's own session, in the same browser
        staff_token, _ = sessions.start_staff(staff)
        client.cookies.set("pops_staff", staff_token)
    return session
