"""Guessing QuickPay links over HTTP: unknown or forged codes are counted per address, then answered 429."""
from __future__ import annotations

import secrets

from starlette.testclient import TestClient

from pops import clock, links
from pops.models import AuditLog, Link, Throttle

from factories import owe
from http_helpers import SECRET

LIMIT = links.BAD_CODES_PER_WINDOW
TEN_MINUTES = 600


def forged() -> str:
    """A code of the right shape whose signature is (almost surely) wrong."""
    return "S" + "".join(secrets.choice(links.ALPHABET) for _ in range(links.CODE_CHARS - 1))


def guess(client, times: int) -> list[int]:
    return [client.get(f"/q/{forged()}").status_code for _ in range(times)]


def throttled_rows():
    return AuditLog.select().where(AuditLog.action == "link_throttled")


def test_unknown_codes_are_refused_with_404_up_to_the_limit_then_429_for_ten_minutes(client, guarantor):
    assert guess(client, LIMIT) == [404] * LIMIT
    page = client.get(f"/q/{forged()}")
    assert page.status_code == 429
    assert page.headers["retry-after"] == str(TEN_MINUTES)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Too many links tried" in page.text and "Please wait 10 minutes" in page.text
    assert 'data-testid="link-error"' in page.text
    clock.advance(minutes=4, seconds=30)
    later = client.get(f"/q/{forged()}")
    assert later.status_code == 429 and later.headers["retry-after"] == "330"
    assert "Please wait 6 minutes" in later.text
    clock.advance(minutes=5, seconds=30)
    assert guess(client, 2) == [404, 404]  # the ten minutes are over: counting starts again
    assert Throttle.get(Throttle.kind == Throttle.LINK).count == 2


def test_throttling_is_recorded_once_with_the_address(client, guarantor):
    guess(client, LIMIT + 5)
    [row] = throttled_rows()
    assert row.ip == "testclient" and str(LIMIT) in row.detail
    clock.advance(minutes=11)
    guess(client, LIMIT + 1)
    assert throttled_rows().count() == 2  # a second throttling, later, is a second row


def test_a_genuine_code_is_honoured_from_a_throttled_address(client, guarantor):
    owe(guarantor)
    code, link = links.mint(guarantor, "sms", SECRET)
    guess(client, LIMIT + 1)
    opened = client.get(f"/q/{code}")
    assert opened.status_code == 303 and opened.headers["location"] == "/quickpay"
    assert Link.get_by_id(link.id).uses == 1
    assert client.get(f"/q/{forged()}").status_code == 429  # still throttled for unknown codes


def test_a_genuine_code_that_cannot_be_used_gets_its_own_page_and_is_not_counted(client, guarantor):
    code, _ = links.mint(guarantor, "sms", SECRET, max_uses=1)
    statuses = [client.get(f"/q/{code}").status_code for _ in range(LIMIT + 10)]
    assert statuses == [303] + [410] * (LIMIT + 9)
    assert client.get(f"/q/{forged()}").status_code == 404
    assert Throttle.get(Throttle.kind == Throttle.LINK).count == 1


def test_another_address_is_not_throttled(app, client, guarantor):
    guess(client, LIMIT + 1)
    with TestClient(app, follow_redirects=False, client=("203.0.113.50", 50000)) as elsewhere:
        assert elsewhere.get(f"/q/{forged()}").status_code == 404


def test_the_throttled_page_answers_htmx_with_its_block(client, guarantor):
    guess(client, LIMIT)
    page = client.get(f"/q/{forged()}", headers={"HX-Request": "true"})
    assert page.status_code == 429 and page.headers["retry-after"] == str(TEN_MINUTES)
    assert 'data-testid="link-error"' in page.text and "<html" not in page.text
