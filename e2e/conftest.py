"""End-to-end fixtures: the real server in a subprocess, Chromium at phone size, failure screenshots.

The server runs `python -m pops serve` on a free port with its own temporary SQLite database.
The browser is the system Chromium (/usr/bin/chromium) when present, else Playwright's own.
Without a browser the tests are skipped, or fail when CI=true.
When a test fails, every page it had open is saved as a full-page screenshot under
POPS_ARTIFACTS_DIR (default test-artifacts/e2e/), with the server's log.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error as PlaywrightError, Page, sync_playwright

from helpers import ARTIFACTS_DIR

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}
STARTUP_TIMEOUT = 20.0
# Chromium reports a CSP violation on the console too, but this also catches the ones it does not.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline code"}`);
});
"""


@dataclass(frozen=True)
class Server:
    """A running POPS server: its base URL, the environment it runs with, and its log file."""

    url: str
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def run_pops(self, *args: str) -> subprocess.CompletedProcess:
        """Run a `pops` command (e.g. import FILE) against the server's database; fails on error."""
        result = subprocess.run(
            [sys.executable, "-m", "pops", *args], env=self.env, cwd=ROOT, capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.fail(f"pops {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_server(tmp: Path, **settings: str) -> Iterator[Server]:
    """`pops migrate`, then `pops serve` on a free port with a fresh SQLite database in `tmp` (and any
    further POPS_* `settings`), until the block ends."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env.update(
        POPS_DATABASE_URL=f"sqlite:///{tmp / 'e2e.sqlite3'}",
        POPS_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        POPS_ENV="test",
        POPS_BASE_URL=url,
        POPS_DATA_DIR=str(tmp / "data"),
        PYTHONUNBUFFERED="1",
        **settings,
    )
    log_path = tmp / "server.log"
    migrated = subprocess.run(
        [sys.executable, "-m", "pops", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if migrated.returncode != 0:
        pytest.fail(f"pops migrate failed ({migrated.returncode}):\n{migrated.stdout}{migrated.stderr}", pytrace=False)

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pops", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(
                    f"the server exited with status {process.returncode} before answering:\n"
                    f"{log_path.read_text(errors='replace')}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer {url}/healthz within {STARTUP_TIMEOUT:.0f}s:\n"
                    f"{log_path.read_text(errors='replace')}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield Server(url=url, env=env, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory, request):
    """The real POPS server on a free port, with a fresh migrated SQLite database."""
    with running_server(tmp_path_factory.mktemp("server")) as running:
        try:
            yield running
        finally:
            if request.session.testsfailed:
                ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
                shutil.copy(running.log_path, ARTIFACTS_DIR / "server.log")


def _no_browser(reason: str):
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI needs a browser for the end-to-end tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _playwright():
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright) -> Browser:
    """Headless Chromium: the system one when installed, else Playwright's own."""
    if SYSTEM_CHROMIUM.exists():
        launch = {"executable_path": str(SYSTEM_CHROMIUM)}
    elif Path(_playwright.chromium.executable_path).exists():
        launch = {}
    else:
        _no_browser(
            f"no Chromium: {SYSTEM_CHROMIUM} is missing (apt-get install chromium) "
            "and Playwright has no browser of its own"
        )
    browser = _playwright.chromium.launch(headless=True, args=CHROMIUM_ARGS, **launch)
    yield browser
    browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (rep_setup, rep_call) for the page fixture."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _screenshot_name(nodeid: str) -> str:
    name = nodeid.split("/")[-1].replace(".py::", "__")
    return re.sub(r"[^\w.-]+", "_", name).strip("_")


@pytest.fixture
def page(browser, request) -> Page:
    """A fresh browser context at phone size (390×844, touch) and a page in it."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        base = _screenshot_name(request.node.nodeid)
        for number, open_page in enumerate(context.pages, start=1):
            suffix = "" if number == 1 else f"-{number}"
            try:
                open_page.screenshot(path=str(ARTIFACTS_DIR / f"{base}{suffix}.png"), full_page=True)
            except PlaywrightError as exc:  # a crashed or closed page must not hide the real failure
                print(f"could not save a screenshot of {open_page.url}: {exc}", file=sys.stderr)
    context.close()


@pytest.fixture
def page_errors(page) -> list[str]:
    """Console errors, uncaught exceptions and CSP violations on `page`, collected from now on."""
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            where = message.location.get("url") or page.url
            errors.append(f"console: {message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    return errors
