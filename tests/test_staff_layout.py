"""The staff console's two-column grid never widens the page past a phone's screen.

A bare `1fr` grid track is `minmax(auto, 1fr)`: its minimum is the widest unbreakable content
inside, so the dashboard's Receipts table (in a `.table-scroll`) pushed its card, and the whole
page, to 463 px on a 390 px phone (e2e/test_staff_mirror.py caught it). The tracks must start at 0
so the table scrolls inside its card instead.
"""
from __future__ import annotations

import re


def _declarations(css: str, selector: str) -> list[str]:
    """Every grid-template-columns value given to exactly `selector`, media queries included."""
    pattern = rf"(?:^|[}}\n])\s*{re.escape(selector)}\s*{{([^}}]*)}}"
    values = []
    for body in re.findall(pattern, css):
        values += [v.strip() for v in re.findall(r"grid-template-columns:\s*([^;]+);", body)]
    return values


def test_staff_columns_tracks_can_shrink_below_their_content(client):
    css = client.get("/static/staff.css").text
    values = _declarations(css, ".staff-columns")
    assert len(values) == 2, values  # the phone's one column and the desktop's two
    for value in values:
        assert "minmax(0, 1fr)" in value and "fr" not in value.replace("minmax(0, 1fr)", ""), \
            f".staff-columns has a track that cannot shrink below its content: {value}"


def test_only_staff_pages_load_the_staff_sheet(client):
    """A phone on a patient page never downloads the console's rules; a staff page loads them after pops.css."""
    staff_page = client.get("/staff/login").text
    assert staff_page.index("/static/pops.css") < staff_page.index("/static/staff.css")
    assert "/static/staff.css" not in client.get("/").text
    pops_css = client.get("/static/pops.css").text
    assert ".staff-" not in pops_css and ".report-table" not in pops_css
