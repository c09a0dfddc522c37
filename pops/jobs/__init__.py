"""Jobs: the work requests leave behind (sending the outbox, settling unfinished payments), done
outside any request. On PostgreSQL they go through a queue (pops.jobs.queue) that `pops worker`
runs (pops.jobs.worker, pops.jobs.tasks); with SQLite `pops serve` runs them itself in a
background thread (pops.jobs.runner)."""
from .runner import Runner, deliver_outbox, release_lease, run_once, settle_payments, take_lease

__all__ = ["Runner", "deliver_outbox", "release_lease", "run_once", "settle_payments", "take_lease"]
