"""Pages that belong to no one area: liveness and the front door."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import clock
from ..db import database
from .templating import render


def healthz(request: Request) -> Response:
    """Liveness: always 200 while the process answers; says whether the database does too."""
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1").fetchone()
        db_ok, error = True, None
    except Exception as exc:  # any failure to reach the database is the answer, not a crash
        db_ok, error = False, type(exc).__name__
    body = {"status": "ok", "database": "ok" if db_ok else "unreachable", "time": clock.now().isoformat()}
    if error:
        body["error"] = error
    return JSONResponse(body)


def home(request: Request) -> Response:
    return render(request, "home.html", {"title": "Pay your medical bill"})


routes = [
    Route("/healthz", healthz),
    Route("/", home),
]
