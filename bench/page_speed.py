"""Server time and SQL statements for the pages a patient opens most (not a test; it prints figures).

    .venv/bin/python bench/page_speed.py [--requests N] [--show]

Seeds the demo ledger into a temporary SQLite database and, in-process, asks for each page N
times as the demo patient (QuickPay, then the signed-in portal), printing the median and 95th
percentile time per request and the SQL statements each request runs, writes included (every
call of the database's execute_sql; tests/test_page_costs.py counts the same way), for a view
just after the account changed ("statements") and for a view of an unchanged account ("kept": the
page reuses the facts it read for the account's ledger version, pops.ledger). QuickPay, Home,
Account and Pay have a budget of 4 (the session with its guarantor, group and ledger version; its
touch, which also records the visit; the account's facts; one for the page). `--show` prints them.
Times are this machine's, shared and noisy: compare runs on the same machine, and watch the
statement counts, which are exact.
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
from pops.models import Guarantor, LedgerVersion  # noqa: E402
from pops.settings import Settings  # noqa: E402

SECRET = "s" * 48
PORTAL_PAGES = ["/home", "/account", "/pay", "/receipts", "/statements", "/appointments", "/profile"]
BUDGET = {"/quickpay": 4, "/home": 4, "/account": 4, "/pay": 4}  # statements a request may run


class QueryCounter:
    """Counts (and keeps) the SQL statements the database runs while it is installed."""

    def __init__(self, db):
        self.db, self.count, self.statements = db, 0, []
        self._execute = db.execute_sql

    def __enter__(self):
        def counting(sql, params=None, *args, **kwargs):
            self.count += 1
            self.statements.append(" ".join(sql.split()))
            return self._execute(sql, params, *args, **kwargs)

        self.db.execute_sql = counting
        return self

    def __exit__(self, *exc):
        self.db.execute_sql = self._execute


def measure(client: TestClient, db, path: str, n: int) -> tuple[float, float, list[str]]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    with QueryCounter(db) as kept:
        client.get(path)
    LedgerVersion.update(version=LedgerVersion.version + 1).execute()  # as any change to the account would
    with QueryCounter(db) as changed:
        client.get(path)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], changed.statements, kept.statements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--show", action="store_true", help="print each page's statements")
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
    print(f"{'page':16} {'median ms':>10} {'p95 ms':>8} {'statements':>10} {'kept':>5} {'budget':>7}"
          f"   ({args.requests} requests each, demo patient A1001)")
    over = []
    for path, median, p95, statements, kept in rows:
        budget = BUDGET.get(path)
        if budget is not None and len(statements) > budget:
            over.append(path)
        print(f"{path:16} {median * 1000:>10.1f} {p95 * 1000:>8.1f} {len(statements):>10} {len(kept):>5} {budget or '':>7}")
        if args.show:
            for sql in statements:
                print(f"    {sql[:160]}")
    if over:
        print(f"over budget: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
