"""POPS Management creates a group (issue 13): admins only, a code of 2 to 32 characters A-Z, 0-9 and
hyphen, every option starting where an import's would, the time zone chosen from a list, a line of help
for each option; recorded. Bad input is refused with a clear message and creates nothing."""
from __future__ import annotations

import json
import re

import pytest

from pops.importer import import_document, load
from pops.models import GROUP_DEFAULTS, AuditLog, Group

from http_helpers import post_form, staff_login

BAD_CODE = "Use 2 to 32 characters: capital letters A–Z, digits 0–9 and hyphens (like RFM or WEST-2)."
TAKEN = "A group with this code already exists."
OPTIONS = ["name", *GROUP_DEFAULTS]


@pytest.fixture
def as_admin(client, admin):
    staff_login(client, admin)
    return client


def options(group: Group) -> dict[str, object]:
    return {f: getattr(group, f) for f in GROUP_DEFAULTS}


def untouched_form(code: str, clinic: str, **changes: str | None) -> dict[str, str]:
    """The new-group form as a browser posts it when only code, name and `changes` were touched (None: unticked)."""
    data = {"code": code, "name": clinic}
    for field, default in GROUP_DEFAULTS.items():
        if isinstance(default, bool):
            if default:
                data[field] = "on"  # a ticked box; an unticked one is not posted
        else:
            data[field] = str(default)
    for field, value in changes.items():
        if value is None:
            data.pop(field, None)
        else:
            data[field] = value
    return data


def created() -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == "group_create"))


def test_the_form_opens_at_the_import_defaults_with_a_line_of_help_for_each_option(as_admin):
    home = as_admin.get("/staff/admin")
    assert 'href="/staff/admin/new-group"' in home.text
    page = as_admin.get("/staff/admin/new-group")
    assert page.status_code == 200
    html = page.text
    assert 'name="code" value=""' in html and 'name="desk_qr_minutes" value="15"' in html
    assert 'name="quickpay_max_uses" value="10"' in html and 'name="link_days" value="365"' in html
    for field, default in GROUP_DEFAULTS.items():
        assert f'id="help-{field}"' in html, f"no help for {field}"
        if isinstance(default, bool):
            box = re.search(rf'<input type="checkbox" name="{field}"[^>]*>', html).group(0)
            assert (" checked" in box) is default, field
    help_lines = re.findall(r'<p class="hint muted" id="help-([a-z_]+)">(.*?)</p>', html)
    assert {name for name, _ in help_lines} == {"code", *OPTIONS}
    assert all(len(text.strip()) > 10 and "\n" not in text for _, text in help_lines)
    # the time zone is a list, not free text: US zones first, the import's default chosen
    zone = re.search(r'<select id="g-timezone" name="timezone"[^>]*>(.*?)</select>', html, re.S).group(1)
    values = re.findall(r'<option(?: value="([^"]*)")?(?: selected)?>([^<]*)</option>', zone)
    names = [value or text for value, text in values]
    assert names[:5] == ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                         "America/Los_Angeles"]
    assert "Europe/Lisbon" in names and "Asia/Tokyo" in names and len(names) > 300
    assert re.search(r'<option value="America/New_York" selected>', zone)
    assert 'name="timezone" value=' not in html


def test_an_admin_creates_a_group_like_an_import_would(as_admin, admin):
    data = untouched_form("NORTH-2", "North Clinic", timezone="America/Denver", desk_qr_minutes="20",
                          email_receipts="on", show_current_balance=None)
    response = post_form(as_admin, "/staff/admin/groups", data)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/admin/groups/NORTH-2?saved=created"
    group = Group.get(Group.code == "NORTH-2")
    expected = {**GROUP_DEFAULTS, "timezone": "America/Denver", "desk_qr_minutes": 20, "email_receipts": True,
                "show_current_balance": False}
    assert (group.name, options(group)) == ("North Clinic", expected)
    [row] = created()
    assert (row.staff_id, row.ip) == (admin.id, "testclient")
    assert row.detail == ("NORTH-2 'North Clinic': timezone='America/Denver', show_current_balance=False, "
                          "email_receipts=True, desk_qr_minutes=20")
    page = as_admin.get(response.headers["location"])
    assert "Group created." in page.text and "Group NORTH-2" in page.text
    assert 'href="/staff/admin/groups/NORTH-2"' in as_admin.get("/staff/admin").text


def test_a_group_made_with_the_form_untouched_matches_one_an_import_makes(as_admin):
    post_form(as_admin, "/staff/admin/groups", untouched_form("MADE", "Made Here"))
    import_document(load(json.dumps({"format": "pops-import/1", "groups": [{"code": "IMPORTED", "name": "Imported"}],
                                     "guarantors": []})))
    made, imported = Group.get(Group.code == "MADE"), Group.get(Group.code == "IMPORTED")
    assert options(made) == options(imported) == GROUP_DEFAULTS
    assert created()[0].detail == "MADE 'Made Here'"


@pytest.mark.parametrize("code", ["", "A", "rfm", "Rfm", "R FM", "RFM!", "RFM_2", "ÄB", "١٢", "X" * 33, "AB\u200b"])
def test_a_bad_code_is_refused_and_nothing_is_created(as_admin, code):
    response = post_form(as_admin, "/staff/admin/groups", untouched_form(code, "Bad Code Clinic"))
    assert response.status_code == 422
    assert BAD_CODE in response.text and "Nothing was created." in response.text
    assert 'value="Bad Code Clinic"' in response.text  # what was typed stays
    assert Group.select().count() == 0 and created() == []


def test_a_duplicate_code_is_refused(as_admin, group):
    before = options(group)
    response = post_form(as_admin, "/staff/admin/groups", untouched_form("RFM", "Another Riverside"))
    assert response.status_code == 422 and TAKEN in response.text
    assert Group.select().count() == 1 and options(Group.get_by_id(group.id)) == before
    assert created() == []


def test_a_code_that_differs_only_in_case_from_an_imported_one_is_refused(as_admin):
    Group.create(code="north", name="North, imported with a lowercase code")
    response = post_form(as_admin, "/staff/admin/groups", untouched_form("NORTH", "North"))
    assert response.status_code == 422 and TAKEN in response.text
    assert Group.select().count() == 1


@pytest.mark.parametrize("field,value,message", [
    ("timezone", "Mars/Olympus_Mons", "Choose a time zone from the list."),
    ("timezone", "", "Choose a time zone from the list."),
    ("desk_qr_minutes", "0", "Use a whole number of at least 1."),
    ("name", "  ", "The group needs a name."),
    ("brand_color", "blue", "Use a colour like #1f5f8b."),
    ("landing_page", "statements", "Choose Home or Pay."),
])
def test_a_bad_option_is_refused_and_nothing_is_created(as_admin, field, value, message):
    response = post_form(as_admin, "/staff/admin/groups", untouched_form("OK-CODE", "Fine Clinic", **{field: value}))
    assert response.status_code == 422
    assert message in response.text and "Nothing was created." in response.text
    assert 'name="code" value="OK-CODE"' in response.text
    assert Group.select().count() == 0 and created() == []


def test_staff_members_who_are_not_admins_cannot_create_a_group(client, staff):
    staff_login(client, staff)
    assert client.get("/staff/admin/new-group").status_code == 403
    response = post_form(client, "/staff/admin/groups", untouched_form("SNEAK", "Sneaky Clinic"))
    assert response.status_code == 403
    assert Group.select().count() == 0 and created() == []
    assert AuditLog.select().where(AuditLog.action == "forbidden").count() == 2


def test_signed_out_the_new_group_pages_ask_for_a_sign_in(client, db):
    assert client.get("/staff/admin/new-group").headers["location"].startswith("/staff/login")
    response = post_form(client, "/staff/admin/groups", untouched_form("ANON", "Anonymous"))
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")
    assert Group.select().count() == 0


def test_the_group_page_chooses_its_time_zone_from_the_list_too(as_admin, group):
    html = as_admin.get("/staff/admin/groups/RFM").text
    assert re.search(r'<select id="g-timezone" name="timezone"[^>]*>', html)
    assert '<option value="America/Chicago" selected>' in html
    assert 'id="help-timezone"' in html
