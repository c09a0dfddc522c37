"""QuickPay over HTTP: opening a link starts a session and hides the code; clear pages when it cannot."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from pops import clock, links
from pops.app import create_app
from pops.db import database
from pops.models import Guarantor, Link, PatientSession
from pops.settings import Settings

from factories import owe
from http_helpers import SECRET


def test_opening_a_link_starts_a_quickpay_session_and_drops_the_code(client, guarantor):
    owe(guarantor)
    code, link = links.mint(guarantor, "sms", SECRET)
    response = client.get(f"/q/{code}")
    assert response.status_code == 303
    assert response.headers["location"] == "/quickpay"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert "pops_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http in tests
    assert Link.get_by_id(link.id).uses == 1
    session = PatientSession.get()
    assert (session.origin, session.auth, session.quickpay) == ("sms_link", "quickpay", True)

    page = client.get("/quickpay")
    assert page.status_code == 200
    assert "Maria Lopez" in page.text
    assert "Riverside Family Medicine" in page.text
    assert "$80.00" in page.text
    assert PatientSession.get().pages == 1


def test_statement_qr_and_email_links_record_their_origin(client, guarantor):
    for purpose, origin in [("statement", "statement_qr"), ("email", "email_link"), ("desk", "desk_qr")]:
        code, _ = links.mint(guarantor, purpose, SECRET)
        assert client.get(f"/q/{code}").status_code == 303
        assert PatientSession.select().order_by(PatientSession.id.desc()).get().origin == origin


def test_a_new_link_replaces_the_session_in_this_browser(client, guarantor):
    first, _ = links.mint(guarantor, "sms", SECRET)
    second, _ = links.mint(guarantor, "sms", SECRET)
    client.get(f"/q/{first}")
    client.get(f"/q/{second}")
    rows = list(PatientSession.select().order_by(PatientSession.id))
    assert rows[0].end_reason == "replaced" and rows[1].ended_at is None


def test_pasted_links_with_quotes_and_punctuation_still_work(client, guarantor):
    code, _ = links.mint(guarantor, "sms", SECRET)
    for pasted in [f"%22{code}%22", f"{code}.", f"{code})", f"{code.lower()}"]:
        assert client.get(f"/q/{pasted}").status_code == 303, pasted


def test_a_forged_code_is_404_with_a_clear_page(client, guarantor):
    code, _ = links.mint(guarantor, "sms", SECRET)
    forged = code[:-1] + ("0" if code[-1] != "0" else "1")
    response = client.get(f"/q/{forged}")
    assert response.status_code == 404
    assert "use the most recent link you received" in response.text
    assert "(555) 010-2000" not in response.text  # not genuine: no practice to name
    assert PatientSession.select().count() == 0
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("how", ["expired", "used_up"])
def test_expired_or_used_up_is_410_with_the_practice_phone(client, guarantor, how):
    code, _ = links.mint(guarantor, "sms", SECRET, max_uses=1, days=1)
    if how == "expired":
        clock.advance(days=1)
    else:
        assert client.get(f"/q/{code}").status_code == 303
        client.cookies.clear()
    response = client.get(f"/q/{code}")
    assert response.status_code == 410
    assert "use the most recent link you received" in response.text
    assert "(555) 010-2000" in response.text


def test_quickpay_without_a_session_says_it_ended(client):
    response = client.get("/quickpay")
    assert response.status_code == 401
    assert "Your session has ended" in response.text


def test_quickpay_shows_the_exact_refusal_for_escrow(client, guarantor):
    owe(guarantor)
    Guarantor.update(escrow=Decimal("25.00")).execute()
    code, _ = links.mint(guarantor, "sms", SECRET)
    client.get(f"/q/{code}")
    page = client.get("/quickpay")
    assert ("Payment Not Possible: Please contact Riverside Family Medicine to make a payment at this time."
            in page.text)
    assert "(555) 010-2000" in page.text


def test_quickpay_with_nothing_owed(client, guarantor):
    code, _ = links.mint(guarantor, "sms", SECRET)
    client.get(f"/q/{code}")
    assert "You have no balance due. Thank you!" in client.get("/quickpay").text


def test_cookies_are_secure_behind_https(db_url, db, guarantor):
    app = create_app(Settings(database_url=db_url, secret_key=SECRET, environment="test",
                              base_url="https://pay.example.org"))
    code, _ = links.mint(guarantor, "sms", SECRET)
    with TestClient(app, base_url="https://pay.example.org", follow_redirects=False) as client:
        assert "Secure" in client.get(f"/q/{code}").headers["set-cookie"]


def test_brand_stylesheet(client, guarantor):
    guarantor.group.brand_color = "#0b6e4f"
    guarantor.group.save()
    css = client.get("/brand/RFM.css")
    assert css.status_code == 200 and "--brand: #0b6e4f" in css.text
    assert client.get("/brand/NOPE.css").status_code == 404


def test_parallel_openings_of_a_ten_use_link_give_ten_sessions(app, db, guarantor):
    code, _ = links.mint(guarantor, "sms", SECRET, max_uses=10)
    db.close()

    def open_once(_):
        with TestClient(app, follow_redirects=False) as client:
            return client.get(f"/q/{code}").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(open_once, range(100)))
    assert statuses.count(303) == 10 and statuses.count(410) == 90
    with database.connection_context():
        assert PatientSession.select().count() == 10
