"""A staff member's own settings: the time zone they read pages spanning groups in."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import staff as staff_accounts, timezones
from .. import forms
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render

NOT_A_ZONE = "Nothing was changed: choose a time zone from the list."


def _page(request: Request, staff_session, *, error: str = "", status_code: int = 200) -> Response:
    return render(request, "staff/account/settings.html", {
        "title": "Your settings", "staff_session": staff_session, "active": "account", "error": error,
        "saved": request.query_params.get("saved") == "1" and not error,
        "us_zones": timezones.US_ZONES, "other_zones": timezones.others(),
    }, status_code=status_code)


@staff_page
def settings_page(request: Request, staff_session) -> Response:
    return _page(request, staff_session)


@staff_form
def timezone_save(request: Request, form: FormData, staff_session) -> Response:
    if not staff_accounts.set_timezone(staff_session.staff, forms.text(form, "timezone", 64), ip=client_ip(request)):
        return _page(request, staff_session, error=NOT_A_ZONE, status_code=422)
    return redirect("/staff/account?saved=1")


routes = [
    Route("/staff/account", settings_page, methods=["GET"]),
    Route("/staff/account/timezone", timezone_save, methods=["POST"]),
]
