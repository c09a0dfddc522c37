"""Bytes a phone downloads for the QuickPay page and everything it loads (not a test; it prints figures).

    .venv/bin/python bench/page_weight.py

Seeds the demo ledger into a temporary SQLite database, opens a QuickPay link for the demo
patient the way a phone does (Accept-Encoding: gzip, br), then fetches every stylesheet and
script the page names. Counts the bytes on the wire (compressed where the server compressed
them). Target: under 30 KB in all. HTML pages are sent uncompressed on purpose (BREACH: they
carry the form token next to text the user typed); static files are compressed.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient  # noqa: E402

from pops import clock, demo, links, migrate  # noqa: E402
from pops.app import create_app  # noqa: E402
from pops.db import bind  # noqa: E402
from pops.importer import import_document  # noqa: E402
from pops.models import Guarantor  # noqa: E402
from pops.settings import Settings  # noqa: E402

TARGET = 30 * 1024
SECRET = "w" * 48
PHONE = {"accept-encoding": "gzip, br", "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"}


def wire_bytes(client: TestClient, url: str) -> tuple[int, int, str]:
    """(bytes on the wire, bytes after decoding, content-encoding) for one GET."""
    with client.stream("GET", url, headers=PHONE) as response:
        assert response.status_code == 200, (url, response.status_code)
        raw = b"".join(response.iter_raw())
        encoding = response.headers.get("content-encoding", "")
    decoded = client.get(url, headers=PHONE).content
    return len(raw), len(decoded), encoding


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        db = bind(url)
        migrate.upgrade(db)
        with db.atomic():
            import_document(demo.build_document(clock.now().date()))
            code, _ = links.mint(Guarantor.get(Guarantor.account == demo.DEMO_ACCOUNTS["main"]), "sms", SECRET)
        db.close()
        app = create_app(Settings(database_url=url, secret_key=SECRET, environment="test", base_url="http://testserver"))
        with TestClient(app, follow_redirects=False) as client:
            opened = client.get(f"/q/{code}", headers=PHONE)
            assert opened.status_code == 303
            page = "/quickpay"
            rows = [(page, *wire_bytes(client, page))]
            html = client.get(page, headers=PHONE).text
            for asset in re.findall(r'(?:href|src)="(/(?:static|brand)/[^"]+)"', html):
                rows.append((asset, *wire_bytes(client, asset)))
    total = sum(row[1] for row in rows)
    print(f"{'resource':45} {'on the wire':>12} {'decoded':>10}  encoding")
    for name, wire, decoded, encoding in rows:
        print(f"{name:45} {wire:>12,} {decoded:>10,}  {encoding or '-'}")
    print(f"{'total':45} {total:>12,} {sum(r[2] for r in rows):>10,}")
    verdict = "within" if total <= TARGET else "OVER"
    print(f"QuickPay page weight: {total / 1024:.1f} KB on the wire ({verdict} the {TARGET // 1024} KB target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
