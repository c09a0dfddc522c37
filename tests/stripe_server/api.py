"""The /v1 API: routes, authentication, Idempotency-Key replay, injected faults, JSON answers."""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field

from . import payments, refunds, setup_intents
from .httpd import DROP, Request, Response
from .objects import API_VERSION, public
from .params import check as check_params
from .state import Account
from .wire import StripeError, as_list, expand, integer, invalid, new_id, parse_form

IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass
class Faults:
    """What the next requests meet (see StripeServer's controls)."""

    fail: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)  # kind -> [(status, replayed)]
    drop: dict[str, list[bool]] = field(default_factory=dict)  # kind -> [created]
    rate_limited: int = 0


def _routes(acct: Account):
    """(method, path, handler, the kind a fault may hit, the parameter list checked) for each endpoint."""
    get = acct.get
    sessions, intents, methods = "/v1/checkout/sessions", "/v1/payment_intents", "/v1/payment_methods"
    return [
        ("POST", sessions, lambda p: payments.create_session(acct, p), "checkout.session", "checkout.session"),
        ("GET", sessions, lambda p: payments.list_sessions(acct, p), None, None),
        ("GET", sessions + "/([^/]+)", lambda p, i: get(i, "checkout.session", "session"), None, None),
        ("POST", sessions + "/([^/]+)/expire", lambda p, i: payments.expire_session(acct, i), None, "none"),
        ("POST", intents, lambda p: payments.create_intent(acct, p), "payment_intent", "payment_intent"),
        ("GET", intents + "/([^/]+)", lambda p, i: get(i, "payment_intent", "intent"), None, None),
        ("POST", intents + "/([^/]+)/confirm", lambda p, i: payments.confirm_intent(acct, i, p), None,
         "payment_intent.confirm"),
        ("POST", "/v1/setup_intents", lambda p: setup_intents.create_setup_intent(acct, p), "setup_intent", "setup_intent"),
        ("GET", "/v1/setup_intents/([^/]+)", lambda p, i: get(i, "setup_intent", "intent"), None, None),
        ("POST", "/v1/customers", lambda p: refunds.create_customer(acct, p), "customer", "customer"),
        ("GET", "/v1/customers/([^/]+)", lambda p, i: get(i, "customer", "customer"), None, None),
        ("GET", "/v1/customers/([^/]+)/payment_methods", lambda p, i: refunds.list_methods(acct, p, i), None, None),
        ("GET", methods, lambda p: refunds.list_methods(acct, p), None, None),
        ("GET", methods + "/([^/]+)", lambda p, i: get(i, "payment_method", "payment_method"), None, None),
        ("POST", methods + "/([^/]+)/detach", lambda p, i: refunds.detach_method(acct, i), None, "none"),
        ("POST", methods + "/([^/]+)/attach", lambda p, i: refunds.attach_method(acct, i, p), None,
         "payment_method.attach"),
        ("POST", "/v1/refunds", lambda p: refunds.create_refund(acct, p), "refund", "refund"),
        ("GET", "/v1/refunds", lambda p: refunds.list_refunds(acct, p), None, None),
        ("GET", "/v1/refunds/([^/]+)", lambda p, i: get(i, "refund", "refund"), None, None),
        ("GET", "/v1/charges/([^/]+)", lambda p, i: get(i, "charge", "charge"), None, None),
        ("GET", "/v1/disputes/([^/]+)", lambda p, i: get(i, "dispute", "dispute"), None, None),
        ("GET", "/v1/events/([^/]+)", lambda p, i: get(i, "event", "id"), None, None),
        ("GET", "/v1/events", lambda p: [e for e in acct.all("event") if p.get("type") in (None, e["type"])],
         None, None),
    ]


class Api:
    def __init__(self, acct: Account, api_key: str, faults: Faults):
        self.acct = acct
        self.api_key = api_key
        self.faults = faults
        self.saved: dict[str, dict] = {}  # Idempotency-Key -> the first request and its answer
        self.log: list[dict] = []  # every request: method, path, params, key, status
        self.routes = [(m, re.compile(p + "$"), h, k, a) for m, p, h, k, a in _routes(acct)]

    def __call__(self, request: Request) -> object:
        with self.acct.lock:
            payments.expire_due(self.acct)
            answer, params = self._handle(request)
        key = request.headers.get("idempotency-key")
        status = 0 if answer is DROP else answer.status
        self.log.append({"method": request.method, "path": request.path, "params": params,
                         "idempotency_key": key, "status": status})
        return answer

    def _handle(self, request: Request) -> tuple[object, dict]:
        request_id = new_id("req_", 14)
        params: dict = {}
        try:
            self._authenticate(request.headers.get("authorization", ""))
            if self.faults.rate_limited:
                self.faults.rate_limited -= 1
                raise StripeError(429, "invalid_request_error", "Request rate limit exceeded. Learn more about "
                                  "rate limits here https://stripe.com/docs/rate-limits.", code="rate_limit")
            raw = request.body.decode("utf-8") if request.method == "POST" else request.query
            params = parse_form(raw)
        except (StripeError, UnicodeDecodeError) as e:
            error = e if isinstance(e, StripeError) else invalid("The request body is not valid UTF-8.")
            return self._json(error.status, error.payload(), request_id, error.headers), params
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        if key:
            replay = self._replay(key, request, params, request_id)
            if replay is not None:
                return replay, params
        answer = self._run(request, params, key, request_id)
        return answer, params

    def _authenticate(self, header: str) -> None:
        scheme, _, value = header.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise StripeError(401, "invalid_request_error", "You did not provide an API key. You need to provide "
                              "your API key in the Authorization header, using Bearer auth.")
        if key != self.api_key:
            raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}")

    def _replay(self, key: str, request: Request, params: dict, request_id: str) -> Response | None:
        saved = self.saved.get(key)
        if saved is None or saved["at"] + IDEMPOTENCY_SECONDS <= self.acct.now():
            return None
        if (saved["method"], saved["path"], saved["params"]) != (request.method, request.path, params):
            error = StripeError(400, "idempotency_error", "Keys for idempotent requests can only be used with the "
                                "same parameters they were first used with. Try using a key other than "
                                f"'{key}' if you meant to execute a different request.")
            return self._json(400, error.payload(), request_id)
        headers = dict(saved["headers"], **{"Idempotent-Replayed": "true", "Original-Request": saved["request_id"]})
        return Response(saved["status"], saved["body"], headers)

    def _route(self, request: Request):
        for method, pattern, handler, kind, allowed in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                return handler, match.groups(), kind, allowed
        raise StripeError(404, "invalid_request_error",
                          f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                          "https://stripe.com/docs or we can help at https://support.stripe.com/.")

    def _run(self, request: Request, params: dict, key: str | None, request_id: str) -> object:
        drop = None
        try:
            handler, groups, kind, allowed = self._route(request)
            if allowed:
                check_params(params, allowed)
            failures, drops = self.faults.fail.get(kind or ""), self.faults.drop.get(kind or "")
            if failures:
                status, replayed = failures.pop(0)
                error = StripeError(status, "api_error", "An unknown error occurred",
                                    headers={"Stripe-Should-Retry": "false"} if replayed else {})
                answer = self._json(status, error.payload(), request_id, error.headers)
                if replayed:
                    self._save(key, request, params, answer, request_id)
                return answer
            if drops:
                drop = drops.pop(0)
                if not drop:
                    return DROP  # lost on the way: nothing was done
            with self.acct.request(request_id, key):
                result = handler(params, *groups)
            body = self._render(result, params, request.path)
            answer = self._json(200, body, request_id)
        except StripeError as e:
            answer = self._json(e.status, e.payload(), request_id, e.headers)
            if e.status < 402 or e.status == 404:
                return answer  # refused before it ran: not saved, a retry with the key runs anew
        self._save(key, request, params, answer, request_id)
        return DROP if drop else answer

    def _save(self, key, request, params, answer, request_id) -> None:
        if key:
            self.saved[key] = {"method": request.method, "path": request.path, "params": params,
                               "status": answer.status, "body": answer.body, "headers": dict(answer.headers),
                               "request_id": request_id, "at": self.acct.now()}

    def _render(self, result, params: dict, path: str) -> dict:
        paths = [p for p in as_list(params.get("expand")) if isinstance(p, str)]
        if isinstance(result, list):
            limit = integer(params, "limit") or 10
            if not 1 <= limit <= 100:
                raise invalid("limit must be between 1 and 100", param="limit")
            data = sorted(reversed(result), key=lambda o: o["created"], reverse=True)
            body = {"object": "list", "data": data[:limit], "has_more": len(data) > limit, "url": path}
        else:
            body = result
        return public(expand(body, paths, self.acct.find))

    def _json(self, status: int, body: dict, request_id: str, headers: dict | None = None) -> Response:
        return Response(status, json.dumps(body, indent=2).encode(), {
            "Content-Type": "application/json", "Request-Id": request_id, "Stripe-Version": API_VERSION,
            **(headers or {})})
