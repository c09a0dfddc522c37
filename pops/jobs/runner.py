"""The job runner: a thread that sends the outbox and settles unfinished payments.

Requests only record (an outbox message, a payment attempt) and answer; this does the rest. Any
number of POPS processes may share a database: the one holding the lease row (JobLease
"runner") runs the jobs, renewing it on every round; another takes over once it lapses.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import sys
import threading
import time

from peewee import IntegrityError

from .. import clock, notify, payments
from ..db import database
from ..gateways import Gateway
from ..models import JobLease
from ..settings import Settings

POLL_SECONDS = 1.0  # how soon a queued message goes out
SETTLE_EVERY_SECONDS = 60.0  # how often unfinished payments are looked up
LEASE = dt.timedelta(seconds=30)  # a runner that stops renewing is replaced after this
RUNNER = "runner"


def deliver_outbox(settings: Settings) -> int:
    """The delivery job: send every message that is due; returns how many went out."""
    return notify.deliver(settings)


def settle_payments(gateway: Gateway) -> dict[str, int]:
    """The settle job: look unfinished payments up by key and record what the gateway says."""
    return payments.settle_pending(gateway)


def charge_plans(settings: Settings, gateway: Gateway) -> dict[str, int]:
    """The plans job: reminders, each payment plan instalment due today in its group's time zone, autopay."""
    from ..plans import charging  # plans build on payments and notify, which import this package

    return {f"plans_{k}": v for k, v in charging.charge_due(gateway, settings.base_url).items()}


def send_reminders(settings: Settings) -> dict[str, int]:
    """The reminders job: statement reminders due by pops.clock's today in each group's zone (pops.texts.reminders)."""
    from ..texts import reminders  # it builds on notify and plans, which import this package

    return {"reminders": reminders.send_due(settings.secret_key, settings.base_url)}


def take_lease(holder: str, name: str = RUNNER) -> bool:
    """Hold (or renew) the lease `name` for LEASE; False while another holder's lease runs."""
    now = clock.now()
    if JobLease.update(holder=holder, until=now + LEASE).where(
        (JobLease.name == name)
        & ((JobLease.holder == holder) | JobLease.until.is_null() | (JobLease.until < now))
    ).execute():
        return True
    try:
        with database.atomic():
            JobLease.create(name=name, holder=holder, until=now + LEASE)
    except IntegrityError:
        return False  # someone else's lease is running
    return True


def release_lease(holder: str, name: str = RUNNER) -> None:
    JobLease.update(until=None).where((JobLease.name == name) & (JobLease.holder == holder)).execute()


def run_once(settings: Settings, gateway: Gateway, *, settle: bool = True) -> dict[str, int]:
    """One round of every job (the runner's loop, and tests): settle, then send what is due."""
    done: dict[str, int] = {}
    if settle:
        done.update(settle_payments(gateway))
        done.update(charge_plans(settings, gateway))
        done.update(send_reminders(settings))
    done["sent"] = deliver_outbox(settings)
    return done


class Runner:
    """The jobs in a daemon thread: start() and stop() (the app's lifespan calls them)."""

    def __init__(self, settings: Settings, gateway: Gateway, *, poll: float = POLL_SECONDS,
                 settle_every: float = SETTLE_EVERY_SECONDS, lease: bool = True):
        self.settings = settings
        self.gateway = gateway
        self.poll = poll
        self.settle_every = settle_every
        self.lease = lease  # `pops worker` (PostgreSQL) runs without: its sends claim rows with SKIP LOCKED
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:100]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._settled_at = time.monotonic()  # the first settle a minute in, as the settle job always did
        self._renew_at = 0.0  # when to renew the lease (at once: take it first)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pops-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._renew_at = 0.0
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            with database.connection_context():
                release_lease(self.holder)
        except Exception as exc:  # the lease lapses on its own
            print(f"jobs: could not release the lease: {exc!r}", file=sys.stderr)

    def round(self) -> dict[str, int]:
        """One round if this process holds the lease (else nothing)."""
        with database.connection_context():
            if self.lease and time.monotonic() >= self._renew_at:  # a third of the way through the lease: fewer writes
                if not take_lease(self.holder):
                    return {}
                self._renew_at = time.monotonic() + LEASE.total_seconds() / 3
            settle = time.monotonic() - self._settled_at >= self.settle_every
            if settle:
                self._settled_at = time.monotonic()
            return run_once(self.settings, self.gateway, settle=settle)

    def run_forever(self) -> None:
        """The loop in the calling thread (`pops worker`) until request_stop() (a signal handler)."""
        self._loop()

    def request_stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.round()
            except Exception as exc:  # a bad round must not stop the jobs; the next one retries
                print(f"jobs: {exc!r}", file=sys.stderr, flush=True)
