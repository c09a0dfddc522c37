"""The shape the code keeps (STYLE.md): every route declared public or behind a guard, handlers
without database calls, web modules that import alone, no module over 500 lines."""
from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.routing import Mount, Route

from pops.web.guards import GUARD

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pops"
PUBLIC_MOUNTS = {"static", "sandbox-gateway"}  # files, and the sandbox's page (as if on another host)
GUARDED = {"patient", "staff"}


def _routes(app) -> list[Route]:
    return [r for r in app.routes if isinstance(r, Route)]


def test_every_route_is_declared_public_or_behind_a_guard(app):
    unguarded = [f"{sorted(r.methods or [])} {r.path}" for r in _routes(app)
                 if getattr(r.endpoint, GUARD, None) not in {"public", *GUARDED}]
    assert unguarded == [], "routes neither public nor guarded (use a guard from pops.web.guards)"
    mounts = {r.name for r in app.routes if isinstance(r, Mount)}
    assert mounts <= PUBLIC_MOUNTS


def _example(path: str) -> str:
    return re.sub(r"\{([a-z_]+)(:[a-z]+)?\}", lambda m: "1" if m.group(2) == ":int" else "X1", path)


def test_guarded_routes_refuse_a_browser_without_a_session(app, client):
    for route in _routes(app):
        guard = getattr(route.endpoint, GUARD)
        if guard not in GUARDED:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            answer = client.request(method, _example(route.path), data={"csrf": client.cookies.get("pops_csrf")})
            where = answer.headers.get("location", "")
            assert (answer.status_code == 303 and where.startswith("/staff/login" if guard == "staff" else "/login")
                    or answer.status_code == 401), f"{method} {route.path}: {answer.status_code} {where}"


_DATABASE_IN_WEB = re.compile(
    r"\.(select|create|update|delete|insert|get_or_none|get_by_id|get_or_create)\(|\batomic\(|\bimport database\b"
    r"|from \.+db import|\bpops\.db\b")


def test_web_handlers_call_the_domain_not_the_database():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in sorted((PACKAGE / "web").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if _DATABASE_IN_WEB.search(line)]
    assert found == []


def test_the_guards_open_the_request_scope_the_app_gives_them():
    text = (PACKAGE / "web" / "guards.py").read_text()
    assert text.count("request.app.state.request_scope()") == 1


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if "migrations" not in p.parts and (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def _web_modules() -> list[str]:
    names = []
    for path in sorted((PACKAGE / "web").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.skipif(bool(__import__("os").environ.get("POPS_TEST_DATABASE_URL")),
                    reason="imports do not depend on the database; checked on the SQLite pass")
def test_each_web_module_imports_alone_in_a_fresh_interpreter():
    def imports(name: str) -> tuple[str, str]:
        done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT)
        return name, done.stderr.strip().splitlines()[-1] if done.returncode else ""

    with ThreadPoolExecutor(4) as pool:
        failures = {name: error for name, error in pool.map(imports, _web_modules()) if error}
    assert failures == {}


_GATEWAY_CALL = re.compile(r"payments\.(complete|refresh)\(")
_PAGE_GUARD = re.compile(r"^@(public|patient_page|staff_page)\b(.*)$")


def test_a_page_that_may_wait_on_the_gateway_says_so():
    """On SQLite a page runs on the event loop, else on two page threads (pops.web.guards, pops.web.worker); a
    GET that asks the gateway for an attempt's outcome must run on the general pool (gateway=True), or a slow
    gateway would hold up every page of the process."""
    unmarked = []
    for path in sorted((PACKAGE / "web").rglob("*.py")):
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            guard = _PAGE_GUARD.match(line)
            if not guard or "gateway=True" in guard.group(2):
                continue
            body = []
            for following in lines[n + 2:]:
                if following and not following[0].isspace():
                    break
                body.append(following)
            if _GATEWAY_CALL.search("\n".join(body)):
                unmarked.append(f"{path.relative_to(ROOT)}:{n + 1}")
    assert unmarked == []
