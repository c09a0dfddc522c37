"""The job queue on PostgreSQL: procrastinate, its jobs deferred on Peewee's own connection.

A message's job is deferred by the same connection, in the same transaction, as the message's
row: both commit or neither does, so no job is lost between the two. `pops worker` runs the
queue (pops.jobs.tasks); any number of workers and servers share one database. SQLite has no
queue: `pops serve` runs the same work itself (pops.jobs.runner).

procrastinate is pinned to one minor version: its schema is applied by POPS's migrations
(0006), and a newer procrastinate comes with a POPS migration that applies its schema changes.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import procrastinate
from peewee import SQL, Node, NodeList
from procrastinate.contrib.psycopg2.psycopg2_connector import wrap_exceptions
from psycopg2.extras import Json

from .. import clock
from ..db import database, is_postgres

DELIVER = "pops.deliver_message"  # the task that sends one outbox message
QUEUE = "pops"


class PeeweeConnector(procrastinate.BaseConnector):
    """procrastinate's queries on the connection Peewee holds for this thread (its transaction included)."""

    def get_sync_connector(self) -> PeeweeConnector:
        return self

    def open(self, pool: Any = None) -> None:
        pass

    def close(self) -> None:
        pass

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, dict):
            return Json(value)
        if isinstance(value, list):
            return [self._wrap(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self._wrap(item) for item in value)
        return value

    def _execute(self, query: str, arguments: dict[str, Any]):
        with wrap_exceptions():
            return database.execute_sql(query, {key: self._wrap(value) for key, value in arguments.items()})

    def _rows(self, cursor) -> list[dict[str, Any]]:
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def execute_query(self, query: str, **arguments: Any) -> None:
        self._execute(query, arguments)

    def execute_query_one(self, query: str, **arguments: Any) -> dict[str, Any]:
        return self._rows(self._execute(query, arguments))[0]

    def execute_query_all(self, query: str, **arguments: Any) -> list[dict[str, Any]]:
        return self._rows(self._execute(query, arguments))


# The tasks' app: `pops worker` runs it on its own (asynchronous) connector. Jobs are deferred
# through _deferring, which stays on Peewee's connection in every process, the worker's included.
app = procrastinate.App(connector=PeeweeConnector(), import_paths=["pops.jobs.tasks"])
_deferring = procrastinate.App(connector=PeeweeConnector())


def active() -> bool:
    """Whether jobs go through the queue: PostgreSQL (SQLite runs them in `pops serve`)."""
    return is_postgres()


def defer(task: str, *, lock: str | None = None, **arguments: Any) -> None:
    """Queue a run of `task` now, on Peewee's connection (tests, scripts; the periodic tasks queue themselves)."""
    _deferring.configure_task(task, queue=QUEUE, lock=lock).defer(**arguments)


def defer_message(message_id: int, at: dt.datetime | None = None) -> None:
    """Queue the job that sends one outbox message (at `at` by pops.clock, else now), on Peewee's connection.

    The delay is counted from pops.clock's now, so a rehearsal clock (POPS_NOW) and the queue agree.
    """
    if not active():
        return
    delay = max(0.0, (at - clock.now()).total_seconds()) if at is not None else 0.0
    _deferring.configure_task(DELIVER, queue=QUEUE, lock=f"outbox:{message_id}",
                       schedule_in={"seconds": delay} if delay else None).defer(message_id=message_id)


def has_job(message_id: Node) -> Node:
    """A condition: the message (an id column) has a job waiting or running."""
    return NodeList((SQL("EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.status IN ('todo', 'doing') "
                         "AND j.lock = 'outbox:' ||"), message_id, SQL(")")))


def forget_all_jobs() -> None:
    """Empty the queue (PostgreSQL): for `pops demo`, which starts its database again."""
    if active():
        database.execute_sql("TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers"
                             " RESTART IDENTITY CASCADE")
