"""The language switch on every patient page, and the language each page is rendered in (pops.language)."""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import i18n, language
from . import cookies
from .guards import patient_session, public
from .htmx import client_ip
from .render import render
from .validity import NOT_VALID

YEAR = 365 * 24 * 3600


def back(request: Request) -> str:
    """Where the switch leads back to: `next`, else the page it was on (its Referer), a path on this site
    only (never another host); the front door when neither is known."""
    target = request.query_params.get("next")
    if target is None:
        referer = urlsplit(request.headers.get("referer", ""))
        if referer.netloc != request.url.netloc:
            return "/"
        target = referer.path + (f"?{referer.query}" if referer.query else "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@public
def switch(request: Request) -> Response:
    """GET /language?to=es (optionally &next=/home): a plain link. A patient's choice is kept on their account, a visitor's
    in a cookie; a staff mirror shows the patient's language and saves nothing."""
    lang = request.query_params.get("to", "")
    if lang not in i18n.LANGUAGES:
        return render(request, "not_valid.html", {"title": NOT_VALID}, status_code=400)
    response = RedirectResponse(back(request), status_code=303)
    session = patient_session(request, touch=False)
    if session is not None and session.staff_id is not None:
        return response
    if session is not None:
        language.choose(session, lang, ip=client_ip(request))
    cookies.set_cookie(response, request, cookies.LANGUAGE, lang, max_age=YEAR)
    return response


routes = [Route("/language", switch)]
