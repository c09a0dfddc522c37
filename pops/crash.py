"""Test-only crash points: the server (or `pops worker`) kills itself (SIGKILL) at a named point of a payment, so a test
can restart it and check that nothing paid is lost or recorded twice.

Armed by create_app and pops.jobs.worker from `Settings.crash_at` (POPS_CRASH_AT), which only a test environment accepts.
"""
from __future__ import annotations

import os
import signal

AFTER_ATTEMPT = "after_attempt"  # the attempt is committed; the gateway has not been called
AFTER_GATEWAY = "after_gateway"  # the gateway answered a checkout or a stored-card charge; POPS has not recorded it
DURING_RETURN = "during_return"  # back from the hosted page: the gateway confirmed the result; POPS has not recorded it
AFTER_LOOKUP = "after_lookup"  # a job (or a waiting page) looked a payment up at the gateway; POPS has not recorded it
AFTER_SEND = "after_send"  # a job handed a message to the mail server or SMS provider; POPS has not recorded it
POINTS = (AFTER_ATTEMPT, AFTER_GATEWAY, DURING_RETURN, AFTER_LOOKUP, AFTER_SEND)

_armed: str | None = None


def arm(name: str | None) -> None:
    """Crash at `name` from now on (None: never)."""
    global _armed
    if name is not None and name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    _armed = name


def point(name: str) -> None:
    """The process dies here, at once and without cleaning up, if armed at `name`."""
    if name == _armed:
        os.kill(os.getpid(), signal.SIGKILL)
