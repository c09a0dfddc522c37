"""Fixtures: a fresh database per test (SQLite, or PostgreSQL with POPS_TEST_DATABASE_URL), a frozen clock."""
from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

from pops import clock, migrate
from pops.db import bind, database, open_database
from pops.models import MODELS

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
            tables = ", ".join(f'"{m._meta.table_name}"' for m in MODELS)
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
