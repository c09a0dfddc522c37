"""The real server in a real browser: liveness, and the front door at phone size."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

README = Path(__file__).resolve().parent.parent / "README.md"


def test_healthz_says_the_database_is_ok(server, page):
    response = page.goto(f"{server.url}/healthz")
    assert response is not None and response.status == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"


def test_home_page_at_phone_size(server, page, page_errors):
    response = page.goto(f"{server.url}/")
    assert response is not None and response.status == 200

    expect(page.get_by_role("heading", name="Pay your medical bill")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"

    readme_version = re.search(r"htmx (\d+\.\d+\.\d+)", README.read_text()).group(1)
    page.wait_for_function("window.htmx !== undefined")
    assert page.evaluate("window.htmx.version") == readme_version

    page.wait_for_load_state("networkidle")  # late requests (the favicon) report their errors too
    assert page_errors == []
