"""QuickPay links: code format, forgiving parsing, refusing forgeries without the database, counters."""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pops import clock, links
from pops.db import database
from pops.models import Group, Link

SECRET = "s" * 48


@pytest.fixture
def code(guarantor):
    printed, _ = links.mint(guarantor, "sms", SECRET)
    return printed


def test_code_format(code):
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4, 4]
    assert set(code.replace("-", "")) <= set(links.ALPHABET)
    assert links.RANDOM_CHARS * 5 >= 60 and links.SIGNATURE_CHARS * 5 >= 20
    assert code[0] == "S"


def test_the_random_part_uses_every_letter_in_every_place():
    """Each of the 14 letters carries 5 random bits: all 32 letters turn up in every place."""
    assert len(set(links.ALPHABET)) == len(links.ALPHABET) == 32
    keys = [links._new_key("statement") for _ in range(2000)]
    assert {len(k) for k in keys} == {1 + links.RANDOM_CHARS} and len(set(keys)) == 2000
    for place in range(1, 1 + links.RANDOM_CHARS):
        assert {k[place] for k in keys} == set(links.ALPHABET)


def test_defaults_come_from_the_group(guarantor):
    Group.update(quickpay_max_uses=3, link_days=30, desk_qr_minutes=5).execute()
    guarantor = type(guarantor).get_by_id(guarantor.id)
    _, sms = links.mint(guarantor, "sms", SECRET)
    assert sms.max_uses == 3 and sms.expires_at == clock.now() + dt.timedelta(days=30)
    _, desk = links.mint(guarantor, "desk", SECRET)
    assert desk.max_uses == 1 and desk.expires_at == clock.now() + dt.timedelta(minutes=5)
    _, custom = links.mint(guarantor, "statement", SECRET, max_uses=50, days=90)
    assert custom.max_uses == 50 and custom.expires_at == clock.now() + dt.timedelta(days=90)


def test_a_statement_run_mints_its_links_in_one_go_on_the_same_terms(guarantor, second):
    from factories import make_statement

    Group.update(quickpay_max_uses=3, link_days=30).execute()
    guarantor, second = (type(guarantor).get_by_id(g.id) for g in (guarantor, second))
    statements = [make_statement(g, f"S-{g.id}", date=dt.date(2026, 10, 15), due_date=dt.date(2026, 11, 10),
                                 balance="50.00") for g in (guarantor, second)]
    codes = links.mint_for_statements(list(zip((guarantor, second), statements)), SECRET)
    assert len(set(codes)) == 2 and all(code[0] == "Q" for code in codes)
    for code, owner, statement in zip(codes, (guarantor, second), statements):
        link = links.redeem(code, SECRET).link
        assert (link.guarantor_id, link.statement_id, link.purpose) == (owner.id, statement.id, "statement")
        assert link.max_uses == 3 and link.expires_at == clock.now() + dt.timedelta(days=30)
    assert links.mint_for_statements([], SECRET) == []


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda c: c, id="as printed"),
        pytest.param(lambda c: c.lower(), id="lower case"),
        pytest.param(lambda c: c.replace("-", ""), id="no hyphens"),
        pytest.param(lambda c: c.replace("-", " "), id="spaces"),
        pytest.param(lambda c: f'"{c}"', id="quoted"),
        pytest.param(lambda c: f"%22{c}%22", id="url-encoded quotes"),
        pytest.param(lambda c: f"{c}.", id="trailing full stop"),
        pytest.param(lambda c: f"({c})", id="parentheses"),
        pytest.param(lambda c: f"  {c}  ", id="surrounding spaces"),
        pytest.param(lambda c: c.replace("0", "O").replace("1", "I"), id="O for 0, I for 1"),
        pytest.param(lambda c: c.replace("1", "l"), id="l for 1"),
    ],
)
def test_forgiving_parsing(code, transform):
    assert links.redeem(transform(code), SECRET).ok


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"), id="signature changed"),
        pytest.param(lambda c: c[:5] + ("0" if c[5] != "0" else "1") + c[6:], id="random part changed"),
        pytest.param(lambda c: "E" + c[1:], id="purpose changed"),
        pytest.param(lambda c: c[:-2], id="too short"),
        pytest.param(lambda c: c + "A", id="too long"),
        pytest.param(lambda c: c.replace(c[3], "U"), id="not in the alphabet"),
        pytest.param(lambda c: "", id="empty"),
    ],
)
def test_forged_or_mistyped_codes_are_refused_before_any_query(code, mangle):
    bad = mangle(code)
    database.initialize(None)  # any query now raises: the refusal must not need one
    assert links.verify(bad, SECRET) is None
    assert links.redeem(bad, SECRET).status == "unknown"


def test_a_code_signed_with_another_secret_is_refused(guarantor):
    code, _ = links.mint(guarantor, "sms", "another secret " * 4)
    assert links.verify(code, SECRET) is None


def test_each_redemption_uses_one_access_until_used_up(guarantor):
    code, link = links.mint(guarantor, "sms", SECRET, max_uses=3)
    assert [links.redeem(code, SECRET).status for _ in range(4)] == ["ok", "ok", "ok", "used_up"]
    assert Link.get_by_id(link.id).uses == 3


def test_expiry_follows_the_clock(guarantor):
    code, _ = links.mint(guarantor, "desk", SECRET, max_uses=5, minutes=15)
    clock.advance(minutes=14, seconds=59)
    assert links.redeem(code, SECRET).ok
    clock.advance(seconds=1)
    result = links.redeem(code, SECRET)
    assert result.status == "expired" and result.link.guarantor.group.footer_phone == "(555) 010-2000"


def test_a_new_link_does_not_revoke_older_ones_and_staff_can_revoke_all(guarantor):
    old, _ = links.mint(guarantor, "sms", SECRET)
    new, _ = links.mint(guarantor, "email", SECRET)
    assert links.redeem(old, SECRET).ok and links.redeem(new, SECRET).ok
    assert links.revoke_all(guarantor) == 2
    assert links.redeem(old, SECRET).status == "revoked"
    assert links.redeem(new, SECRET).status == "revoked"


def test_a_genuine_code_missing_from_the_database_is_unknown(guarantor):
    code, link = links.mint(guarantor, "sms", SECRET)
    link.delete_instance()
    assert links.redeem(code, SECRET).status == "unknown"


def test_parallel_redemptions_never_exceed_max_uses(guarantor, db):
    code, link = links.mint(guarantor, "sms", SECRET, max_uses=10)
    db.close()  # each thread opens its own connection
    start = threading.Barrier(20)

    def attempt(_):
        with database.connection_context():
            if _ < 20:
                start.wait()
            return links.redeem(code, SECRET).status

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(100)))
    assert results.count("ok") == 10
    assert results.count("used_up") == 90
    with database.connection_context():
        assert Link.get_by_id(link.id).uses == 10
