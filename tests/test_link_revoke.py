"""Revoking a guarantor's QuickPay links: staff's "Revoke all links" and `pops link revoke`.

The links stop working (410, "This link can no longer be used", with the practice's phone), the
QuickPay sessions they opened end, a link made afterwards works, and the count is recorded."""
from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from pops import cli, clock, links
from pops.db import database
from pops.models import AuditLog, Link, PatientSession

from factories import make_guarantor, owe
from http_helpers import SECRET, open_browser, post_form, sign_in_as, staff_login


@pytest.fixture
def as_staff(client, staff):
    staff_login(client, staff)
    return client


def open_quickpay(browsers: contextlib.ExitStack, app, code):
    """Another browser (the patient's) opens the link and sees QuickPay."""
    patient = browsers.enter_context(open_browser(app))
    assert patient.get(f"/q/{code}").status_code == 303
    assert patient.get("/quickpay").status_code == 200
    return patient


def test_staff_revoke_all_links_ends_them_and_their_quickpay_sessions(app, as_staff, guarantor, second, staff):
    owe(guarantor)
    first, _ = links.mint(guarantor, "sms", SECRET)
    statement, _ = links.mint(guarantor, "statement", SECRET)
    spent, _ = links.mint(guarantor, "desk", SECRET, max_uses=1)
    others, _ = links.mint(second, "sms", SECRET)
    browsers = contextlib.ExitStack()
    patient = open_quickpay(browsers, app, first)
    at_desk = open_quickpay(browsers, app, spent)  # used up, but its QuickPay visit is still open
    portal = sign_in_as(browsers.enter_context(open_browser(app)), guarantor)  # signed in: not a link's session

    dashboard = as_staff.get(f"/staff/guarantors/{guarantor.account}")
    assert 'action="/staff/guarantors/A1001/revoke-links"' in dashboard.text and "Revoke all links" in dashboard.text
    done = post_form(as_staff, f"/staff/guarantors/{guarantor.account}/revoke-links")
    assert done.status_code == 303 and done.headers["location"] == "/staff/guarantors/A1001?revoked=3"
    page = as_staff.get(done.headers["location"])
    assert 'data-testid="notice">3 links revoked.<' in page.text

    # the database: every link of Maria's revoked, Sam's untouched; the link-opened sessions ended
    assert {link.revoked_at for link in Link.select().where(Link.guarantor == guarantor)} == {clock.now()}
    assert Link.get(Link.guarantor == second).revoked_at is None
    ends = {s.origin: (s.ended_at is not None, s.end_reason) for s in PatientSession.select()}
    assert ends == {"sms_link": (True, "revoked"), "desk_qr": (True, "revoked"), "sign_in": (False, "")}
    assert PatientSession.get_by_id(portal.id).ended_at is None
    record = AuditLog.get(AuditLog.action == "links_revoked")
    assert (record.actor, record.staff_id, record.guarantor_id) == (staff.email, staff.id, guarantor.id)
    assert record.detail == "3 links revoked; 2 QuickPay sessions ended"

    # the patient's next request shows the ended page; the link itself is refused with a clear 410
    ended = patient.get("/quickpay")
    assert ended.status_code == 401 and "Your session has ended" in ended.text
    for code in (first, statement):
        refused = patient.get(f"/q/{code}")
        assert refused.status_code == 410
        assert "This link can no longer be used" in refused.text
        assert "newer one" not in refused.text and "replaced" not in refused.text
        assert 'data-testid="practice-phone"' in refused.text and '<a href="tel:5550102000">(555) 010-2000</a>' in refused.text
        assert '<link rel="stylesheet" href="/brand/RFM.css">' in refused.text  # the practice's colours
        assert 'class="brand" href="/login?group=RFM">Riverside Family Medicine<' in refused.text
    assert at_desk.get("/quickpay").status_code == 401
    assert patient.get(f"/q/{others}").status_code == 303  # Sam's link still opens
    browsers.close()

    # a link made afterwards works; revoking again counts only the live ones
    fresh, _ = links.mint(guarantor, "sms", SECRET)
    with open_browser(app) as later:
        assert later.get(f"/q/{fresh}").status_code == 303
    again = post_form(as_staff, f"/staff/guarantors/{guarantor.account}/revoke-links")
    assert again.headers["location"].endswith("?revoked=1")
    assert 'data-testid="notice">1 link revoked.<' in as_staff.get(again.headers["location"]).text
    assert AuditLog.select().where(AuditLog.action == "links_revoked").order_by(AuditLog.id.desc()).get().detail == (
        "1 link revoked; 1 QuickPay session ended")


def test_revoking_with_no_live_links_says_none(as_staff, guarantor):
    done = post_form(as_staff, f"/staff/guarantors/{guarantor.account}/revoke-links")
    assert done.headers["location"].endswith("?revoked=0")
    assert 'data-testid="notice">0 links revoked.<' in as_staff.get(done.headers["location"]).text
    assert AuditLog.get(AuditLog.action == "links_revoked").detail == "0 links revoked; 0 QuickPay sessions ended"


def test_revoke_needs_the_form_token_and_a_known_account(as_staff, guarantor):
    code, link = links.mint(guarantor, "sms", SECRET)
    refused = as_staff.post(f"/staff/guarantors/{guarantor.account}/revoke-links", data={})
    assert refused.status_code == 403
    unknown = post_form(as_staff, "/staff/guarantors/NOPE/revoke-links")
    assert unknown.status_code == 404
    assert Link.get_by_id(link.id).revoked_at is None
    assert AuditLog.select().where(AuditLog.action == "links_revoked").count() == 0


def test_a_staff_mirror_is_not_ended_by_a_revoke(app, as_staff, guarantor, staff):
    mirror = sign_in_as(as_staff, guarantor, quickpay=True, origin="staff_mirror", staff=staff)
    links.revoke_all(guarantor, by=staff)
    assert PatientSession.get_by_id(mirror.id).ended_at is None


def test_the_dashboard_ignores_a_revoked_count_that_is_no_number(as_staff, guarantor):
    page = as_staff.get(f"/staff/guarantors/{guarantor.account}?revoked=-1")
    assert page.status_code == 200 and "revoked." not in page.text


# --- pops link revoke --------------------------------------------------------------------------

@pytest.fixture
def env(monkeypatch, db_url):
    monkeypatch.setenv("POPS_DATABASE_URL", db_url)
    monkeypatch.setenv("POPS_SECRET_KEY", SECRET)


def test_pops_link_revoke_prints_the_count(env, guarantor, capsys):
    code, _ = links.mint(guarantor, "sms", SECRET)
    links.mint(guarantor, "email", SECRET)
    other = make_guarantor(guarantor.group, "A2002", "Ann", "Other")
    kept, _ = links.mint(other, "sms", SECRET)
    assert cli.main(["link", "revoke", "--account", "A1001"]) == 0
    assert capsys.readouterr().out.strip() == "2 links revoked for account A1001"
    assert links.redeem(code, SECRET).status == "revoked" and links.redeem(kept, SECRET).ok
    record = AuditLog.get(AuditLog.action == "links_revoked")
    assert (record.actor, record.staff_id, record.detail) == (
        "pops link revoke", None, "2 links revoked; 0 QuickPay sessions ended")
    assert cli.main(["link", "revoke", "--account", "A1001"]) == 0
    assert capsys.readouterr().out.strip() == "0 links revoked for account A1001"


def test_pops_link_revoke_of_an_unknown_account_exits_1_and_changes_nothing(env, guarantor, capsys):
    _, link = links.mint(guarantor, "sms", SECRET)
    assert cli.main(["link", "revoke", "--account", "a1001"]) == 1
    assert "no guarantor with account 'a1001'; nothing was revoked" in capsys.readouterr().err
    assert Link.get_by_id(link.id).revoked_at is None
    assert AuditLog.select().count() == 0


def test_a_revoke_amid_a_burst_of_openings_leaves_no_session_of_its_links(app, db, guarantor):
    """Openings and the revoke race: each opening uses the link and starts its session in one
    transaction, so the revoke either comes first (410) or ends the session it waited for."""
    code, _ = links.mint(guarantor, "sms", SECRET, max_uses=1000)
    db.close()

    def open_once(_):
        with TestClient(app, follow_redirects=False) as client:
            return client.get(f"/q/{code}").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        opened = [pool.submit(open_once, n) for n in range(60)]
        opened[10].result()  # some are in, more are on their way
        with database.connection_context():
            links.revoke_all(guarantor)
        statuses = [f.result() for f in opened]
    assert 303 in statuses and set(statuses) <= {303, 410}
    with database.connection_context():
        assert PatientSession.select().count() == statuses.count(303)
        assert PatientSession.select().where(PatientSession.ended_at.is_null()).count() == 0
        assert {s.end_reason for s in PatientSession.select()} == {"revoked"}
