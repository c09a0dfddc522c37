"""Versioned migrations: the schema matches the models, old databases upgrade in place, serve refuses stale ones."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from playhouse.schema_diff import diff_models

from pops import migrate
from pops.db import open_database
from pops.models import Group
from pops.schema import TABLES


def test_the_migrations_build_exactly_the_schema_the_models_describe(db):
    assert migrate.pending(db) == []
    diff = diff_models(db, TABLES)
    assert not diff, f"models and migrations disagree; write a migration: {diff!r}"


def test_an_existing_database_upgrades_in_place(tmp_path, db):
    directory = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    Group.create(code="RFM", name="Riverside")
    (directory / "0099_group_motto.py").write_text(
        "from peewee import TextField\n\n"
        "def up(migrator, db):\n"
        "    migrator.migrate(migrator.add_column('group', 'motto', TextField(default='')))\n"
    )
    assert migrate.pending(db, directory) == ["0099_group_motto"]
    try:
        assert migrate.upgrade(db, directory) == ["0099_group_motto"]
        assert migrate.pending(db, directory) == []
        columns = {c.name for c in db.get_columns("group")}
        assert "motto" in columns
        assert Group.get(Group.code == "RFM").name == "Riverside"  # data kept
    finally:  # PostgreSQL keeps one schema for the whole run: put it back
        if "motto" in {c.name for c in db.get_columns("group")}:
            db.execute_sql('ALTER TABLE "group" DROP COLUMN motto')
        db.execute_sql("DELETE FROM schema_migration WHERE name = '0099_group_motto'")


def _pops(*args, env):
    return subprocess.run([sys.executable, "-m", "pops", *args], env=env, capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_database_that_needs_a_migration_and_says_how(tmp_path):
    env = {**os.environ, "POPS_DATABASE_URL": f"sqlite:///{tmp_path}/old.sqlite3", "POPS_SECRET_KEY": "k" * 40}
    result = _pops("serve", "--port", "1", env=env)
    assert result.returncode == 2
    assert "0001_initial" in result.stderr and "pops migrate" in result.stderr
    assert _pops("migrate", env=env).returncode == 0
    assert migrate.pending(open_database(env["POPS_DATABASE_URL"])) == []


def test_serve_in_production_without_a_secret_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env["POPS_DATABASE_URL"] = f"sqlite:///{tmp_path}/p.sqlite3"
    result = _pops("serve", env=env)
    assert result.returncode == 2
    assert "POPS_SECRET_KEY is not set" in result.stderr
