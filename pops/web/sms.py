"""POST /sms/inbound: a patient's reply to a text, delivered by the SMS provider (public; the provider's
signature instead of a form token)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..texts.inbound import PATH, Refused, read
from ..texts.numbers import receive
from .guards import public_webhook

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'  # answers go through the outbox


@public_webhook
def sms_inbound(request: Request, body: bytes) -> Response:
    settings = request.app.state.settings
    url = settings.base_url.rstrip("/") + PATH + (f"?{request.url.query}" if request.url.query else "")
    try:
        reply = read(settings, body, request.headers, url)
    except Refused as exc:
        return PlainTextResponse(str(exc), status_code=403)
    kind = receive(reply)
    if settings.sms_provider == "twilio":
        return Response(TWIML_EMPTY, media_type="text/xml")
    return JSONResponse({"received": True, "keyword": kind})


routes = [Route(PATH, sms_inbound, methods=["POST"])]
