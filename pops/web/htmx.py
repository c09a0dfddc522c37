"""What htmx says about a request, read once per request (as django-htmx does)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request


@dataclass(frozen=True)
class Htmx:
    request: bool  # sent by htmx at all
    boosted: bool  # a boosted link or form: wants the whole page
    target: str | None
    history_restore: bool
    current_path: str  # the page the browser shows (HX-Current-URL), "" when not htmx

    @property
    def wants_fragment(self) -> bool:
        # A boosted link or form wants the whole page (htmx swaps the body and the title).
        return self.request and not self.boosted and not self.history_restore


NOT_HTMX = Htmx(request=False, boosted=False, target=None, history_restore=False, current_path="")


def htmx(request: Request) -> Htmx:
    """The htmx details of this request, computed on first use and kept on request.state."""
    found = getattr(request.state, "htmx", None)
    if found is None:
        headers = request.headers
        if headers.get("hx-request") != "true":
            found = NOT_HTMX  # htmx sends its other headers with this one: alone they ask for nothing
        else:
            found = Htmx(
                request=True,
                boosted=headers.get("hx-boosted") == "true",
                target=headers.get("hx-target"),
                history_restore=headers.get("hx-history-restore-request") == "true",
                current_path=_path(headers.get("hx-current-url", "")),
            )
        request.state.htmx = found
    return found


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:  # "http://[::1": not a URL a browser sends
        return ""


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
