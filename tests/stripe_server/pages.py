"""The hosted Checkout page and the bank's 3-D Secure page, each served from its own origin.

Plain HTML forms, no JavaScript. Checkout: GET/POST /c/pay/{session}; 3-D Secure: GET/POST
/3ds/{payment_intent} (POST action=approve or action=fail).
"""
from __future__ import annotations

import datetime as dt
import re
from html import escape
from urllib.parse import parse_qs

from . import cards, payments
from .httpd import Request, Response
from .state import Account
from .wire import StripeError

_STYLE = ("body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}"
          "label{display:block;margin-top:.8rem}input{font-size:1rem;width:100%}"
          ".error{color:#b00020}.test{background:#ffde92;padding:.2rem .4rem}button{margin-top:1rem;font-size:1rem}")


def _page(title: str, content: str, status: int = 200, lang: str = "en") -> Response:
    html = (f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{content}</body></html>")
    return Response(status, html.encode(), {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})


def _redirect(url: str) -> Response:
    return Response(303, b"", {"Location": url})


def _form(request: Request) -> dict[str, str]:
    try:
        fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {k: v[0] for k, v in fields.items()}


def _money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def checkout_site(acct: Account):
    """The handler of the Checkout origin."""
    path = re.compile(r"/c/pay/([A-Za-z0-9_]+)$")

    def handle(request: Request) -> Response:
        match = path.match(request.path)
        if not match:
            return _page("Not found", "<h1>Not found</h1>", 404)
        with acct.lock:
            payments.expire_due(acct)
            session = acct.find(match.group(1))
            if session is None or session["object"] != "checkout.session":
                return _page("Not found", "<h1>This page does not exist</h1>", 404)
            if session["status"] == "complete":
                return _redirect(payments.success_url(session))
            if session["status"] == "expired":
                return _page("Expired", "<h1>This Checkout Session has expired</h1>"
                             "<p>Return to the merchant's site to start again.</p>", 410)
            if request.method != "POST":
                return _checkout(session)
            form = _form(request)
            today = dt.datetime.fromtimestamp(acct.now(), dt.timezone.utc)
            card, errors = cards.read_card(form.get("number", ""), form.get("expiry", ""), form.get("cvc", ""),
                                           (today.year, today.month), form.get("name", ""))
            if errors:
                return _checkout(session, errors=errors, status=422)
            result = payments.pay_session(acct, session["id"], card)
            if result["redirect"]:
                return _redirect(result["redirect"])
            return _checkout(session, errors={"card": result["error"]}, status=402)

    return handle


def _checkout(session: dict, errors: dict | None = None, status: int = 200) -> Response:
    errors = errors or {}
    total = _money(session["amount_total"])
    items = "".join(f"<li>{escape(i['name'])}: {_money(i['unit_amount'] * i['quantity'])}</li>"
                    for i in session["_line_items"])
    saving = ""
    if session["_payment_intent_data"]["setup_future_usage"]:
        saving = "<p id=save-card>This card will be saved for future payments to this merchant.</p>"

    def field(name, label, autocomplete):
        error = f'<span class=error id="{name}-error">{escape(errors[name])}</span>' if name in errors else ""
        described = f' aria-describedby="{name}-error" aria-invalid=true' if name in errors else ""
        return (f'<label for="{name}">{label}</label><input id="{name}" name="{name}" '
                f'autocomplete="{autocomplete}" inputmode="numeric"{described}>{error}')

    card_error = f'<p class=error role=alert id=card-error>{escape(errors["card"])}</p>' if "card" in errors else ""
    cancel = (f'<p><a id=cancel href="{escape(session["cancel_url"])}">Cancel and return</a></p>'
              if session["cancel_url"] else "")
    content = (
        f"<p class=test>TEST MODE</p><h1>Pay {total}</h1><ul>{items}</ul>{card_error}"
        f'<form method=post action="/c/pay/{escape(session["id"])}">'
        f'{field("number", "Card number", "cc-number")}{field("expiry", "Expiration (MM / YY)", "cc-exp")}'
        f'{field("cvc", "CVC", "cc-csc")}'
        '<label for="name">Name on card</label><input id="name" name="name" autocomplete="cc-name">'
        f"{saving}<button type=submit>Pay {total}</button></form>{cancel}"
    )
    return _page(f"Pay {total}", content, status, lang=session["locale"] or "en")


def three_ds_site(acct: Account):
    """The handler of the bank's 3-D Secure origin."""
    path = re.compile(r"/3ds/([A-Za-z0-9_]+)$")

    def handle(request: Request) -> Response:
        match = path.match(request.path)
        if not match:
            return _page("Not found", "<h1>Not found</h1>", 404)
        with acct.lock:
            intent = acct.find(match.group(1))
            if intent is None or intent["object"] != "payment_intent" or not intent.get("_return_url"):
                return _page("Not found", "<h1>This page does not exist</h1>", 404)
            if request.method == "POST":
                action = _form(request).get("action")
                if action not in ("approve", "fail"):
                    return _page("3-D Secure", "<p class=error>Choose Complete or Fail.</p>", 422)
                try:
                    return _redirect(payments.finish_3ds(acct, intent["id"], action == "approve"))
                except StripeError as e:
                    return _page("3-D Secure", f"<p class=error>{escape(str(e))}</p>", 400)
            if intent["status"] != "requires_action":
                return _redirect(payments.finish_3ds(acct, intent["id"], False))
            amount = _money(intent["amount"])
            content = (
                "<p class=test>TEST MODE</p><h1>3-D Secure authentication</h1>"
                f"<p>Your bank asks you to confirm a payment of {amount}.</p>"
                f'<form method=post action="/3ds/{escape(intent["id"])}">'
                "<button type=submit name=action value=approve>Complete authentication</button> "
                "<button type=submit name=action value=fail>Fail authentication</button></form>"
            )
            return _page("3-D Secure", content)

    return handle
