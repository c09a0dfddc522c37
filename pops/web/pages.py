"""Pages that belong to no one area: liveness and the front door."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import clock
from ..db import database
from ..models import Group
from .templating import render
from .util import with_db


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


@with_db
def brand_css(request: Request) -> Response:
    """A group's colours as CSS custom properties (a stylesheet, since the CSP allows no inline style)."""
    group = Group.get_or_none(Group.code == request.path_params["code"])
    if group is None:
        return PlainTextResponse("/* unknown group */", status_code=404, media_type="text/css")
    return Response(f":root {{ --brand: {group.brand_colour}; }}\n", media_type="text/css",
                    headers={"Cache-Control": "public, max-age=300"})


routes = [
    Route("/brand/{code}.css", brand_css),
    Route("/healthz", healthz),
    Route("/", home),
]


async def not_found(request: Request, exc: Exception) -> Response:
    """Any address nothing answers: a page that says so and leads somewhere, not bare text."""
    return render(request, "not_found.html", {"title": "Not found", "group": None}, status_code=404)
