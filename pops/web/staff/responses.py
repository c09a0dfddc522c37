"""Answers every staff page may give besides its own: not found, and a CSV download."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..render import render

NOT_FOUND = "staff/not_found.html"
CSV_TYPE = "text/csv; charset=utf-8"


def not_found(request: Request, staff_session) -> Response:
    """The staff console's 404: no such guarantor, batch, receipt, group or staff member."""
    return render(request, NOT_FOUND, {"title": "Not found", "staff_session": staff_session}, status_code=404)


def csv_download(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type=CSV_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
