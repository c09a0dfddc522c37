"""Issue 13 in a real browser: an admin creates a group from POPS Management (the time zone picked from
the list), and a staff member on a phone chooses the time zone pages spanning groups are shown in; the
outbox then reads in it. Screenshots kept in POPS_ARTIFACTS_DIR."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from pops import notify
from pops.models import AuditLog, Group, Guarantor, Staff

from helpers import ARTIFACTS_DIR, create_staff, import_demo, server_database, staff_sign_in

ADMIN = "admin-settings-e2e@example.org"
MEMBER = "desk-settings-e2e@example.org"
PASSWORD = "a long password for the settings test"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}


def keep(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"test_staff_settings__{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def secrets(server) -> dict[str, str]:
    import_demo(server)
    return {ADMIN: create_staff(server, ADMIN, PASSWORD, role="admin"), MEMBER: create_staff(server, MEMBER, PASSWORD)}


def test_an_admin_creates_a_group_with_its_time_zone_from_the_list(server, secrets, browser, page_errors):
    context = browser.new_context(**DESKTOP)
    try:
        desk = context.new_page()
        staff_sign_in(desk, server, ADMIN, PASSWORD, secrets[ADMIN])
        desk.get_by_role("link", name="POPS Management").click()
        desk.get_by_role("link", name="New group").click()
        expect(desk.get_by_role("heading", name="New group")).to_be_visible()
        expect(desk.get_by_label("Desk QR minutes")).to_have_value("15")
        expect(desk.get_by_label("Time zone")).to_have_value("America/New_York")
        desk.get_by_label("Code").fill("MTN-2")
        desk.get_by_label("Name", exact=True).fill("Mountain Pediatrics")
        desk.get_by_label("Time zone").select_option("America/Denver")
        keep(desk, "new_group_1280")
        desk.get_by_role("button", name="Create group").click()
        expect(desk.get_by_test_id("notice")).to_have_text("Group created.")
        expect(desk.get_by_role("heading", name="Group MTN-2")).to_be_visible()
        expect(desk.get_by_label("Time zone")).to_have_value("America/Denver")
    finally:
        context.close()
    with server_database(server):
        group = Group.get(Group.code == "MTN-2")
        assert (group.name, group.timezone, group.desk_qr_minutes, group.link_days) == (
            "Mountain Pediatrics", "America/Denver", 15, 365)
        assert AuditLog.get(AuditLog.action == "group_create").detail == \
            "MTN-2 'Mountain Pediatrics': timezone='America/Denver'"


def test_a_staff_member_chooses_their_time_zone_on_a_phone(server, secrets, page, page_errors):
    with server_database(server):
        maria = Guarantor.get(Guarantor.account == "A1001")
        notify.queue_sms("+15555550123", "A message to read in the outbox", purpose="test", guarantor=maria)
    staff_sign_in(page, server, MEMBER, PASSWORD, secrets[MEMBER])
    page.get_by_role("link", name=MEMBER).click()
    expect(page.get_by_role("heading", name="Your settings")).to_be_visible()
    page.get_by_label("Show times in").select_option("Pacific/Honolulu")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    expect(page.get_by_test_id("staff-zone")).to_have_text("Pacific/Honolulu")
    keep(page, "account_390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the settings page scrolls sideways"
    page.get_by_role("link", name="Outbox").click()
    row = page.get_by_test_id("outbox").locator("tbody tr").filter(has_text="A message to read in the outbox")
    expect(row.locator("td").first).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d HST"))
    with server_database(server):
        assert Staff.get(Staff.email == MEMBER).timezone == "Pacific/Honolulu"
        assert AuditLog.get(AuditLog.action == "staff_timezone").detail == "default → Pacific/Honolulu"
    assert page_errors == []
