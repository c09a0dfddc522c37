"""POPS_NOW: outside production, every command and the server run from a chosen instant (a rehearsal
of a statement day or a month end); production refuses it."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pops import clock
from pops.settings import Settings, SettingsError

UTC = dt.timezone.utc
REHEARSAL = "2027-03-01T15:00:00Z"


@pytest.mark.parametrize("text, expected", [
    ("2027-03-01T15:00:00Z", dt.datetime(2027, 3, 1, 15, tzinfo=UTC)),
    ("2027-03-01T09:00:00-06:00", dt.datetime(2027, 3, 1, 15, tzinfo=UTC)),
    (" 2027-03-01T15:00:00+00:00 ", dt.datetime(2027, 3, 1, 15, tzinfo=UTC)),
    ("", None),
])
def test_pops_now_is_an_instant_with_its_zone(text, expected):
    now = Settings.from_env({"POPS_ENV": "development", "POPS_NOW": text}).now
    assert now == expected
    assert now is None or now.utcoffset() == dt.timedelta(0)
    assert Settings.from_env({"POPS_ENV": "test"}).now is None


@pytest.mark.parametrize("text, says", [
    ("2027-03-01T15:00:00", "no time zone"),
    ("2027-03-01", "no time zone"),
    ("tomorrow", "not an ISO 8601 instant"),
    ("2027-02-30T15:00:00Z", "not an ISO 8601 instant"),
])
def test_a_pops_now_without_a_zone_or_unreadable_is_refused(text, says):
    with pytest.raises(SettingsError, match=says) as refused:
        Settings.from_env({"POPS_ENV": "development", "POPS_NOW": text})
    assert "POPS_NOW" in str(refused.value)


@pytest.mark.parametrize("env", [{}, {"POPS_ENV": "production"}])
def test_production_refuses_pops_now(env):
    with pytest.raises(SettingsError, match="POPS_NOW is for rehearsals only"):
        Settings.from_env({**env, "POPS_NOW": REHEARSAL})


def test_set_now_keeps_the_clock_ticking_from_the_instant():
    start = dt.datetime(2027, 3, 1, 15, tzinfo=UTC)
    clock.set_now(start)
    first = clock.now()
    assert dt.timedelta(0) <= first - start < dt.timedelta(seconds=5)
    time.sleep(0.01)
    assert clock.now() > first  # running, not frozen
    assert clock.advance(days=1) - start >= dt.timedelta(days=1)
    assert clock.today("America/Chicago") == dt.date(2027, 3, 2)
    clock.freeze(start)  # the tests' freeze still wins over a rehearsal offset
    assert clock.now() == start
    clock.reset()
    assert abs(clock.now() - dt.datetime.now(UTC)) < dt.timedelta(seconds=5)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POPS_")}
    return {**env, "POPS_DATABASE_URL": f"sqlite:///{tmp_path / 'pops.sqlite3'}", "POPS_DATA_DIR": str(tmp_path / "var"),
            "POPS_ENV": "development", **extra}


def _pops(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pops", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_command_runs_as_of_pops_now(tmp_path):
    env = _env(tmp_path, POPS_NOW=REHEARSAL)
    assert _pops(tmp_path, "migrate", env=env).returncode == 0
    done = _pops(tmp_path, "statements", "run", env=env)
    assert done.returncode == 0, done.stderr
    assert "statements-2027-03-01.html" in done.stdout
    assert (tmp_path / "statements-2027-03-01.html").exists()


def test_a_production_command_refuses_pops_now_before_doing_anything(tmp_path):
    done = _pops(tmp_path, "migrate", env=_env(tmp_path, POPS_ENV="production", POPS_NOW=REHEARSAL))
    assert done.returncode == 2
    assert "POPS_NOW is for rehearsals only" in done.stderr
    assert not (tmp_path / "pops.sqlite3").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_server_tells_the_rehearsal_time(tmp_path):
    env = _env(tmp_path, POPS_NOW=REHEARSAL)
    assert _pops(tmp_path, "migrate", env=env).returncode == 0
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "pops", "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.load(response)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    told = dt.datetime.fromisoformat(health["time"])
    assert dt.timedelta(0) <= told - dt.datetime(2027, 3, 1, 15, tzinfo=UTC) < dt.timedelta(minutes=1)
