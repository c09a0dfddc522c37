"""Requests per second and latency of the real server next to a bare Starlette page (not a test; it prints figures).

    .venv/bin/python bench/throughput.py [--seconds 5] [--connections 50] [--rounds 3]
                                         [--postgres postgresql://…] [--workers 1 2]

Starts `pops serve` on the demo ledger (SQLite, then PostgreSQL when --postgres or
POPS_BENCH_DATABASE_URL names one that answers: its public schema is wiped) with 1 worker, then 2,
and beside it a bare Starlette app with as many uvicorn workers, rendering a small Jinja page
from a sync endpoint (its workers started as `pops serve` starts its own: on Linux a socket
each, so the kernel spreads the connections over both servers' workers alike). Each is driven
with the same load, alternately (bare, QuickPay, Home, `--rounds` times): wrk when installed,
else a Python load generator (keep-alive connections, split over processes). Prints requests/s, p50 and p99 (the median of the rounds) and the ratios to
the bare page (each round's page to the same round's bare page, the median of the rounds). The patient's requests carry what a phone's browser would after its first visit (the
session cookie and the form token's). Targets: QuickPay at least 0.5 of the bare page's requests/s on SQLite and 0.3 on
PostgreSQL; its p99 at most 3 × the bare page's. The load generator shares the machine's CPUs
with the servers: compare runs on the same machine.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"sqlite": 0.5, "postgresql": 0.3}
P99_LIMIT = 3.0

# --- the bare page: what a Starlette app with a sync endpoint and a Jinja template costs ---------

BARE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><p>Amount due: {{ amount }}</p><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>
</body></html>"""


def bare_app():
    """The yardstick: one sync endpoint rendering a small Jinja page (uvicorn factory)."""
    from jinja2 import DictLoader, Environment
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    template = Environment(loader=DictLoader({"page.html": BARE_PAGE}), autoescape=True).get_template("page.html")

    def page(request):
        return HTMLResponse(template.render(title="Bare page", amount="$40.00", items=["one", "two", "three"]))

    return Starlette(routes=[Route("/bare", page)])


# --- servers -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, argv: list[str], env: dict[str, str], port: int, log: Path, health: str, workers: int = 1):
        self.port, self.log, self.health = port, log, health
        with open(log, "wb") as out:
            self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        # Up once it answers and, where each worker has its own socket (pops.serving), every worker listens.
        from pops.serving import SPREADS, listening_sockets

        sockets = workers if SPREADS else 1
        while not self._answers() or (listening_sockets(port) or sockets) < sockets:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            conn.request("GET", self.health)
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def pops_server(url: str, secret: str, workers: int, tmp: Path) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPS_")}
    env.update(POPS_DATABASE_URL=url, POPS_SECRET_KEY=secret, POPS_ENV="production", POPS_DATA_DIR=str(tmp / "data"),
               POPS_BASE_URL=f"http://127.0.0.1:{port}", POPS_GATEWAY="sandbox")
    argv = [sys.executable, "-m", "pops", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return Server(argv, env, port, tmp / f"pops-{workers}.log", "/healthz", workers)


def bare_server(workers: int, tmp: Path) -> Server:
    port = free_port()
    argv = [sys.executable, __file__, "--bare-server", str(port), str(workers)]
    return Server(argv, dict(os.environ), port, tmp / f"bare-{workers}.log", "/bare", workers)


def serve_bare(port: int, workers: int) -> int:
    """The bare app under uvicorn, its workers started as `pops serve` starts its own (pops.serving: on Linux a
    socket each, the connections spread evenly), so that both servers get the same share of the CPUs."""
    import uvicorn

    from pops import serving

    sys.path.insert(0, str(ROOT / "bench"))
    options = dict(factory=True, host="127.0.0.1", port=port, log_level="warning")
    if workers > 1 and serving.SPREADS:
        return serving.Workers(uvicorn.Config("throughput:bare_app", workers=workers, **options), workers).run()
    uvicorn.run("throughput:bare_app", workers=workers if workers > 1 else None, **options)
    return 0


# --- the demo ledger and a patient's cookies --------------------------------------------------------

def seed(url: str, secret: str, wipe: bool) -> tuple[str, str]:
    """Migrate, import the demo ledger; return a QuickPay link code and a signed-in session token."""
    from pops import clock, demo, links, migrate, sessions
    from pops.db import bind, database
    from pops.importer import import_document
    from pops.models import Guarantor

    db = bind(url)
    db.connect()
    if wipe:
        db.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    migrate.upgrade(db)
    with db.atomic():
        import_document(demo.build_document(clock.now().date()))
        guarantor = Guarantor.get(Guarantor.account == demo.DEMO_ACCOUNTS["main"])
        code, _ = links.mint(guarantor, "sms", secret, max_uses=1_000_000)
        token, _ = sessions.start_patient(guarantor, "sign_in", "code")
    db.close()
    database.initialize(None)
    return code, token


def _set_cookies(response) -> list[str]:
    return [value.split(";", 1)[0] for name, value in response.getheaders() if name.lower() == "set-cookie"]


def browser_cookies(port: int, path: str, cookie: str) -> str:
    """What a browser sends on its next visit to `path`: `cookie` and what its first visit set (the form token)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
    return "; ".join([cookie, *_set_cookies(response)])


def quickpay_cookie(port: int, code: str) -> str:
    """A phone that followed the QuickPay link: its session cookie, then its form token from the first showing."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"/q/{code}")
    response = conn.getresponse()
    response.read()
    assert response.status == 303, response.status
    return browser_cookies(port, "/quickpay", _set_cookies(response)[0])


# --- load ------------------------------------------------------------------------------------------

def _drive(port: int, path: str, cookie: str, connections: int, seconds: float, out) -> None:
    """One process of the Python load generator: `connections` keep-alive connections for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Cookie": cookie} if cookie else {}

    def run() -> None:
        mine, bad = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors[0]))


def python_load(port: int, path: str, cookie: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    processes = max(1, min(4, os.cpu_count() or 1, connections))
    queue = multiprocessing.get_context("fork").Queue()
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    workers = [multiprocessing.get_context("fork").Process(target=_drive, args=(port, path, cookie, n, seconds, queue))
               for n in shares]
    for w in workers:
        w.start()
    latencies, errors = [], 0
    for _ in workers:
        got, bad = queue.get()
        latencies.extend(got)
        errors += bad
    for w in workers:
        w.join()
    latencies.sort()
    if not latencies:
        return 0.0, 0.0, 0.0, errors
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return len(latencies) / seconds, p(0.50), p(0.99), errors


_WRK_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk_load(port: int, path: str, cookie: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    argv = ["wrk", f"-t{min(4, os.cpu_count() or 1)}", f"-c{connections}", f"-d{int(max(1, seconds))}s", "--latency"]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    text = subprocess.run([*argv, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {q: float(v) * _WRK_UNIT[u] for q, v, u in _WRK_LATENCY.findall(text)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, lat["50"], lat["99"], int(bad.group(1)) if bad else 0


# --- the runs --------------------------------------------------------------------------------------

def postgres_answers(url: str) -> bool:
    from pops.db import open_database

    try:
        db = open_database(url)
        db.connect()
        db.close()
        return True
    except Exception as exc:  # noqa: BLE001 (any failure means: no PostgreSQL here)
        print(f"PostgreSQL at {url} does not answer ({exc.__class__.__name__}); skipped")
        return False


def bench(kind: str, url: str, workers: int, args, load, tmp: Path) -> list[tuple]:
    secret = secrets.token_urlsafe(48)
    code, token = seed(url, secret, wipe=kind == "postgresql")
    pops = pops_server(url, secret, workers, tmp)
    bare = bare_server(workers, tmp)
    try:
        plans = [("bare page", bare.port, "/bare", ""),
                 ("QuickPay", pops.port, "/quickpay", quickpay_cookie(pops.port, code)),
                 ("Home", pops.port, "/home", browser_cookies(pops.port, "/home", f"pops_session={token}"))]
        runs: dict[str, list[tuple]] = {name: [] for name, *_ in plans}
        for _ in range(args.rounds):
            for name, port, path, cookie in plans:  # alternately, so drift on a shared machine hits all alike
                runs[name].append(load(port, path, cookie, args.connections, args.seconds))
    finally:
        pops.stop()
        bare.stop()
    # Each round's page is compared with the same round's bare page (seconds apart), and the median
    # of the rounds is shown: steadier than comparing the best of each on a machine whose speed drifts.
    bare_runs = runs["bare page"]
    rows = []
    for name, results in runs.items():
        rps, p50, p99 = (statistics.median(r[k] for r in results) for k in range(3))
        errors = sum(r[3] for r in results)
        ratio = statistics.median(r[0] / b[0] if b[0] else 0.0 for r, b in zip(results, bare_runs))
        p99_ratio = statistics.median(r[2] / b[2] if b[2] else 0.0 for r, b in zip(results, bare_runs))
        rows.append((kind, workers, name, rps, p50, p99, errors, ratio, p99_ratio))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--postgres", default=os.environ.get("POPS_BENCH_DATABASE_URL"),
                        help="a PostgreSQL database the bench may wipe (default: POPS_BENCH_DATABASE_URL)")
    args = parser.parse_args()
    load = wrk_load if shutil.which("wrk") else python_load
    print(f"load: {'wrk' if load is wrk_load else 'Python load generator'}, {args.connections} connections, "
          f"{args.seconds:g} s a run, the median of {args.rounds} rounds (each page beside its round's bare page);"
          f" {os.cpu_count()} CPUs shared by servers and load")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        databases = [("sqlite", f"sqlite:///{tmp}/bench.sqlite3")]
        if args.postgres and postgres_answers(args.postgres):
            databases.append(("postgresql", args.postgres))
        elif not args.postgres:
            print("no PostgreSQL named (--postgres or POPS_BENCH_DATABASE_URL): SQLite only")
        for kind, url in databases:
            for workers in args.workers:
                if kind == "sqlite":
                    for leftover in Path(tmp).glob("bench.sqlite3*"):
                        leftover.unlink()
                rows.extend(bench(kind, url, workers, args, load, Path(tmp)))
    print(f"\n{'database':10} {'workers':>7} {'page':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
          f" {'× bare req/s':>13} {'× bare p99':>11}")
    for kind, workers, name, rps, p50, p99, errors, ratio, p99_ratio in rows:
        print(f"{kind:10} {workers:>7} {name:10} {rps:>8.0f} {p50 * 1000:>8.1f} {p99 * 1000:>8.1f} {errors:>6}"
              f" {ratio:>13.2f} {p99_ratio:>11.2f}")
    print()
    for kind, workers, name, rps, p50, p99, errors, ratio, p99_ratio in rows:
        if name == "QuickPay":
            met = ratio >= TARGETS[kind] and p99_ratio <= P99_LIMIT
            print(f"{kind} × {workers}: QuickPay {ratio:.2f} of the bare page's req/s (target ≥ {TARGETS[kind]}),"
                  f" p99 {p99_ratio:.2f} × (target ≤ {P99_LIMIT:g}): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare-server"]:
        sys.exit(serve_bare(int(sys.argv[2]), int(sys.argv[3])))
    sys.exit(main())
