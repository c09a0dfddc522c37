"""The command line, driven in-process against the test database."""
from __future__ import annotations

import datetime as dt

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
