"""The database from its URL: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def open_database(url: str) -> Database:
    """A Peewee database for a `sqlite:///path` or `postgresql://…` URL (not yet connected)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them
        path = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"a SQLite URL needs a file path: {url!r}")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction takes the write lock up front, so two writers queue
        # on busy_timeout instead of failing midway on a lock upgrade.
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    if parsed.scheme in {"postgres", "postgresql"}:
        return PostgresqlDatabase(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None,
            port=parsed.port or None,
        )
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")


def bind(url: str) -> Database:
    """Open the database for a URL and make it the one every model uses."""
    db = open_database(url)
    database.initialize(db)
    return db


def request_scope():
    """The connection one request's work runs in: opened for it, closed after (see create_app)."""
    return database.connection_context()


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)
