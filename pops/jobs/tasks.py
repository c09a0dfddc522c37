"""The queue's tasks (PostgreSQL, `pops worker`): send one message, settle payments, sweep, and
take back the jobs of a worker that died mid-job.

Every task is safe to run again: a message is claimed (FOR UPDATE SKIP LOCKED) and sent only
while still unsent, a payment is recorded by a conditional update. Scheduled work is found by
pops.clock (a rehearsal's POPS_NOW included), never by the queue's own clock.
"""
from __future__ import annotations

import sys

from .. import notify, payments
from ..db import database
from ..gateways import Gateway
from ..settings import Settings
from .queue import DELIVER, QUEUE, app

STALLED_AFTER_SECONDS = 30  # a worker silent this long (it beats every 10 s) is dead: its jobs run again


class _Context:
    settings: Settings | None = None
    gateway: Gateway | None = None


def configure(settings: Settings, gateway: Gateway) -> None:
    """What the tasks send and settle with (`pops worker` calls this before it runs the queue)."""
    _Context.settings, _Context.gateway = settings, gateway


@app.task(name=DELIVER, queue=QUEUE)
def deliver_message(message_id: int) -> None:
    with database.connection_context():
        notify.deliver_one(_Context.settings, message_id)


@app.periodic(cron="* * * * *", periodic_id="settle")
@app.task(name="pops.settle_payments", queue=QUEUE, lock="settle", queueing_lock="settle")
def settle_payments(timestamp: int) -> None:
    with database.connection_context():
        counts = payments.settle_pending(_Context.gateway)
    if counts:
        print(f"pops worker: settled {counts}", flush=True)


@app.periodic(cron="* * * * *", periodic_id="plans")
@app.task(name="pops.charge_plans", queue=QUEUE, lock="plans", queueing_lock="plans")
def charge_plans(timestamp: int) -> None:
    """Payment plan instalments due by pops.clock's today (never the queue's clock), and their reminders."""
    from ..plans import charging

    with database.connection_context():
        counts = charging.charge_due(_Context.gateway, _Context.settings.base_url)
    if counts:
        print(f"pops worker: payment plans {counts}", flush=True)


@app.periodic(cron="* * * * *", periodic_id="reminders")
@app.task(name="pops.send_reminders", queue=QUEUE, lock="reminders", queueing_lock="reminders")
def send_reminders(timestamp: int) -> None:
    """Statement reminders due by pops.clock's today (never the queue's clock), texts only 8:00-21:00."""
    from ..texts import reminders

    with database.connection_context():
        sent = reminders.send_due(_Context.settings.secret_key, _Context.settings.base_url)
    if sent:
        print(f"pops worker: queued {sent} statement reminder(s)", flush=True)


@app.periodic(cron="* * * * *", periodic_id="sweep")
@app.task(name="pops.sweep_outbox", queue=QUEUE, lock="sweep", queueing_lock="sweep")
def sweep_outbox(timestamp: int) -> None:
    """Expire codes that can no longer be sent; queue a job for any unsent message that has none."""
    with database.connection_context():
        queued = notify.sweep(_Context.settings)
    if queued:
        print(f"pops worker: queued {queued} message(s) that had no job", flush=True)


@app.periodic(cron="* * * * *", periodic_id="stalled")
@app.task(name="pops.retry_stalled_jobs", queue=QUEUE, queueing_lock="stalled")
async def retry_stalled_jobs(timestamp: int) -> None:
    await take_back_stalled_jobs()


@app.periodic(cron="17 3 * * *", periodic_id="prune")
@app.task(name="pops.remove_old_jobs", queue=QUEUE, queueing_lock="prune")
async def remove_old_jobs(timestamp: int) -> None:
    """Finished jobs are kept a week (the outbox keeps the messages themselves)."""
    await app.job_manager.delete_old_jobs(nb_hours=24 * 7, include_failed=False)


async def take_back_stalled_jobs() -> int:
    """Jobs left `doing` by a worker that stopped beating run again (their effects happen once)."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    for job in stalled:
        print(f"pops worker: job {job.id} ({job.task_name}) was left by a dead worker; running it again",
              file=sys.stderr, flush=True)
        await app.job_manager.retry_job(job)
    return len(stalled)
