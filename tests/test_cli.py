"""The command line, driven in-process against the test database."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pops import cli, clock, links
from pops.models import Link

SECRET = "c" * 48


@pytest.fixture
def env(monkeypatch, db_url):
    monkeypatch.setenv("POPS_DATABASE_URL", db_url)
    monkeypatch.setenv("POPS_SECRET_KEY", SECRET)
    monkeypatch.setenv("POPS_BASE_URL", "https://pay.example.org")


def test_link_create_prints_a_working_url(env, guarantor, capsys):
    assert cli.main(["link", "create", "--account", "A1001", "--uses", "3", "--days", "30"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://pay.example.org/q/")
    link = Link.get()
    assert link.max_uses == 3 and link.expires_at == clock.now() + dt.timedelta(days=30)
    assert links.redeem(url.rsplit("/", 1)[1], SECRET).ok


def test_link_create_defaults_to_the_group(env, guarantor, capsys):
    assert cli.main(["link", "create", "--account", "A1001"]) == 0
    link = Link.get()
    assert link.max_uses == guarantor.group.quickpay_max_uses
    assert link.expires_at == clock.now() + dt.timedelta(days=guarantor.group.link_days)


def test_link_create_refuses_bad_input(env, guarantor, capsys):
    assert cli.main(["link", "create", "--account", "NOPE"]) == 1
    assert "no guarantor with account 'NOPE'" in capsys.readouterr().err
    assert cli.main(["link", "create", "--account", "A1001", "--uses", "0"]) == 2
    assert Link.select().count() == 0


def test_staff_create_prints_the_totp_secret(env, db, monkeypatch, capsys):
    import pyotp

    from pops.models import Staff
    from pops.staff import check_password

    monkeypatch.setenv("POPS_STAFF_PASSWORD", "correct horse battery")
    assert cli.main(["staff", "create", "Desk@Example.org", "--role", "admin"]) == 0
    out = capsys.readouterr().out
    staff = Staff.get()
    assert staff.email == "desk@example.org" and staff.role == "admin"
    assert f"TOTP secret: {staff.totp_secret}" in out and "otpauth://totp/" in out
    assert "correct horse" not in staff.password_hash  # hashed, argon2
    assert staff.password_hash.startswith("$argon2")
    assert check_password(staff, "correct horse battery") and not check_password(staff, "wrong")
    assert pyotp.TOTP(staff.totp_secret).now().isdigit()
    # a second time with the same email is refused and changes nothing
    assert cli.main(["staff", "create", "desk@example.org"]) == 1
    assert Staff.select().count() == 1


def test_staff_create_refuses_a_short_password(env, db, monkeypatch, capsys):
    from pops.models import Staff

    monkeypatch.setenv("POPS_STAFF_PASSWORD", "short")
    assert cli.main(["staff", "create", "desk@example.org"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert Staff.select().count() == 0


def test_demo_seeds_through_the_import_prints_working_details_and_is_repeatable(env, db, capsys):
    from pops import demo
    from pops.models import Group, Guarantor, Staff
    from pops.staff import check_password

    assert cli.main(["demo", "--no-serve"]) == 0
    out = capsys.readouterr().out
    assert Group.select().count() >= 2
    assert Guarantor.select().count() >= 30
    url = next(word for word in out.split() if "/q/" in word)
    assert url.startswith("https://pay.example.org/q/")
    redeemed = links.redeem(url.rsplit("/", 1)[1], SECRET)
    assert redeemed.ok and redeemed.link.guarantor.account == demo.DEMO_ACCOUNTS["main"]
    sign_in = demo.DEMO_SIGN_IN
    assert f"first name {sign_in['first_name']}, last name {sign_in['last_name']}, date of birth 04/12/1981" in out
    staff = Staff.get(Staff.email == cli.DEMO_STAFF["email"])
    assert check_password(staff, cli.DEMO_STAFF["password"]) and staff.totp_secret in out

    # a second run the same day changes nothing in the ledger and keeps the staff login
    assert cli.main(["demo", "--no-serve"]) == 0
    again = capsys.readouterr().out
    assert " created" in again and "guarantors: 0 created, 0 updated" in again
    assert Staff.select().count() == 1


def test_demo_prints_three_patients_each_with_a_working_link_and_sign_in(env, db, capsys):
    import re

    from pops import demo, signin
    from pops.dates import parse_date
    from pops.models import Group

    assert cli.main(["demo", "--no-serve"]) == 0
    out = capsys.readouterr().out
    urls = [word for word in out.split() if "/q/" in word]
    signins = re.findall(r"Sign in at https://pay\.example\.org/login\?group=(\w+) with first name (.+?),"
                         r" last name (.+?), date of birth (\d\d/\d\d/\d{4})", out)
    accounts = [demo.DEMO_ACCOUNTS[role] for role in demo.DEMO_PATIENTS]
    assert len(urls) == len(signins) == len(set(accounts)) == 3
    for url, (group_code, first, last, born), account in zip(urls, signins, accounts):
        assert links.redeem(url.rsplit("/", 1)[1], SECRET).link.guarantor.account == account
        # what is printed signs in as that patient, and only that one (each has its own hourly code limit)
        found = signin.find_candidates(first, last, parse_date(born), Group.get(Group.code == group_code))
        assert [g.account for g in found] == [account]
        assert found[0].mobile and found[0].email  # somewhere to send the code
    assert len({code for code, *_ in signins}) == 2  # both practices


def test_demo_on_a_later_day_rebuilds_rather_than_piling_up(env, db, capsys):
    from pops import demo
    from pops.ledger import balances_for
    from pops.models import Encounter, Guarantor

    assert cli.main(["demo", "--no-serve"]) == 0
    capsys.readouterr()
    clock.advance(dt.timedelta(days=45))
    assert cli.main(["demo", "--no-serve"]) == 0
    assert "rebuilt for today" in capsys.readouterr().out

    document = demo.build_document(clock.now().date())
    expected = {(g["account"], e["id"]) for g in document["guarantors"] for e in g["encounters"]}
    held = set(Encounter.select(Guarantor.account, Encounter.ext_id).join(Guarantor).tuples())
    assert held == expected
    main = next(g for g in document["guarantors"] if g["account"] == demo.DEMO_ACCOUNTS["main"])
    statement = max(main["statements"], key=lambda s: s["date"])
    main_row = Guarantor.get(Guarantor.account == demo.DEMO_ACCOUNTS["main"])
    assert balances_for(main_row).statement_balance == Decimal(statement["balance"])


def test_demo_refuses_a_database_with_other_practices(env, db, capsys):
    from pops.models import Group, Guarantor

    Group.create(code="OAK", name="Oak Street Clinic")
    assert cli.main(["demo", "--no-serve"]) == 1
    assert "not the demo's (OAK)" in capsys.readouterr().err
    assert [g.code for g in Group.select()] == ["OAK"] and Guarantor.select().count() == 0


def test_the_readme_demo_serves_quickpay_with_nothing_but_sqlite(tmp_path):
    """`./scripts/demo` as a new user runs it: no POPS_* setting at all (not even POPS_ENV or POPS_GATEWAY)."""
    import os
    import re
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx2 as httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)  # this checkout's pops, run from elsewhere
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "pops", "demo", "--port", str(port)], env=env,
                                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)  # its var/ in tmp_path
    try:
        deadline = time.monotonic() + 60
        while True:
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        link = re.search(rf"http://127\.0\.0\.1:{port}/q/[0-9A-Z-]+", log.read_text()).group(0)
        with httpx.Client(follow_redirects=True, timeout=10) as browser:
            page = browser.get(link)
        assert page.status_code == 200 and "Lopez" in page.text and "Amount Due" in page.text
        assert (tmp_path / "var" / "pops.sqlite3").exists()
    finally:
        demo.terminate()
        demo.wait(timeout=20)
