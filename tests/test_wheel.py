"""POPS runs from `pip install`, not only from a checkout: the built wheel carries the templates,
the static files and the migrations, and serves the QuickPay page from a directory far from here."""
from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("POPS_TEST_DATABASE_URL")),
    reason="packaging does not depend on the database; checked on the SQLite pass",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*args: str, cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A new virtual environment holding only the wheel; it sees .venv's packages for the dependencies."""
    where = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-place build reuses build/, which keeps files the checkout no longer has.
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "var", "test-artifacts", "__pycache__", "*.sqlite3*"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "-w", str(where / "dist"), str(source), cwd=where)
    wheel = next((where / "dist").glob("pops-*.whl"))
    venv = where / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=where)
    python = venv / "bin" / "python"
    site = _run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=where).strip()
    # A plain path in a .pth file: .venv's packages are importable, its editable POPS is not.
    Path(site, "dot-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
         str(wheel), cwd=where)
    return venv


def test_the_wheel_carries_templates_static_files_and_migrations(installed):
    python = installed / "bin" / "python"
    code = ("import pops, pathlib; p = pathlib.Path(pops.__file__).parent; print(p); "
            "print(len(list((p / 'templates').rglob('*.html'))), len(list((p / 'static').glob('*.js'))), "
            "len(list((p / 'migrations').glob('0*.py'))))")
    package, counts = _run(str(python), "-c", code, cwd=installed).splitlines()
    assert Path(package).is_relative_to(installed), "POPS was imported from the checkout, not the wheel"
    shipped = {p.relative_to(package).as_posix() for p in Path(package).rglob("*.py")}
    assert shipped == {p.relative_to(ROOT / "pops").as_posix() for p in (ROOT / "pops").rglob("*.py")}
    templates, scripts, migrations = map(int, counts.split())
    assert templates == len(list((ROOT / "templates").rglob("*.html")))
    assert scripts == len(list((ROOT / "static").glob("*.js")))
    assert migrations == len(list((ROOT / "pops" / "migrations").glob("0*.py")))


def test_installed_pops_migrates_and_serves_quickpay_and_static_files(installed, tmp_path):
    pops = str(installed / "bin" / "pops")
    port = _free_port()
    env = {**os.environ, "POPS_DATABASE_URL": f"sqlite:///{tmp_path / 'pops.sqlite3'}", "POPS_ENV": "development",
           "POPS_DATA_DIR": str(tmp_path / "var"), "POPS_BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("POPS_SECRET_KEY", None)
    assert "applied migration" in _run(pops, "migrate", cwd=tmp_path, env=env)
    seeded = _run(pops, "demo", "--no-serve", cwd=tmp_path, env=env)
    link = re.search(r"/q/[A-Za-z0-9._~-]+", seeded)
    assert link, seeded
    server = subprocess.Popen([pops, "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the installed server did not start"
                time.sleep(0.2)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with browser.open(base + link.group(0), timeout=10) as page:
            html, landed = page.read().decode(), page.url
        assert landed == base + "/quickpay"
        assert "Lopez" in html and "Amount Due" in html and "Riverside Family Medicine" in html
        with urllib.request.urlopen(base + "/static/pops.css", timeout=10) as css:
            assert css.status == 200 and b"--brand" in css.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_wheel_carries_the_catalogues_and_speaks_spanish(installed):
    python = installed / "bin" / "python"
    code = ("import pops, pathlib; from pops import i18n; p = pathlib.Path(pops.__file__).parent / 'locale'; "
            "print(sorted(f.relative_to(p).as_posix() for f in p.rglob('*.[mp]o'))); print(i18n.gettext('es', 'Home'))")
    shipped, home = _run(str(python), "-c", code, cwd=installed).splitlines()
    locale = ROOT / "pops" / "locale"
    assert shipped == str(sorted(f.relative_to(locale).as_posix() for f in locale.rglob("*.[mp]o")))
    assert home == "Inicio"
