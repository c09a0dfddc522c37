"""Settings from POPS_* variables; the secret key rules."""
from __future__ import annotations

import pytest

from pops.db import open_database
from pops.settings import Settings, SettingsError


def test_defaults_and_overrides():
    default = Settings.from_env({})
    assert default.database_url == "sqlite:///var/pops.sqlite3"
    assert default.environment == "production"
    custom = Settings.from_env({
        "POPS_DATABASE_URL": "postgresql://u@h/db", "POPS_BASE_URL": "https://pay.example.org/",
        "POPS_SECRET_KEY": "s" * 40, "POPS_ENV": "development",
    })
    assert custom.database_url == "postgresql://u@h/db"
    assert custom.base_url == "https://pay.example.org"
    assert custom.secure_cookies
    assert custom.environment == "development"


def test_production_needs_a_secret():
    with pytest.raises(SettingsError, match="POPS_SECRET_KEY is not set"):
        Settings.from_env({}).with_secret()
    with pytest.raises(SettingsError, match="too short"):
        Settings.from_env({"POPS_SECRET_KEY": "short"}).with_secret()


def test_development_generates_a_secret_once_and_keeps_it(tmp_path):
    env = {"POPS_ENV": "development", "POPS_DATA_DIR": str(tmp_path)}
    first = Settings.from_env(env).with_secret().secret_key
    second = Settings.from_env(env).with_secret().secret_key
    assert first == second and len(first) >= 48
    assert (tmp_path / "secret-key").stat().st_mode & 0o077 == 0


def test_bad_values_are_clear_errors():
    with pytest.raises(SettingsError, match="POPS_ENV"):
        Settings.from_env({"POPS_ENV": "prod"})
    with pytest.raises(SettingsError, match="POPS_STAFF_IDLE_MINUTES"):
        Settings.from_env({"POPS_STAFF_IDLE_MINUTES": "ten"})


def test_database_urls(tmp_path):
    sqlite = open_database(f"sqlite:///{tmp_path}/a/b.sqlite3")
    assert sqlite.database.endswith("a/b.sqlite3") and (tmp_path / "a").is_dir()
    with sqlite:
        assert sqlite.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert sqlite.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert sqlite.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10000
    pg = open_database("postgresql://someone:p%40ss@db.example:5433/pops")
    assert pg.database == "pops" and pg.connect_params["password"] == "p@ss" and pg.connect_params["port"] == 5433
    with pytest.raises(ValueError, match="unsupported"):
        open_database("mysql://x/y")
