"""The web application's shell: liveness, the front door, headers every response carries."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from pops.app import create_app
from pops.settings import Settings

from http_helpers import sign_in_as


@pytest.fixture
def client(db_url):
    settings = Settings(database_url=db_url, secret_key="x" * 40, environment="test", base_url="http://testserver")
    with TestClient(create_app(settings)) as client:
        yield client


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["database"] == "ok"


def test_healthz_is_200_even_when_the_database_is_unreachable(tmp_path):
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none", secret_key="x" * 40, environment="test"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "unreachable"


def test_home_is_a_full_page_and_a_fragment_for_htmx(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "<!doctype html>" in page.text.lower()
    assert "Pay your medical bill" in page.text
    assert "HX-Request" in page.headers["vary"]
    fragment = client.get("/", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert "Pay your medical bill" in fragment.text
    restore = client.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_security_headers_on_every_response(client):
    for path in ["/", "/healthz", "/no-such-page"]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert "referrer-policy" in headers


def test_pages_use_no_inline_script_or_style(client):
    html = client.get("/").text
    assert "<style" not in html and "style=" not in html
    assert "<script>" not in html and "<script src=\"/static/htmx-" in html
    assert '"allowEval": false' in html and '"historyCacheSize": 0' in html


def test_cross_site_posts_are_refused(client):
    assert client.post("/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/", headers={"Origin": "https://evil.example"}).status_code == 403
    # same-origin gets past the check (and then finds no POST route)
    assert client.post("/", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 405


def test_static_files_are_cacheable(client):
    response = client.get("/static/pops.css")
    assert response.status_code == 200
    assert response.headers.get("cache-control") != "no-store"


def test_static_files_are_compressed_and_pages_are_not(client, guarantor):
    css = client.get("/static/pops.css", headers={"accept-encoding": "gzip"})
    assert css.status_code == 200 and css.headers["content-encoding"] == "gzip"
    assert "no-store" not in css.headers.get("cache-control", "")
    sign_in_as(client, guarantor, quickpay=True)
    page = client.get("/quickpay", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200 and "content-encoding" not in page.headers
    assert page.headers["cache-control"] == "no-store"


def test_a_boosted_menu_click_gets_the_whole_page_and_a_plain_htmx_request_the_block(client, guarantor):
    sign_in_as(client, guarantor)
    boosted = client.get("/account", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<title>" in boosted.text and 'href="/account" aria-current="page"' in boosted.text
    fragment = client.get("/account", headers={"HX-Request": "true"})
    assert "<title>" not in fragment.text and "portal-nav" not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


def test_an_unknown_address_gets_a_page_that_leads_somewhere(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "There is no page at this address" in response.text and 'href="/login"' in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
