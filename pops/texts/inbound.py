"""POST /sms/inbound's body, checked as POPS_SMS_PROVIDER says: `generic` (JSON {from, to, body}, signed
with X-POPS-Signature: hex HMAC-SHA256 of the body with POPS_SMS_TOKEN) or `twilio` (Twilio's form body,
X-Twilio-Signature checked by Twilio's own RequestValidator with the same token). A reply that is not
genuine changes nothing."""
from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from ..settings import Settings
from .numbers import Reply

PATH = "/sms/inbound"


class Refused(Exception):
    """Not a genuine reply (or not one POPS can read); the message says why. Nothing was recorded."""


def generic_signature(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def read(settings: Settings, body: bytes, headers, url: str) -> Reply:
    """The reply in this request, or Refused. `url` is the address the provider posted to (Twilio signs it)."""
    if not settings.sms_token:
        raise Refused("POPS_SMS_TOKEN is not set, so no reply can be checked.")
    if settings.sms_provider == "twilio":
        return _twilio(settings.sms_token, body, headers.get("x-twilio-signature", ""), url)
    return _generic(settings.sms_token, body, headers.get("x-pops-signature", ""))


def _generic(token: str, body: bytes, signature: str) -> Reply:
    if not hmac.compare_digest(signature.strip().lower(), generic_signature(token, body)):
        raise Refused("The X-POPS-Signature header does not match this body.")
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused("The body is not JSON.") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("from", "to", "body")):
        raise Refused('The body must be {"from": "...", "to": "...", "body": "..."} with text values.')
    if not data["from"].strip():
        raise Refused('"from" is empty.')
    return Reply(data["from"], data["to"], data["body"])


def _twilio(token: str, body: bytes, signature: str, url: str) -> Reply:
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise Refused("The body is not a form.") from None
    if not signature or not RequestValidator(token).validate(url, params, signature):
        raise Refused("The X-Twilio-Signature header does not match this request.")
    if not params.get("From", "").strip():
        raise Refused("The form has no From.")
    return Reply(params["From"], params.get("To", ""), params.get("Body", ""))
