"""A seeded fuzz of the route table: every route and method, with malformed path parameters, query
strings, form fields, cookies and htmx headers (NUL, huge, invalid UTF-8, other digits, signed and
overflowing numbers, dates out of range), signed out, as a patient (portal or QuickPay) and as a staff
admin. Never a 5xx; a refused request leaves every table's row count as it was.

POPS_FUZZ_CASES (default 2000) sets how many requests, POPS_FUZZ_SEED (default 20261123) which ones;
a failure prints both and the request, and case N alone is `random.Random(f"{seed}-{N}")`.
"""
from __future__ import annotations

import os
import random
import re
import traceback
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from pops import console, links, sessions
from pops.db import database
from pops.gateways import CheckoutOptions
from pops.models import PaymentAttempt
from pops.schema import TABLES

from factories import build_ledger, hand_built_day, patient_session
from http_helpers import CSRF, SECRET

SEED = int(os.environ.get("POPS_FUZZ_SEED", "20261123"))
CASES = int(os.environ.get("POPS_FUZZ_CASES", "2000"))
ROOT = Path(__file__).resolve().parent.parent
KEY = "f" * 32

# Names a page or form reads: every field a template names, every parameter the code asks for.
_NAMES_IN_CODE = re.compile(r"""(?:params|query_params|form)(?:\.get\(|\[)["']([a-z_]+)["']""")
NAMES = sorted(
    {m for p in (ROOT / "templates").rglob("*.html") for m in re.findall(r'name="([a-z_]+)"', p.read_text())}
    | {m for p in (ROOT / "pops").rglob("*.py") for m in _NAMES_IN_CODE.findall(p.read_text())}
    | set(console.GROUP_FIELDS)
)
MALFORMED = [
    b"\x00", b"a\x00b", b"\xff", b"\xc3\x28", b"\xed\xa0\x80", "١٢٣".encode(), "１２".encode(), "²".encode(),
    b"-1", b"-99999999999999999999", b"99999999999999999999", b"9223372036854775808", b"9223372036854775807",
    b"18446744073709551616", b"0001-01-01", b"9999-12-31", b"1999-12-31", b"2100-01-01", b"2026-02-30",
    b"00/00/0000", b"1e309", b"NaN", b"-Infinity", b"-0", b"0x1F", b"9" * 4000, b"a" * 20000, "😀".encode(),
    b"<script>alert(1)</script>", b"' OR 1=1 --", b"../../etc/passwd", b" ", b"", b"%", b"%%00", b"\r\n",
    b"http://[::1", b"\\", b"-12.345", b"1,000.00", b"true", b"[]",
]
HTMX_HEADERS = ["HX-Request", "HX-Boosted", "HX-Target", "HX-Current-URL", "HX-History-Restore-Request",
                "HX-Trigger"]
HEADER_VALUES = ["true", "false", "", "x" * 3000, "a\x00b", "http://[::1", "http://evil.example/%00", "١٢٣"]
OTHER_METHODS = ["PUT", "DELETE", "PATCH", "OPTIONS"]
NOT_VALID = 'data-testid="not-valid"'


def route_table(app) -> list[tuple[str, str]]:
    """(method, path) for every route of the app and of its mounted apps, HEAD included."""
    table = []
    for route in app.routes:
        subroutes = route.routes if isinstance(route, Mount) and route.name != "static" else [route]
        prefix = route.path if isinstance(route, Mount) else ""
        table += [(m, prefix + r.path) for r in subroutes if isinstance(r, Route) for m in sorted(r.methods)]
    return table


def row_counts() -> tuple[int, ...]:
    """Every table's row count, in one query."""
    counts = ", ".join(f'(SELECT COUNT(*) FROM "{m._meta.table_name}")' for m in TABLES)
    return tuple(database.execute_sql(f"SELECT {counts}").fetchone())


def is_invalid(value: bytes) -> bool:
    """What POPS must refuse before any handler: a NUL, or bytes that are not UTF-8."""
    try:
        return "\x00" in value.decode("utf-8")
    except UnicodeDecodeError:
        return True


class Case:
    """One request, drawn from `rng`: method, address, headers and body as bytes on the wire, and the
    refusal it must get: 400 for a NUL or invalid UTF-8 in its address or headers, else 413 for a form
    over 1 MB, else 400 for one in its form; None when it may reach a handler."""

    def __init__(self, rng: random.Random, table, plausible: list[bytes], identities: dict[str, str]):
        self.invalid = False  # in the part being drawn
        method, path = rng.choice(table)
        if rng.random() < 0.04:
            method = rng.choice(OTHER_METHODS)
        if rng.random() < 0.02:
            path = rng.choice(["/nowhere", "/static/%00", "/staff/nowhere/{x}", "/{x}/{y}"])
        self.rng, self.plausible = rng, plausible
        self.method = method
        self.path = re.sub(r"\{[a-z_]+(:[a-z]+)?\}", lambda _: quote_from_bytes(self.value(), safe=""), path)
        query = self.pairs(rng.choice([0, 0, 1, 2, 4]))
        self.url = self.path + (f"?{query}" if query else "")
        self.identity = rng.choice(list(identities))
        self.headers = {"cookie": self.cookies(identities[self.identity])}
        for name in rng.sample(HTMX_HEADERS, rng.choice([0, 0, 1, 2, 3])):
            self.headers[name] = rng.choice(HEADER_VALUES + ["true"] * 4).encode()
            self.invalid |= b"\x00" in self.headers[name]
        self.refusal = 400 if self.invalid else None
        self.invalid = False
        self.body = b""
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            self.headers["content-type"] = b"application/x-www-form-urlencoded"
            fields = self.pairs(rng.choice([1, 2, 3, 6]))
            self.body = ((f"csrf={CSRF}&" if rng.random() < 0.9 else "") + fields).encode()
            if rng.random() < 0.01:
                self.body += b"&big=" + b"x" * (1024 * 1024)
                self.refusal = self.refusal or 413
            self.refusal = self.refusal or (400 if self.invalid else None)

    def value(self) -> bytes:
        value = self.rng.choice(self.plausible if self.rng.random() < 0.5 else MALFORMED)
        self.invalid |= is_invalid(value)
        return value

    def pairs(self, n: int) -> str:
        return "&".join(f"{quote_from_bytes(self.rng.choice(NAMES).encode())}={quote_from_bytes(self.value())}"
                        for _ in range(n))

    def cookies(self, signed_in: str) -> bytes:
        jar = f"pops_csrf={CSRF}; {signed_in}".encode()
        if self.rng.random() < 0.15:
            name = self.rng.choice(["pops_session", "pops_staff", "pops_csrf", "pops_signin", "pops_verify"])
            junk = self.rng.choice([b'"\\000"', b"%00", b"%FF", b"abc", b"a" * 5000, b"\\", "٣".encode()])
            jar += b"; " + name.encode() + b"=" + junk
            self.invalid |= junk in {b'"\\000"', b"%00", b"%FF"}  # a NUL once unescaped, bad UTF-8 once decoded
        return jar

    def __str__(self) -> str:
        shown = {k: (v[:80] + b"..." if len(v) > 80 else v) for k, v in self.headers.items()}
        return f"{self.method} {self.url[:300]} as {self.identity} headers={shown} body={self.body[:200]!r}"


@pytest.fixture
def world(app, guarantor, second, staff, admin):
    """Maria's ledger, a batch, a payment attempt and its checkout, a QuickPay link: what plausible values name."""
    build_ledger(guarantor)
    batch = hand_built_day(guarantor, second, staff)
    PaymentAttempt.create(key=KEY, guarantor=guarantor, entrance="portal", amount=Decimal("30.00"),
                          amount_choice="amount_due", status="pending")
    checkout = app.state.gateway.create_checkout(KEY, Decimal("30.00"), "Maria's bill",
                                                 f"http://testserver/pay/return/{KEY}", CheckoutOptions())
    code, _ = links.mint(guarantor, "sms", SECRET)
    plausible = ["RFM", "A1001", "B2002", "S-1", "R-1001", "R-POPS1", str(batch.id), str(admin.id), str(staff.id),
                 "1", "0", KEY, checkout.id, code, "2026-11-23", "04/12/1981", "Maria", "Lopez", "amount_due",
                 "other", "12.34", "4242 4242 4242 4242", "12/30", "123", "sms", "email", "0:sms", "admin",
                 "desk@example.org", "+15555550123", "all", "day", "America/Chicago", "#336699", "on"]
    return {"plausible": [v.encode() for v in plausible], "guarantor": guarantor, "admin": admin}


def identities(world) -> dict[str, str]:
    """Cookies for each way of being signed in (fresh sessions: a case may have ended the last ones)."""
    portal, _ = patient_session(world["guarantor"])
    quickpay, _ = patient_session(world["guarantor"], origin="sms_link", quickpay=True)
    staff, _ = sessions.start_staff(world["admin"])
    return {"nobody": "", "portal": f"pops_session={portal}", "quickpay": f"pops_session={quickpay}",
            "admin": f"pops_staff={staff}", "both": f"pops_session={portal}; pops_staff={staff}"}


def refused_with(response, status: int, method: str) -> bool:
    """Answered `status` with the "not valid" page (a HEAD answer carries no page)."""
    return response.status_code == status and (method == "HEAD" or NOT_VALID in response.text)


def test_fuzz_every_route(app, db, world):
    table = route_table(app)
    failures: list[str] = []
    with TestClient(app, follow_redirects=False) as client:
        who = identities(world)
        for n in range(CASES):
            case = Case(random.Random(f"{SEED}-{n}"), table, world["plausible"], who)
            before = row_counts() if case.refusal else ()
            client.cookies.clear()
            try:
                response = client.request(case.method, case.url, headers=case.headers, content=case.body)
            except Exception:
                failures.append(f"case {n}: {case}\n{traceback.format_exc(limit=-3)}")
                continue
            if response.status_code >= 500:
                failures.append(f"case {n}: {case} -> {response.status_code}")
            elif case.refusal and not refused_with(response, case.refusal, case.method):
                failures.append(f"case {n}: {case} -> {response.status_code}, not refused with {case.refusal}")
            elif case.refusal and row_counts() != before:
                failures.append(f"case {n}: {case} -> {response.status_code}, but the database changed")
            ended = response.status_code == 401 or response.headers.get("location", "").startswith(
                ("/login", "/staff/login"))
            if ended and case.identity != "nobody":  # a case ended the session (log out, a new sign-in)
                who = identities(world)
            if len(failures) >= 5:
                break
    assert not failures, f"POPS_FUZZ_SEED={SEED} POPS_FUZZ_CASES={CASES}\n" + "\n\n".join(failures)
