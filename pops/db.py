"""The database from its URL: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (pooled)."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import Database, DatabaseProxy, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

database = DatabaseProxy()

BUSY_TIMEOUT_MS = 10000  # how long a SQLite connection waits for another's write lock
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": BUSY_TIMEOUT_MS,
    "foreign_keys": 1,
    "synchronous": "normal",
}
POOL_WAIT_SECONDS = 30  # a request waits this long for a free connection before failing
POOL_RECYCLE_SECONDS = 3600  # a connection older than this is closed on its way back


class _NotOnTheLoop:
    """PostgreSQL as Peewee opens it, but not for a page on the event loop (on_the_loop): it would wait there."""

    def connect(self, reuse_if_open=False):
        if _on_the_loop.get() is not None:
            raise NeedsThread
        return super().connect(reuse_if_open)


class _Postgres(_NotOnTheLoop, PostgresqlDatabase):
    """A PostgreSQL connection of its own (commands, tests); the server's are pooled (CheckedPool)."""


class CheckedPool(_NotOnTheLoop, PooledPostgresqlDatabase):
    """A PostgreSQL pool that health-checks a connection before handing it out.

    A connection idle for PING_AFTER seconds or more is asked `SELECT 1` first (the server or a
    proxy may have dropped it meanwhile); a dead one is discarded and another taken or opened.
    A connection back within the last seconds is only checked locally: no round trip per request.
    """

    PING_AFTER = 5.0

    def __init__(self, *args, **kwargs):
        self._returned_at: dict[int, float] = {}
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn) -> bool:
        returned_at = self._returned_at.pop(id(conn), 0.0)
        if conn.closed:
            return True
        if time.monotonic() - returned_at < self.PING_AFTER and self._adapter.txn_status(conn) == self._adapter.txn_idle:
            return False
        if super()._is_closed(conn):
            self._close_raw(conn)
            return True
        return False

    def _can_reuse(self, conn) -> bool:
        self._returned_at[id(conn)] = time.monotonic()
        return super()._can_reuse(conn)


POSTGRES_SCHEMES = {"postgres", "postgresql"}


def is_postgres_url(url: str) -> bool:
    return urlparse(url).scheme in POSTGRES_SCHEMES


def open_database(url: str, pool: int | None = None) -> Database:
    """A Peewee database for a `sqlite:///path` or `postgresql://…` URL (not yet connected).

    With `pool`, PostgreSQL connections are pooled (at most that many, health-checked); SQLite
    ignores it: each thread keeps its own connection (see request_scope).
    """
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
        return _Sqlite(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    if parsed.scheme in POSTGRES_SCHEMES:
        params = {
            "user": unquote(parsed.username) if parsed.username else None,
            "password": unquote(parsed.password) if parsed.password else None,
            "host": parsed.hostname or None,
            "port": parsed.port or None,
        }
        name = unquote(parsed.path.lstrip("/"))
        if pool:
            return CheckedPool(name, max_connections=pool, stale_timeout=POOL_RECYCLE_SECONDS,
                               timeout=POOL_WAIT_SECONDS, **params)
        return _Postgres(name, **params)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")


class _Busy(Exception):
    """The database was busy (another connection's write lock) before this work had written anything."""


class _Watch:
    wrote = False


_watching: ContextVar[_Watch | None] = ContextVar("pops_without_waiting", default=None)


class _Sqlite(SqliteDatabase):
    """SQLite as POPS opens it; under without_waiting() a statement notices the first write of the work."""

    def _initialize_connection(self, conn):
        super()._initialize_connection(conn)
        self._state.busy_ms = BUSY_TIMEOUT_MS  # as its pragmas set it

    def wait_for_writers(self, ms: int) -> None:
        """This thread's connection waits up to `ms` for another's write lock (a PRAGMA only when that changes)."""
        if getattr(self._state, "busy_ms", None) != ms:
            self.connection().execute(f"PRAGMA busy_timeout = {ms}")
            self._state.busy_ms = ms

    def execute_sql(self, sql, params=None):
        watch = _watching.get()
        if watch is None or watch.wrote:
            self.wait_for_writers(BUSY_TIMEOUT_MS)  # outside without_waiting, or once its work has written
            return super().execute_sql(sql, params)
        conn = self.connection()
        changes = conn.total_changes
        try:
            cursor = super().execute_sql(sql, params)
        except OperationalError as exc:
            _not_yet_if_busy(exc)
            raise
        if conn.total_changes != changes:
            _wrote(watch, conn)
        return cursor

    def begin(self, lock_type=None):
        watch = _watching.get()
        if watch is None or watch.wrote:
            self.wait_for_writers(BUSY_TIMEOUT_MS)
            return super().begin(lock_type)
        try:
            super().begin(lock_type)
        except OperationalError as exc:
            _not_yet_if_busy(exc)
            raise
        if (lock_type or self._lock_type) != "DEFERRED":  # BEGIN IMMEDIATE: the write lock is held
            _wrote(watch, self.connection())


def _not_yet_if_busy(exc: OperationalError) -> None:
    """Another connection's write lock, met before the work has written: _Busy (the work is run again later)."""
    if "locked" in str(exc) or "busy" in str(exc):
        raise _Busy from exc


def _wrote(watch: _Watch, conn) -> None:
    """The work has written (or holds the write lock): from its next statement on it waits for the lock like any
    other work (_Sqlite.execute_sql), since it cannot be run again."""
    watch.wrote = True


def without_waiting(work: Callable[..., object], *args) -> object | None:
    """Run `work(*args)` on SQLite without waiting for another connection's write lock until it has written;
    None, with nothing written, when it found the database busy before that (run it where it may wait).

    For pages on the event loop (see create_app): a page writes first of all the touch that counts the
    visit, so it either finds the lock free at once or goes back to a thread having changed nothing. A
    page that writes again after that (a staff mirror touches two sessions) waits for the lock there, as
    it would on a thread; writers hold it a statement at a time, so that is a rare millisecond.
    """
    db = database.obj
    db.connect(reuse_if_open=True)
    watch = _Watch()
    token = _watching.set(watch)
    db.wait_for_writers(0)  # kept after the work: the next page on this thread (the loop's) starts from it
    try:
        return work(*args)
    except _Busy:
        return None
    finally:
        _watching.reset(token)


# --- PostgreSQL: a page's first statements awaited on the event loop ---------------------------------

LOOP_CONNECTIONS = 2  # of POPS_DB_POOL, the connections a process keeps for LoopStatements (4 or more in all)
LOOP_WAIT_SECONDS = 1.0  # a page waits this long for one of them, then runs on a thread (LoopBusy)
LOOP_APPLICATION_NAME = "pops-loop"  # how they show in pg_stat_activity
# What the loop writes is a session's activity (its touch, a page visit counted), never money: its commits do not
# wait for the WAL to reach the disk. A crash of PostgreSQL itself may lose the last fraction of a second of such
# writes (wal_writer_delay, three times at most); nothing else is affected. Every patient's page would otherwise
# hold its session row through a disk flush, one page after another.
LOOP_SESSION_SETTINGS = "SET synchronous_commit TO off"


class NeedsThread(BaseException):
    """A page on the event loop came to a statement it would wait on (PostgreSQL): run it on a thread instead.

    Raised before anything was written (the loop's writes wait until the page is done: on_the_loop), so the
    page runs again from the start. A BaseException: a page's own `except Exception` does not catch it.
    """


_on_the_loop: ContextVar[list | None] = ContextVar("pops_pg_on_the_loop", default=None)


@contextlib.contextmanager
def on_the_loop() -> Iterator[list[tuple[str, tuple]]]:
    """Within it (a page run on the event loop, PostgreSQL), a Peewee statement raises NeedsThread, and
    write_after() keeps its write for LoopStatements to run once the page is done: the list it yields."""
    later: list[tuple[str, tuple]] = []
    token = _on_the_loop.set(later)
    try:
        yield later
    finally:
        _on_the_loop.reset(token)


def write_after(sql: str, params: tuple) -> int | None:
    """A one-statement write (`?` parameters): run now, its row count; within on_the_loop(), kept to run when
    the page is done (None: not yet known), on a connection whose commits do not wait for the disk
    (LOOP_SESSION_SETTINGS): a session's activity only, never money."""
    later = _on_the_loop.get()
    if later is None:
        return execute(sql, params).rowcount
    later.append((sql, params))
    return None


class LoopBusy(Exception):
    """None of the loop's connections came free within LOOP_WAIT_SECONDS (or the database is not answering),
    or a read found its connection dropped: nothing was written; the page runs on a thread instead."""


async def _loop_connection_settings(connection) -> None:
    await connection.execute(LOOP_SESSION_SETTINGS)


class _OnConnection:
    """One loop connection's statements, sent at libpq's level (psycopg.pq) and their rows read through psycopg's
    own adapters (the values its cursors give): the cursor's machinery around them costs about 130 µs of CPU a
    statement, several times what the statement itself costs the process. Each statement is prepared on its
    connection the first time it is sent with its parameters' types, as psycopg does with prepare_threshold 0."""

    __slots__ = ("pgconn", "encoding", "transformer", "prepared")

    def __init__(self, connection) -> None:
        from psycopg.adapt import Transformer

        self.pgconn, self.encoding = connection.pgconn, connection.info.encoding
        self.transformer = Transformer.from_context(connection)
        self.prepared: dict[tuple, bytes] = {}

    async def run(self, sql: str, params: tuple):
        """The statement's result (psycopg.pq.PGresult); a failed one raises psycopg's error, a dropped
        connection psycopg.OperationalError."""
        from psycopg.adapt import PyFormat

        transformer, pgconn = self.transformer, self.pgconn
        values = transformer.dump_sequence(params, [PyFormat.AUTO] * len(params)) if params else None
        key = (sql, transformer.types) if params else (sql,)
        name = self.prepared.get(key)
        if name is None:
            name = f"pops_loop_{len(self.prepared)}".encode()
            pgconn.send_prepare(name, _numbered(sql).encode(), param_types=transformer.types if params else None)
            self._checked(await self._result())
            self.prepared[key] = name
        pgconn.send_query_prepared(name, values, param_formats=transformer.formats if params else None)
        return self._checked(await self._result())

    async def _result(self):
        pgconn, fd = self.pgconn, self.pgconn.socket
        while pgconn.flush():  # the rest of a statement that did not fit the socket's buffer (rare)
            await _ready(fd, writing=True)
        pgconn.consume_input()
        while pgconn.is_busy():
            await _ready(fd)
            pgconn.consume_input()
        result = pgconn.get_result()
        while pgconn.get_result() is not None:  # the end of the statement's results
            pass
        return result

    def _checked(self, result):
        from psycopg import OperationalError, errors, pq

        if result is None:
            raise OperationalError("the connection was lost")
        if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            return result
        raise errors.error_from_result(result, encoding=self.encoding)

    def first_row(self, result) -> tuple | None:
        if result.ntuples == 0:
            return None
        self.transformer.set_pgresult(result)
        return self.transformer.load_row(0, tuple)


async def _ready(fd: int, writing: bool = False) -> None:
    """Until the socket can be read (or written): a future the event loop resolves, nothing more."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    (loop.add_writer if writing else loop.add_reader)(fd, wake)
    try:
        await future
    finally:
        (loop.remove_writer if writing else loop.remove_reader)(fd)


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """A statement's `?` parameters as PostgreSQL's own $1, $2, ..."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


class LoopStatements:
    """PostgreSQL statements awaited on the event loop (psycopg 3's asynchronous pool, autocommit, each statement
    prepared on each connection): a patient's page reads its session and writes its touch here, so it keeps no
    thread while they wait. The pool opens in the background: a server starts, and answers /healthz, whether or
    not the database does."""

    def __init__(self, url: str, size: int = LOOP_CONNECTIONS) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.pool = AsyncConnectionPool(url, min_size=1, max_size=size, open=False, timeout=LOOP_WAIT_SECONDS,
                                        kwargs={"autocommit": True, "prepare_threshold": 0,
                                                "application_name": LOOP_APPLICATION_NAME},
                                        configure=_loop_connection_settings)
        self._free = asyncio.Semaphore(size)
        self._on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> _OnConnection

    async def open(self) -> "LoopStatements":
        await self.pool.open(wait=False)
        return self

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self):
        """One of the pool's connections (its _OnConnection). Pages queue for one on a semaphore (a waiting page
        costs a future), so that the pool, whose own waiting costs a task each time, is asked only when one is free."""
        from psycopg_pool import PoolTimeout

        try:
            async with asyncio.timeout(LOOP_WAIT_SECONDS):
                await self._free.acquire()
        except TimeoutError as exc:
            raise LoopBusy from exc
        try:
            try:
                connection = await self.pool.getconn()  # its own timeout still holds (a connection held elsewhere)
            except PoolTimeout as exc:
                raise LoopBusy from exc
            try:
                on_it = self._on.get(connection)
                if on_it is None:
                    on_it = self._on[connection] = _OnConnection(connection)
                yield on_it
            finally:
                await self.pool.putconn(connection)
        finally:
            self._free.release()

    async def fetch_one(self, sql: str, params: tuple) -> tuple | None:
        """A read: a connection the server dropped (a restart) is let go by the pool, and the page runs on a
        thread (LoopBusy), whose pool pings a connection before using it after an idle spell."""
        from psycopg import OperationalError as Dropped

        async with self._connection() as conn:
            try:
                return conn.first_row(await conn.run(sql, params))
            except Dropped as exc:
                raise LoopBusy from exc

    async def write(self, sql: str, params: tuple) -> int:
        async with self._connection() as conn:
            return int((await conn.run(sql, params)).command_tuples or 0)


_last_bound: Database | None = None


def bind(url: str, pool: int | None = None) -> Database:
    """Open the database for a URL and make it the one every model uses.

    The pool bound before it (another app in the same process: tests, benches) lets its idle
    connections go.
    """
    global _last_bound
    if isinstance(_last_bound, CheckedPool):
        _last_bound.close_idle()
    db = open_database(url, pool)
    database.initialize(db)
    _last_bound = db
    return db


@contextlib.contextmanager
def request_scope() -> Iterator[None]:
    """The connection one request's work runs in (see create_app).

    PostgreSQL: taken from the pool for the request, returned after it. SQLite: the thread's
    own connection, opened on its first request and kept for the next ones.
    """
    db = database.obj
    if isinstance(db, SqliteDatabase):
        db.connect(reuse_if_open=True)
        yield
        return
    with db.connection_context():
        yield


def execute(sql: str, params: tuple | list = ()):
    """Run a hand-written statement (`?` marks its parameters) on the bound database; its cursor.

    For the few statements every page runs: no query building. SQLite keeps each connection's
    statements compiled itself; on pooled PostgreSQL (the server's) the statement is prepared once
    per connection (PREPARE, then EXECUTE each time), so the server plans it once, not on every
    request.
    """
    db = database.obj
    if not isinstance(db, CheckedPool):  # SQLite, or a PostgreSQL connection that ends with its work
        return db.execute_sql(_in_style(sql, db.param), params)
    name, prepare, run = _prepared_forms(sql, len(params))
    ready = _prepared.setdefault(db.connection(), set())
    if name not in ready:
        db.execute_sql(prepare)
        ready.add(name)
    return db.execute_sql(run, params)


_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> names prepared on it


@functools.lru_cache(maxsize=256)
def _in_style(sql: str, param: str) -> str:
    return sql if param == "?" else sql.replace("?", param)


@functools.lru_cache(maxsize=256)
def _prepared_forms(sql: str, count: int) -> tuple[str, str, str]:
    """A statement's name, its PREPARE (parameters $1, $2, ...) and its EXECUTE (psycopg's %s)."""
    name = "pops_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
    if sql.count("?") != count:
        raise ValueError(f"{sql.count('?')} parameters in the statement, {count} given")
    run = f"EXECUTE {name} ({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
    return name, f"PREPARE {name} AS {_numbered(sql)}", run


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)
