"""Pages: the whole page on a plain GET, one named block of it when htmx asks. Pages vary on HX-Request."""
from __future__ import annotations

import functools

import jinja2
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .. import i18n, language, templating
from . import cookies, forms
from .htmx import htmx
from .session_warning import warning_context

# One environment per language: a page's sentences are written in its language when its template is compiled.
ENVIRONMENTS = {lang: templating.environment(globals={"session_warning": warning_context}, auto_reload=False,
                                             language=lang)
                for lang in i18n.LANGUAGES}
env = ENVIRONMENTS[i18n.DEFAULT]  # the globals every page's template sees (tests: the htmx file's name)


@functools.cache
def _template(lang: str, name: str) -> jinja2.Template:
    """A page's template in `lang`, compiled once (its environment never reloads one): no cache lookup per render."""
    return ENVIRONMENTS[lang].get_template(name)


def render(
    request: Request,
    template: str,
    context: dict | None = None,
    *,
    status_code: int = 200,
    block: str = "content",
    fragment: bool | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render `template`: only its `block` when htmx wants a fragment (or `fragment=True`, for a
    route that only ever answers htmx), else the whole page."""
    ctx = {"request": request, "csrf_field": forms.FIELD, "csrf_token": lambda: forms.csrf_token(request),
           "test_mode": getattr(request.app.state, "test_mode", False), **(context or {})}
    ctx.setdefault("lang", page_language(request, template, ctx))
    lang = i18n.language(ctx["lang"])
    with templating.rendering(lang):
        if fragment if fragment is not None else htmx(request).wants_fragment:
            html = render_block(ENVIRONMENTS[lang], template, block, ctx)
        else:
            html = _template(lang, template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers.append("Vary", "HX-Request")
    new_token = getattr(request.state, "new_csrf", None)
    if new_token:
        cookies.set_cookie(response, request, cookies.CSRF, new_token)
    return response


def page_language(request: Request, template: str, context: dict) -> str:
    """The language a page is written in: the staff console's is English, a patient page's pops.language decides."""
    if template.startswith("staff/") or request.scope["path"].startswith("/staff"):
        return "en"
    session = context.get("session")
    return language.for_page(session if getattr(session, "guarantor_id", None) else None,
                             request.cookies.get(cookies.LANGUAGE), request.headers.get("accept-language"))
