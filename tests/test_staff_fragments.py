"""Every staff page answers htmx with its content block alone: 200, no page shell, never a 500.

A block renders by itself only if everything it uses is inside it (a macro imported in the block),
so each page is asked as a fragment, signed in as an admin, with data on every table.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from pops import notify
from pops.models import ContactChange, PatientRequest

from factories import hand_built_day, make_staff, patient_session
from http_helpers import give_staff_session, post_form

HTMX = {"HX-Request": "true"}

# Every staff GET page, by its route's path, and the address that shows it with data.
PAGES = {
    "/staff/find": "/staff/find?name=lopez",
    "/staff/guarantors/{account}": "/staff/guarantors/A1001?done=sms",
    "/staff/guarantors/{account}/plan": "/staff/guarantors/A1001/plan",
    "/staff/mirror": "/staff/mirror?guarantor=A1001",
    "/staff/outbox": "/staff/outbox",
    "/staff/batches": "/staff/batches?from=2026-11-01&to=2026-11-30",
    "/staff/batches/{id:int}": "/staff/batches/{batch}",
    "/staff/batches/{id:int}/close": "/staff/batches/{batch}/close",
    "/staff/reports/payments": "/staff/reports/payments?from=2026-11-23&to=2026-11-23",
    "/staff/reports/sessions": "/staff/reports/sessions?from=2026-11-23&to=2026-11-23",
    "/staff/reports/plans": "/staff/reports/plans?status=active",
    "/staff/requests": "/staff/requests?show=all",
    "/staff/receipts/{number}": "/staff/receipts/R-1001",
    "/staff/admin": "/staff/admin?error=self",
    "/staff/admin/groups/{code}": "/staff/admin/groups/RFM?saved=1",
    "/staff/audit": "/staff/audit",
    "/staff/admin/new-group": "/staff/admin/new-group",
    "/staff/account": "/staff/account?saved=1",
}
# GET routes that are no page: redirects and downloads (the sign-in page is asked signed out, below).
NOT_PAGES = {"/staff", "/staff/login", "/staff/mirror/end", "/staff/batches/{id:int}.csv",
             "/staff/reports/payments.csv", "/staff/reports/sessions.csv", "/staff/reports/plans.csv"}


@pytest.fixture
def console(client, guarantor, second, staff, admin):
    """A console with something on every page: a batch with a refund, sessions, requests, messages, a lock."""
    batch = hand_built_day(guarantor, second, staff)
    patient_session(guarantor, origin="staff_mirror", staff=staff)
    PatientRequest.create(guarantor=guarantor, kind="register_patient", detail=json.dumps({"first_name": "Lucia"}))
    ContactChange.create(guarantor=guarantor, field="email", old_value="maria@example.org",
                         new_value="maria.lopez@example.org")
    notify.queue_sms(guarantor.mobile, "A message", purpose="test", guarantor=guarantor)
    locked = make_staff("locked@example.org")
    locked.locked_until = locked.created_at + dt.timedelta(minutes=15)
    locked.save()
    give_staff_session(client, admin)
    return {"batch": batch.id}


def assert_fragment(response, *, status: int = 200) -> None:
    assert response.status_code == status, response.text[:500]
    assert "<html" not in response.text and "staff-nav" not in response.text
    assert "HX-Request" in response.headers["vary"]


def test_the_list_names_every_staff_page(app):
    paths = {route.path for route in app.routes
             if route.path.startswith("/staff") and "GET" in (getattr(route, "methods", None) or ())}
    assert paths == set(PAGES) | NOT_PAGES


@pytest.mark.parametrize("route", sorted(PAGES))
def test_every_staff_page_renders_its_block_alone(client, console, route):
    page = client.get(PAGES[route].format(**console))
    assert page.status_code == 200 and "<html" in page.text
    fragment = client.get(PAGES[route].format(**console), headers=HTMX)
    assert_fragment(fragment)
    assert 'class="staff-page' in fragment.text


def test_the_sign_in_page_as_a_fragment(client):
    assert_fragment(client.get("/staff/login", headers=HTMX))


def test_not_found_and_forbidden_as_fragments(client, console, staff):
    assert_fragment(client.get("/staff/guarantors/NOPE", headers=HTMX), status=404)
    assert_fragment(client.get("/staff/batches/999", headers=HTMX), status=404)
    give_staff_session(client, staff)
    assert_fragment(client.get("/staff/admin/groups/RFM", headers=HTMX), status=403)


@pytest.mark.parametrize("path,data", [
    ("/staff/admin/groups/RFM", {"name": "", "brand_color": "red"}),
    ("/staff/admin/staff", {"email": "short@example.org", "password": "short", "role": "staff"}),
    ("/staff/mirror", {"group": "RFM", "guarantor": "NOPE"}),
    ("/staff/guarantors/A1001/notify", {"channel": "fax"}),
    ("/staff/receipts/R-1001/refund", {"amount": "twelve"}),
])
def test_a_refused_form_answers_htmx_with_its_block(client, console, path, data):
    assert_fragment(post_form(client, path, data, headers=HTMX), status=422)
