"""POST /webhooks/stripe: Stripe's events about POPS's payments (public; Stripe's signature instead of a form token)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..gateways import GatewayUnavailable
from ..gateways.stripe_webhooks import BadSignature, receive
from .guards import public_webhook


@public_webhook
def stripe_webhook(request: Request, body: bytes) -> Response:
    try:
        outcome = receive(request.app.state.gateway, body, request.headers.get("stripe-signature", ""))
    except BadSignature:
        return PlainTextResponse("The Stripe-Signature header does not match this body, or is too old.", status_code=400)
    except GatewayUnavailable:
        # Stripe delivers the event again later; by then Stripe's API may answer.
        return PlainTextResponse("Stripe's API did not answer; please deliver this event again.", status_code=503)
    return JSONResponse({"received": True, "outcome": outcome})


routes = [Route("/webhooks/stripe", stripe_webhook, methods=["POST"])]
