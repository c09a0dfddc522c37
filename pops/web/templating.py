"""Jinja2 pages: a full page on a plain GET, the page's `content` block when htmx asks."""
from __future__ import annotations

from dataclasses import dataclass

import jinja2
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..money import format_money
from ..settings import TEMPLATES_DIR
from .auth import set_cookie
from .util import CSRF_COOKIE, CSRF_FIELD, csrf_token

HTMX_VERSION = "2.0.11"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=jinja2.select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
# Every sentence a patient reads goes through gettext; no catalogue is installed yet.
env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
env.filters["money"] = format_money
env.globals["htmx_js"] = f"htmx-{HTMX_VERSION}.min.js"

RECEIPT_STATUS_LABELS = {
    "pending": "Pending",
    "paid": "Paid",
    "unsuccessful": "Unsuccessful",
    "refunded": "Refunded",
    "partially_refunded": "Partially refunded",
}


def receipt_status_label(receipt) -> str:
    """The status a patient reads; a declined card's $0.00 receipt says so."""
    if receipt.status == "unsuccessful" and receipt.decline_reason:
        return "Unsuccessful (declined)"
    return RECEIPT_STATUS_LABELS.get(receipt.status, receipt.status)


env.globals["receipt_status_label"] = receipt_status_label


@dataclass(frozen=True)
class Htmx:
    """What htmx says about a request (read in one place, as django-htmx does)."""

    request: bool
    boosted: bool
    target: str | None
    history_restore: bool

    @property
    def wants_fragment(self) -> bool:
        # A boosted link or form wants the whole page (htmx swaps the body and the title).
        return self.request and not self.boosted and not self.history_restore


def htmx(request: Request) -> Htmx:
    headers = request.headers
    return Htmx(
        request=headers.get("hx-request") == "true",
        boosted=headers.get("hx-boosted") == "true",
        target=headers.get("hx-target"),
        history_restore=headers.get("hx-history-restore-request") == "true",
    )


def render(
    request: Request,
    template: str,
    context: dict | None = None,
    *,
    status_code: int = 200,
    block: str = "content",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page, or only its block when htmx asks; pages vary on HX-Request."""
    ctx = {"request": request, "csrf_field": CSRF_FIELD, "csrf_token": lambda: csrf_token(request), **(context or {})}
    if htmx(request).wants_fragment:
        html = render_block(env, template, block, ctx)
    else:
        html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers.append("Vary", "HX-Request")
    new_token = getattr(request.state, "new_csrf", None)
    if new_token:
        set_cookie(response, request, CSRF_COOKIE, new_token)
    return response
