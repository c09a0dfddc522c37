"""`pops worker`: runs the queue (PostgreSQL) until stopped (SIGINT or SIGTERM: jobs under way finish).

On start it takes back the jobs of workers that died mid-job and gives a job to every unsent
message that has none; then the periodic tasks repeat both every minute.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket

import procrastinate

from .. import crash, db
from ..gateways import from_settings
from ..payments import receipt_email
from ..settings import Settings
from . import tasks
from .queue import QUEUE, app


async def _run(settings: Settings, concurrency: int, wait: bool) -> None:
    connector = procrastinate.PsycopgConnector(conninfo=settings.database_url)
    with app.replace_connector(connector):
        async with app.open_async():
            await tasks.take_back_stalled_jobs()
            await asyncio.to_thread(tasks.sweep_outbox, timestamp=0)  # the every-minute sweep, once now
            await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, wait=wait,
                                       name=f"{socket.gethostname()}:{os.getpid()}")


def run(settings: Settings, *, concurrency: int = 4, wait: bool = True) -> int:
    """Run the jobs until stopped (or, without `wait`, until none is due); returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format="pops worker: %(levelname)s %(name)s: %(message)s")
    db.bind(settings.database_url, max(settings.db_pool, concurrency + 1))
    crash.arm(settings.crash_at if settings.environment == "test" else None)  # the crash tests' kill switch
    gateway = from_settings(settings, serving=False)  # POPS_GATEWAY: the gateway that settles
    tasks.configure(settings, gateway)
    receipt_email.say_test_mode(gateway.name == "sandbox" and settings.environment == "production")
    if wait:
        print(f"pops worker: running the jobs, {concurrency} at a time (Ctrl-C stops)", flush=True)
    asyncio.run(_run(settings, concurrency, wait))
    return 0
