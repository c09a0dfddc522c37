"""Server time and queries for the pages a patient opens most (not a test; it prints figures).

    .venv/bin/python bench/page_speed.py [--requests N]

Seeds the demo ledger into a temporary SQLite database and, in-process, asks for each page N
times as the demo patient (QuickPay, then the signed-in portal), printing the median and 95th
percentile time per request and the SQL queries each request runs. Times are this machine's,
shared and noisy: compare runs on the same machine, and watch the query counts, which are exact.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient  # noqa: E402

from pops import clock, demo, links, migrate, sessions  # noqa: E402
from pops.app import create_app  # noqa: E402
from pops.db import bind, database  # noqa: E402
from pops.importer import import_document  # noqa: E402
from pops.models import Guarantor  # noqa: E402
from pops.settings import Settings  # noqa: E402

SECRET = "s" * 48
PORTAL_PAGES = ["/home", "/account", "/pay", "/receipts", "/statements", "/appointments", "/profile"]


class QueryCounter:
    """Counts the SQL statements the database runs while it is installed."""

    def __init__(self, db):
        self.db, self.count = db, 0
        self._execute = db.execute_sql

    def __enter__(self):
        def counting(sql, params=None, *args, **kwargs):
            self.count += 1
            return self._execute(sql, params, *args, **kwargs)

        self.db.execute_sql = counting
        return self

    def __exit__(self, *exc):
        self.db.execute_sql = self._execute


def measure(client: TestClient, db, path: str, n: int) -> tuple[float, float, int]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    with QueryCounter(db) as counter:
        client.get(path)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], counter.count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        db = bind(url)
        migrate.upgrade(db)
        with db.atomic():
            import_document(demo.build_document(clock.now().date()))
            guarantor = Guarantor.get(Guarantor.account == demo.DEMO_ACCOUNTS["main"])
            code, _ = links.mint(guarantor, "sms", SECRET, max_uses=10_000)
            token, _ = sessions.start_patient(guarantor, "sign_in", "code")
        db.close()
        app = create_app(Settings(database_url=url, secret_key=SECRET, environment="test", base_url="http://testserver"))
        bound = database.obj
        rows = []
        with TestClient(app, follow_redirects=False) as client:
            assert client.get(f"/q/{code}").status_code == 303
            rows.append(("/quickpay", *measure(client, bound, "/quickpay", args.requests)))
            client.cookies.clear()
            client.cookies.set("pops_session", token)
            for path in PORTAL_PAGES:
                rows.append((path, *measure(client, bound, path, args.requests)))
    print(f"{'page':16} {'median ms':>10} {'p95 ms':>8} {'queries':>8}   ({args.requests} requests each, demo patient A1001)")
    for path, median, p95, queries in rows:
        print(f"{path:16} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {queries:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
