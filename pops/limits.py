"""Limits decided by the database write itself, never by a count read earlier in the request.

`take` counts one more use of a key (an address) in a fixed window with conditional UPDATEs: the
row count says yes or no, so parallel requests on any number of processes never pass more than
the limit. `locked` and `lock` queue the requests of one row or key instead: PostgreSQL locks the
row (SELECT … FOR UPDATE) until the transaction ends; SQLite's IMMEDIATE transactions already
take the write lock up front, so there the lock is the transaction itself.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from peewee import ModelSelect

from . import clock
from .db import database
from .models import Throttle


def locked(query: ModelSelect) -> ModelSelect:
    """`query`, locking the rows it reads until the transaction ends (call inside one)."""
    return query.for_update() if database.for_update else query


def _ensure(kind: str, key: str, now: dt.datetime) -> None:
    Throttle.insert(kind=kind, key=key, count=0, window_start=now).on_conflict_ignore().execute()


def lock(kind: str, key: str) -> None:
    """Hold this key's row until the transaction ends, so its requests run one at a time."""
    _ensure(kind, key[:254], clock.now())
    locked(Throttle.select(Throttle.id).where((Throttle.kind == kind) & (Throttle.key == key[:254]))).execute()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    retry_after: dt.timedelta = dt.timedelta(0)  # when refused: until the window or the block ends
    blocked_now: bool = False  # this refusal started the block (record it once)

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds()))


def take(kind: str, key: str, limit: int, window: dt.timedelta, *, block: dt.timedelta | None = None) -> Verdict:
    """Count one use of `key`; refused (and not counted) once `limit` are in the current window.

    A window starts with the first use after the last one ended. With `block`, the first refusal
    refuses the key for that long (its window ends with it); without, until the window ends.
    """
    key = key[:254]
    now = clock.now()
    this = (Throttle.kind == kind) & (Throttle.key == key)
    free = Throttle.blocked_until.is_null() | (Throttle.blocked_until <= now)
    with database.atomic():
        _ensure(kind, key, now)
        if Throttle.update(count=1, window_start=now, blocked_until=None).where(
            this & free & (Throttle.window_start <= now - window)
        ).execute():
            return Verdict(True)
        if Throttle.update(count=Throttle.count + 1).where(
            this & free & (Throttle.window_start > now - window) & (Throttle.count < limit)
        ).execute():
            return Verdict(True)
        started = block is not None and bool(Throttle.update(blocked_until=now + block).where(this & free).execute())
        row = Throttle.get(this)
    if row.blocked_until is not None and row.blocked_until > now:
        return Verdict(False, row.blocked_until - now, started)
    return Verdict(False, row.window_start + window - now)
