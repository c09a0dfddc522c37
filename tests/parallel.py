"""Parallel bursts for the tests: many threads, each on its own database connection, released together.

On PostgreSQL they race for real: a limit, counter or "once only" rule holds only if the database write decides it.
"""
from __future__ import annotations

import threading

from pops.db import database

WORKERS = 30  # connections at once: a PostgreSQL server's 100 are shared with other test runs


def burst(db, count: int, work) -> list:
    """`work(i)` for each i in range(count), spread over up to WORKERS threads released together.

    Each thread opens its own connection (Peewee's are per thread); the test's own connection is
    closed meanwhile and opened again after. An exception in a thread is raised here.
    """
    workers = min(count, WORKERS)
    start = threading.Barrier(workers)
    results: list = [None] * count
    errors: list[BaseException] = []

    def worker(first: int) -> None:
        try:
            with database.connection_context():
                start.wait()
                for i in range(first, count, workers):
                    results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)
            start.abort()

    db.close()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.connect(reuse_if_open=True)
    if errors:
        raise errors[0]
    return results
