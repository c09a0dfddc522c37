"""QuickPay link rules at their edges (pops/links.py): the terms a link is minted on, where its URL points,
what revoking and throttling record."""
from __future__ import annotations

import datetime as dt

import pytest

from pops import clock, links
from pops.audit import POPS
from pops.models import AuditLog, Link, PatientSession, Throttle

from factories import make_statement

SECRET = "s" * 48


@pytest.mark.parametrize("purpose, terms, lifetime, uses", [
    ("sms", {"days": 1, "minutes": 30}, dt.timedelta(days=1, minutes=30), 5),
    ("email", {"minutes": 45, "days": 0}, dt.timedelta(minutes=45), 5),
    ("email", {"max_uses": 1}, dt.timedelta(days=30), 1),
    ("desk", {}, dt.timedelta(minutes=10), 1),
    ("desk", {"minutes": 3, "max_uses": 2}, dt.timedelta(minutes=3), 2),
])
def test_a_link_lasts_and_counts_as_asked_else_as_its_group_says(guarantor, purpose, terms, lifetime, uses):
    guarantor.group.link_days, guarantor.group.quickpay_max_uses, guarantor.group.desk_qr_minutes = 30, 5, 10
    guarantor.group.save()
    _, link = links.mint(guarantor, purpose, SECRET, **terms)
    assert (link.expires_at - link.created_at, link.max_uses, link.created_at) == (lifetime, uses, clock.now())


@pytest.mark.parametrize("terms", [{"max_uses": 0}, {"max_uses": -1}, {"days": 0}, {"days": 0, "minutes": 0},
                                   {"days": -1, "minutes": 30}])
def test_a_link_needs_at_least_one_use_and_a_lifetime(guarantor, terms):
    with pytest.raises(ValueError, match="^a link needs at least one use and a lifetime$"):
        links.mint(guarantor, "sms", SECRET, **terms)
    with pytest.raises(ValueError, match="^unknown link purpose 'fax'$"):
        links.mint(guarantor, "fax", SECRET)
    assert Link.select().count() == 0


def test_a_link_keeps_its_statement_and_who_made_it(guarantor, staff):
    statement = make_statement(guarantor, balance="80.00")
    _, link = links.mint(guarantor, "statement", SECRET, statement=statement, created_by=staff)
    stored = Link.get_by_id(link.id)
    assert (stored.statement_id, stored.created_by_id, stored.purpose, stored.guarantor_id) == (
        statement.id, staff.id, "statement", guarantor.id)


@pytest.mark.parametrize("base", ["https://pay.example.org", "https://pay.example.org/", "https://pay.example.org//"])
def test_a_link_url_has_one_slash_whatever_the_base_url_ends_with(base):
    assert links.url(base, "S123-4567") == "https://pay.example.org/q/S123-4567"


def test_a_link_url_keeps_the_base_urls_path_to_its_last_character():
    assert links.url("https://example.org/PAY-TX/", "S123-4567") == "https://example.org/PAY-TX/q/S123-4567"


def test_revoking_records_the_address_it_came_from(guarantor, second, staff):
    links.mint(guarantor, "sms", SECRET)
    theirs, _ = links.mint(second, "sms", SECRET)
    assert links.revoke_all(guarantor, by=staff, ip="203.0.113.9") == 1
    assert links.revoke_all(guarantor) == 0
    logs = [(a.staff_id, a.actor, a.ip, a.detail) for a in AuditLog.select().where(AuditLog.action == "links_revoked")
            .order_by(AuditLog.id)]
    assert logs == [(staff.id, staff.email, "203.0.113.9", "1 link revoked; 0 QuickPay sessions ended"),
                    (None, links.COMMAND_LINE, "", "0 links revoked; 0 QuickPay sessions ended")]
    assert links.redeem(theirs, SECRET).ok  # another guarantor's link is spared


def test_throttling_is_recorded_by_pops_with_its_figures_and_counted_on_the_first_64_characters(guarantor):
    long_address = "2001:db8::" + "a" * 60  # a forwarded-for header can carry more than an address
    for i in range(links.BAD_CODES_PER_WINDOW):
        assert links.redeem("NOT-A-CODE", SECRET, ip=long_address + str(i % 2)).status == "unknown"
    assert links.redeem("NOT-A-CODE", SECRET, ip=long_address + "x").status == "throttled"
    assert [t.key for t in Throttle.select()] == [long_address[:64]]
    log = AuditLog.get(AuditLog.action == "link_throttled")
    assert (log.actor, log.staff_id, log.guarantor_id) == (POPS, None, None)
    assert log.detail == "60 unknown or forged codes within 10 minutes; refused for 10 minutes"


def test_opening_a_link_starts_a_quickpay_session_from_its_address_and_browser(guarantor):
    code, link = links.mint(guarantor, "email", SECRET, max_uses=1)
    result, token = links.open_quickpay(code, SECRET, ip="198.51.100.7", user_agent="Phone Browser 1.0")
    assert result.ok and token
    session = PatientSession.get(PatientSession.link == link)
    assert (session.ip, session.user_agent, session.quickpay, session.origin) == (
        "198.51.100.7", "Phone Browser 1.0", True, "email_link")
    assert links.open_quickpay(code, SECRET, ip="198.51.100.7") == (links.Redemption("used_up", Link.get()), "")
    other, _ = links.mint(guarantor, "sms", SECRET)
    links.open_quickpay(other, SECRET, ip="198.51.100.8")
    assert PatientSession.get(PatientSession.ip == "198.51.100.8").user_agent == ""
