"""A patient's page on PostgreSQL, on the server's event loop: its session's read and its touch awaited there
(db.LoopStatements), so that a view of an unchanged account keeps no thread while the database answers. A
patient's page reads, touches and counts its visit in one statement (sessions.read_ahead with a Visit).

A page that comes to any other statement (facts not kept, Home's pending charges, a form's work, a staff mirror)
stops before it (db.NeedsThread) having written nothing, since the loop's writes wait until the page is done,
and runs again on a thread, with the session it read ahead. With none of the loop's connections free within
db.LOOP_WAIT_SECONDS (db.LoopBusy), the page runs on a thread, or its touch is written from one.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from . import db, sessions

R = TypeVar("R")


async def serve(statements: db.LoopStatements, session_token: str | None, page: Callable[[], R],
                on_a_thread: Callable[[], Awaitable[R]],
                write_on_a_thread: Callable[[str, tuple], Awaitable[object]], visit: sessions.Visit | None = None) -> R:
    """`page()` on the loop with the session of `session_token` read ahead (for a patient's page, its `visit`:
    touched and counted in the same statement), its writes awaited after it; else `on_a_thread()` (the page
    again, with the session read ahead)."""
    try:
        ahead = await sessions.read_ahead(statements, session_token, visit)
    except db.LoopBusy:
        return await on_a_thread()
    with sessions.reading_ahead(ahead):
        try:
            with db.on_the_loop() as later:
                result = page()
        except db.NeedsThread:
            return await on_a_thread()
        for sql, params in later:  # the touch: before the answer, as on a thread
            try:
                await statements.write(sql, params)
            except db.LoopBusy:  # not sent: written from a thread instead
                await write_on_a_thread(sql, params)
    return result


def write(sql: str, params: tuple) -> None:
    """A write kept for the loop, written instead on a thread (in the request's database scope)."""
    db.execute(sql, params)
