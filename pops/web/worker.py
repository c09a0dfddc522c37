"""What one server process needs of its own: its thread pools capped, and in tests its name on each answer."""
from __future__ import annotations

import asyncio
import os
import weakref

from anyio import CapacityLimiter, to_thread
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = b"x-pops-worker"


class WorkerMiddleware:
    """Caps this process's request threads at `threads` (as many as its database connections) on
    startup; with `name_worker` (POPS_ENV=test), every response carries `X-POPS-Worker: PID`."""

    def __init__(self, app: ASGIApp, threads: int, name_worker: bool = False) -> None:
        self.app, self.threads, self.name_worker = app, threads, name_worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            to_thread.current_default_thread_limiter().total_tokens = self.threads
        if scope["type"] != "http" or not self.name_worker:
            await self.app(scope, receive, send)
            return
        pid = str(os.getpid()).encode()

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (WORKER_HEADER, pid)]}
            await send(message)

        await self.app(scope, receive, named)


# SQLite takes one writer at a time and Python runs one thread at a time: more threads only make a page
# wait longer (and each wait costs the process a switch). A patient's page runs on the event loop
# (pops.web.guards); staff pages, and patient pages that found the database busy, take turns on these.
# Forms and the pages that may wait on the payment gateway keep the general pool (POPS_DB_POOL threads).
SQLITE_PAGE_THREADS = 2


def page_thread_count(postgres: bool, pool: int) -> int | None:
    """The page threads of a process: on SQLite SQLITE_PAGE_THREADS (at most the pool); None on PostgreSQL,
    whose pages share the general pool (each holds a pooled connection)."""
    return None if postgres else min(SQLITE_PAGE_THREADS, pool)


def page_threads(app: Starlette) -> CapacityLimiter | None:
    """The limiter a page of this app runs under (None: the general pool); one per event loop."""
    count = getattr(app.state, "page_threads", None)
    if count is None:
        return None
    by_loop = getattr(app.state, "page_limiters", None)
    if by_loop is None:
        by_loop = app.state.page_limiters = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    limiter = by_loop.get(loop)
    if limiter is None:
        limiter = by_loop[loop] = CapacityLimiter(count)
    return limiter


def loop_statements(app: Starlette):
    """The connections this app's pages await on the running event loop (PostgreSQL: the LoopStatements the
    app's lifespan opened there); None elsewhere (SQLite, a loop without a lifespan). One set per loop, as an
    app may serve several (tests' browsers)."""
    by_loop = getattr(app.state, "loop_statements", None)
    return None if not by_loop else by_loop.get(asyncio.get_running_loop())
