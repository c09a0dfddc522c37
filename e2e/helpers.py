"""Helpers for end-to-end tests: put data in the running server's database, start a patient session.

The server is another process; these open its database from the test process (the models are
bound here as well), so keep each use short and inside `server_database()`.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import BrowserContext

from pops import demo, sessions
from pops.db import database, open_database
from pops.models import Guarantor

PATIENT_COOKIE = "pops_session"


def import_document(server, document: dict) -> None:
    """Import a `pops-import/1` document into the server's database with `pops import`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "import.json"
        path.write_text(json.dumps(document))
        server.run_pops("import", str(path))


def import_demo(server, today: dt.date | None = None) -> dict:
    """The demo ledger built for `today` (the server's clock is real time), imported; returns the document."""
    document = demo.build_document(today or dt.date.today())
    import_document(server, document)
    return document


@contextlib.contextmanager
def server_database(server) -> Iterator[None]:
    """The server's database, bound for the models and connected, for the length of the block."""
    db = open_database(server.env["POPS_DATABASE_URL"])
    database.initialize(db)
    try:
        with db.connection_context():
            yield
    finally:
        database.initialize(None)


def start_patient_session(server, account: str, **kwargs) -> str:
    """A live full-portal session for the guarantor with this account, as a completed sign-in makes; the cookie token."""
    kwargs.setdefault("origin", "sign_in")
    kwargs.setdefault("auth", "code")
    with server_database(server):
        guarantor = Guarantor.get(Guarantor.account == account)
        token, _ = sessions.start_patient(guarantor, kwargs.pop("origin"), kwargs.pop("auth"), **kwargs)
    return token


def add_session_cookie(context: BrowserContext, server, token: str) -> None:
    """Give a browser context the patient session cookie for the server."""
    context.add_cookies([{"name": PATIENT_COOKIE, "value": token, "url": server.url, "httpOnly": True,
                          "sameSite": "Lax"}])


def sign_in_context(context: BrowserContext, server, account: str, **kwargs) -> str:
    """Start a patient session for `account` and put its cookie in `context`; returns the token."""
    token = start_patient_session(server, account, **kwargs)
    add_session_cookie(context, server, token)
    return token
