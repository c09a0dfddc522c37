"""Every GET route of the route table, asked plain and as htmx (HX-Request: true), with a ledger so pages
have content: never a 5xx, the same status both ways, and POPS's fragment is part of its page (its text
stands, in order, in the whole page's text). The sandbox gateway's page, as if on another host, is
never asked by htmx: only its status is checked."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from starlette.routing import Mount, Route

from pops.gateways import CheckoutOptions
from pops.models import PaymentAttempt

from factories import build_ledger, hand_built_day, patient_session
from http_helpers import give_staff_session, open_browser, sign_in_as

KEY = "k" * 32
# An example for each path parameter, by name; a new parameter needs one here.
EXAMPLES = {"code": "RFM", "account": "A1001", "key": KEY}
# Where the name alone does not say which row: by route.
BY_ROUTE = {
    "/statements/{number}": {"number": "S-1"},
    "/receipts/{number}": {"number": "R-POPS1"},
    "/receipts/{number}/detail": {"number": "R-POPS1"},
    "/staff/receipts/{number}": {"number": "R-1001"},
    "/q/{code:path}": {"code": "NOPE"},
}
QUERIES = {  # a query that fills the page
    "/staff/find": "name=lopez", "/staff/mirror": "guarantor=A1001", "/login": "group=RFM",
    "/logged-out": "group=RFM", "/staff/batches": "from=2026-11-01&to=2026-11-30",
    "/staff/reports/payments": "from=2026-11-23&to=2026-11-23", "/staff/reports/sessions": "from=2026-11-23&to=2026-11-23",
    "/staff/requests": "show=all", "/account": "history=all", "/profile/modify": "patient=P1",
    "/language": "to=es",
}
# Anything but 200, and why. Every other GET route must show a page.
NOT_200 = {
    "/staff": 303,  # to the console's find page
    "/staff/mirror/end": 303,  # ends the mirror, back to the console
    "/pay/return/{key}": 303,  # back from the gateway: on to the result
    "/pay/plan/return/{key}": 303,  # back from the gateway: on to the plan's set-up result
    "/pay/plan/done/{key}": 404,  # no plan offer under this key
    "/pay/plan/review": 400,  # the group offers no payment plans: said in plain words
    "/pay/plan/add": 400,  # no live plan with new charges to add: said in plain words
    "/q/{code:path}": 404,  # a forged code
    "/login/send": 303, "/login/code": 303,  # no sign-in in progress in this browser
    "/profile/verify": 303,  # no contact change to verify
    "/staff/login": 303,  # signed in already: to the console
    "/language": 303,  # the language switch: back to the page it was on
}


def get_routes(app) -> dict[str, str]:
    """Every GET route's path, mounted apps' included, with its guard's name ("" for a mounted app's)."""
    found = {}
    for route in app.routes:
        if isinstance(route, Mount) and route.name != "static":
            found.update({route.path + sub.path: "" for sub in route.routes if "GET" in (sub.methods or ())})
        elif isinstance(route, Route) and "GET" in route.methods:
            found[route.path] = getattr(route.endpoint, "pops_guard", "")
    return found


def example(path: str, ids: dict[str, str]) -> str:
    values = {**EXAMPLES, **ids, **BY_ROUTE.get(path, {})}
    address = re.sub(r"\{([a-z_]+)(:[a-z]+)?\}", lambda m: str(values[m.group(1)]), path)
    query = QUERIES.get(path)
    return f"{address}?{query}" if query else address


def text(html: str) -> str:
    """What a reader sees: no tags, no scripts, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def world(app, client, guarantor, second, staff, admin):
    """Maria's ledger, a reference batch, a payment attempt with its sandbox checkout; the browser signed
    in to the portal and to the console (as an admin) with a mirror of its own."""
    build_ledger(guarantor)
    batch = hand_built_day(guarantor, second, staff)
    PaymentAttempt.create(key=KEY, guarantor=guarantor, entrance="portal", amount=Decimal("30.00"),
                          amount_choice="amount_due", status="paid", receipt=batch.receipts[0])
    checkout = app.state.gateway.create_checkout(KEY, Decimal("30.00"), "Maria's bill",
                                                 "http://testserver/pay/return/" + KEY, CheckoutOptions())
    patient_session(guarantor, origin="staff_mirror", staff=admin)
    sign_in_as(client, guarantor)
    give_staff_session(client, admin)
    return {"id": batch.id, "token": checkout.id}


def test_every_get_route_plain_and_as_a_fragment(app, client, world):
    problems = []
    for path, guard in sorted(get_routes(app).items()):
        address = example(path, world)
        page = client.get(address)
        fragment = client.get(address, headers={"HX-Request": "true"})
        expected = NOT_200.get(path, 200)
        if (page.status_code, fragment.status_code) != (expected, expected):
            problems.append(f"{address}: {page.status_code} plain, {fragment.status_code} htmx, not {expected}")
        elif expected == 200 and guard and "text/html" in page.headers.get("content-type", ""):
            if "<html" in fragment.text:
                problems.append(f"{address}: htmx got the whole page")
            elif text(fragment.text) not in text(page.text):
                problems.append(f"{address}: the fragment's text is not in the page's")
    assert problems == [], "\n".join(problems)


def test_every_route_parameter_has_an_example(app):
    names = {m.group(1) for path in get_routes(app) for m in re.finditer(r"\{([a-z_]+)", path)}
    assert names <= set(EXAMPLES) | {"id", "token", "number"}
