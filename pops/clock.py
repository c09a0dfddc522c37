"""The one clock every time rule reads, so tests move time instead of sleeping."""
from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

_lock = threading.Lock()
_frozen: dt.datetime | None = None
_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """The current instant, timezone-aware in UTC."""
    with _lock:
        if _frozen is not None:
            return _frozen
        return dt.datetime.now(dt.timezone.utc) + _offset


def local_now(timezone: str) -> dt.datetime:
    return now().astimezone(ZoneInfo(timezone))


def today(timezone: str) -> dt.date:
    """Today's date in a group's time zone."""
    return local_now(timezone).date()


def freeze(at: dt.datetime) -> None:
    """Stop the clock at an instant (naive means UTC)."""
    global _frozen
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    with _lock:
        _frozen = at.astimezone(dt.timezone.utc)


def set_now(at: dt.datetime) -> None:
    """Run the clock from an instant onwards (naive means UTC): it keeps ticking, at a fixed offset from real time.

    For rehearsals (POPS_NOW); tests stop the clock with freeze() instead.
    """
    global _frozen, _offset
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    with _lock:
        _frozen = None
        _offset = at - dt.datetime.now(dt.timezone.utc)


def advance(delta: dt.timedelta | None = None, **kwargs: float) -> dt.datetime:
    """Move the clock forward (frozen or running) and return the new now()."""
    global _frozen, _offset
    step = delta if delta is not None else dt.timedelta(**kwargs)
    with _lock:
        if _frozen is not None:
            _frozen += step
        else:
            _offset += step
    return now()


def reset() -> None:
    global _frozen, _offset
    with _lock:
        _frozen = None
        _offset = dt.timedelta(0)
