"""Helpers for end-to-end tests: put data in the running server's database, start a patient session,
make and sign in a staff member, read a QR code off the screen.

The server is another process; these open its database from the test process (the models are
bound here as well), so keep each use short and inside `server_database()`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyotp
import zxingcpp
from PIL import Image
from playwright.sync_api import BrowserContext, Locator, Page, expect

from pops import demo, sessions
from pops.db import database, open_database
from pops.models import Guarantor

PATIENT_COOKIE = "pops_session"
# Failure screenshots and the server's log land here (conftest.py and tests that open a page of their own).
ARTIFACTS_DIR = Path(os.environ.get("POPS_ARTIFACTS_DIR")
                     or Path(__file__).resolve().parent.parent / "test-artifacts" / "e2e")


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


# --- staff members -----------------------------------------------------------------------------

def create_staff(server, email: str, password: str, role: str = "staff") -> str:
    """`pops staff create` with this password; returns the member's TOTP secret."""
    with_password = dataclasses.replace(server, env={**server.env, "POPS_STAFF_PASSWORD": password})
    out = with_password.run_pops("staff", "create", email, "--role", role).stdout
    found = re.search(r"TOTP secret: (\S+)", out)
    assert found, f"no TOTP secret in the output of pops staff create:\n{out}"
    return found.group(1)


def staff_sign_in(page: Page, server, email: str, password: str, totp_secret: str) -> None:
    """Sign in on /staff/login with the password and the authenticator's current code."""
    page.goto(f"{server.url}/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(totp_secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Find a guarantor")).to_be_visible()


# --- QR codes on screen ------------------------------------------------------------------------

def png_to_gray(png: bytes):
    """A screenshot (PNG bytes) as a gray image that zxingcpp reads."""
    return Image.open(io.BytesIO(png)).convert("L")


def scan_qr(locator: Locator) -> str:
    """Screenshot the element and decode the one QR code in it, as a phone camera would; its text."""
    barcodes = zxingcpp.read_barcodes(png_to_gray(locator.screenshot()))
    assert [b.format for b in barcodes] == [zxingcpp.BarcodeFormat.QRCode], f"expected one QR code, read {barcodes}"
    return barcodes[0].text
