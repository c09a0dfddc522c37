"""Headers every response carries (Strict-Transport-Security over https), and the same-origin check on
unsafe requests."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(self)",
}
HSTS = "max-age=63072000"  # two years
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NO_STORE = (b"cache-control", b"no-store")  # everything but /static
RAW_HSTS = (b"strict-transport-security", HSTS.encode())


class TrustedProxies:
    """The addresses whose X-Forwarded-Proto is believed (settings.trusted_proxies)."""

    REMEMBER = 1024  # the addresses whose answer is kept

    def __init__(self, entries: Iterable[str]) -> None:
        entries = list(entries)
        self.anyone = "*" in entries
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]
        self._seen: dict[str, bool] = {}

    def __contains__(self, host: str | None) -> bool:
        if self.anyone:
            return True
        host = host or ""
        known = self._seen.get(host)
        if known is None:  # an address is parsed once, not on each of its requests
            if len(self._seen) >= self.REMEMBER:
                self._seen.clear()
            known = self._seen[host] = self._trusted(host)
        return known

    def _trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


class SecurityMiddleware:
    """Adds the security headers; refuses cross-site unsafe requests (Sec-Fetch-Site / Origin).

    Pages that show patient data set their own Cache-Control; everything but /static is no-store.
    Over https (the base URL's, the request's, or a trusted proxy's X-Forwarded-Proto), HSTS too.
    """

    def __init__(self, app: ASGIApp, base_url: str, trusted_proxies: Iterable[str] = ("127.0.0.1",),
                 form_targets: Iterable[str] = ()) -> None:
        self.app = app
        # A gateway's pages a form may send the browser to (Stripe Checkout, a bank's 3-D Secure page).
        targets = " ".join(form_targets)
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": CSP.replace(
            "form-action 'self'", f"form-action 'self' {targets}" if targets else "form-action 'self'")}
        self.raw_headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self.base_origin = base_url.rstrip("/")
        self.trusted = TrustedProxies(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in UNSAFE_METHODS and not self._same_origin(scope):
            response = PlainTextResponse("Cross-site request refused.", status_code=403)
            await self._with_headers(response, scope)(scope, receive, send)
            return
        await self._with_headers(self.app, scope)(scope, receive, send)

    def _with_headers(self, app: ASGIApp, scope: Scope) -> ASGIApp:
        static = scope["path"].startswith("/static/")
        https = self._over_https(scope)

        extra = [*self.raw_headers, *([] if static else [NO_STORE]), *([RAW_HSTS] if https else [])]

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    raw = message.setdefault("headers", [])
                    if not isinstance(raw, list):
                        raw = message["headers"] = list(raw)
                    present = {name.lower() for name, _ in raw}  # a header the response set itself stands
                    raw.extend(header for header in extra if header[0] not in present)
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped

    def _over_https(self, scope: Scope) -> bool:
        if self.base_origin.startswith("https://") or scope.get("scheme") == "https":
            return True
        client = scope.get("client")
        if not client or client[0] not in self.trusted:
            return False
        forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"  # the first proxy's: what the browser used

    def _same_origin(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site in {"same-origin", "none"}
        origin = headers.get("origin")
        if origin is None:
            return True  # not a browser, or a browser too old to say: the form token decides
        host = headers.get("host", "")
        scheme = scope.get("scheme", "http")
        return origin in {self.base_origin, f"{scheme}://{host}"}
