"""Pages that belong to no one area: liveness, the front door, a group's colours, and "not found"."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import clock, groups, health
from ..i18n import N_
from .guards import public, public_without_database
from .render import render


@public_without_database
def healthz(request: Request) -> Response:
    """Liveness: always 200 while the process answers; says whether the database does too."""
    error = health.database_error()
    body = {"status": "ok", "database": "unreachable" if error else "ok", "time": clock.now().isoformat()}
    if error:
        body["error"] = error
    return JSONResponse(body)


@public_without_database
def home(request: Request) -> Response:
    return render(request, "public/home.html", {"title": N_("Pay your medical bill")})


@public
def brand_css(request: Request) -> Response:
    """A group's colours as CSS custom properties (a stylesheet, since the CSP allows no inline style)."""
    group = groups.by_code(request.path_params["code"])
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
    return render(request, "public/not_found.html", {"title": N_("Not found"), "group": None}, status_code=404)
