"""Driving the web application in tests: its secret, browsers that carry the form token, sign-ins.

(Named http_helpers, not helpers: e2e/helpers.py is imported as `helpers`.)
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from starlette.testclient import TestClient

from pops import clock, sessions

from factories import PASSWORD, patient_session, totp_now

SECRET = "q" * 48
CSRF = "csrf-token-for-tests-0123456789"


@contextlib.contextmanager
def open_browser(app) -> Iterator[TestClient]:
    """A browser: no redirects followed, and a form token cookie that post_form() sends back."""
    with TestClient(app, follow_redirects=False) as client:
        client.cookies.set("pops_csrf", CSRF)
        yield client


def post_form(client, url: str, data: dict | None = None, **kwargs):
    """POST a plain form as the browser would, with its form token."""
    return client.post(url, data={"csrf": CSRF, **(data or {})}, **kwargs)


def sign_in_as(client, guarantor, *, quickpay: bool = False, origin: str = "sign_in", staff=None):
    """Give `client` a live patient session for `guarantor` (as a completed sign-in or link would)."""
    token, session = patient_session(guarantor, origin=origin, quickpay=quickpay, staff=staff)
    client.cookies.set("pops_session", token)
    if staff is not None:  # a mirror lives on its staff member's own session, in the same browser
        give_staff_session(client, staff)
    return session


def give_staff_session(client, staff, **kwargs):
    """Give `client` a live staff session for `staff` without the sign-in form (kwargs to sessions.start_staff)."""
    token, session = sessions.start_staff(staff, **kwargs)
    client.cookies.set("pops_staff", token)
    return session


def post_staff_login(client, staff, *, password: str = PASSWORD, code: str | None = None, next_url: str = ""):
    """POST the staff sign-in form; the code is the authenticator's current one unless given."""
    return post_form(client, "/staff/login", {"email": staff.email, "password": password,
                                              "code": code if code is not None else totp_now(staff),
                                              "next": next_url})


def staff_login(client, staff):
    """Sign `client` in as `staff` through the real form; moves the clock one TOTP step first."""
    clock.advance(seconds=30)
    response = post_staff_login(client, staff)
    assert response.status_code == 303, response.text
    return response


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    """The SQL statements the database runs meanwhile, writes included (bench/page_speed.py counts the same way):
    Peewee's, and those a page awaits on the event loop (PostgreSQL: pops.db.LoopStatements), as written."""
    from pops.db import LoopBusy, LoopStatements, NeedsThread, database

    executed: list[str] = []
    bound = database.obj
    original = bound.execute_sql
    fetch_one, write = LoopStatements.fetch_one, LoopStatements.write

    @contextlib.contextmanager
    def recorded(sql):
        """`sql` counts unless it was never sent: a page on the event loop stopped before it (NeedsThread), or
        none of the loop's connections came free (LoopBusy); either way the page runs on a thread."""
        try:
            yield
        except (NeedsThread, LoopBusy):
            raise
        except BaseException:
            executed.append(sql)
            raise
        executed.append(sql)

    def spy(sql, *args, **kwargs):
        with recorded(sql):
            return original(sql, *args, **kwargs)

    async def spy_fetch_one(self, sql, params):
        with recorded(sql):
            return await fetch_one(self, sql, params)

    async def spy_write(self, sql, params):
        with recorded(sql):
            return await write(self, sql, params)

    bound.execute_sql = spy
    LoopStatements.fetch_one, LoopStatements.write = spy_fetch_one, spy_write
    try:
        yield executed
    finally:
        del bound.execute_sql
        LoopStatements.fetch_one, LoopStatements.write = fetch_one, write
