"""Whether POPS can do its work: the liveness check's answer about the database."""
from __future__ import annotations

from .db import database


def database_error() -> str | None:
    """None when the database answers a query; else the kind of failure (its exception's class name)."""
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1").fetchone()
    except Exception as exc:  # any failure to reach the database is the answer, not a crash
        return type(exc).__name__
    return None
