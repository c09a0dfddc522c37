"""Patient-facing text is marked where it is defined and translated where it is shown.

`N_("…")` marks a message for the catalogue (pops/locale/) without translating it: a module constant is
built before anyone's language is known. It returns a `Message`, a str whose value is the English text,
so staff pages, logs and the audit log read English; `.format(**params)` gives the message with its
parameters, still a Message, translated and formatted in the reader's language when shown (`_()` in a
template, `gettext(lang, message)` for a text or an email). Money and dates are formatted per language
with Babel (es_US for Spanish). Messages a row keeps (a payment attempt's) are stored as a code with
parameters (`coded`, `stored`, `from_stored`).
"""
from __future__ import annotations

import datetime as dt
import functools
import gettext as _gettext
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.numbers import format_currency

from . import money

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
LANGUAGES = ("en", "es")
NAMES = {"en": "English", "es": "Español"}  # each language in its own words, as the switch offers it
LOCALES = {"en": "en_US", "es": "es_US"}  # how money and dates are written
STRIPE_LOCALES = {"en": "en", "es": "es-419"}  # Stripe Checkout's names (Latin American Spanish)


class Message(str):
    """A sentence a patient reads: its English text, the msgid it is translated from and its parameters."""

    msgid: str
    params: dict
    code: str

    def __new__(cls, msgid: str, params: dict | None = None, code: str = "") -> Message:
        self = super().__new__(cls, msgid.format(**{k: format_param(v, DEFAULT) for k, v in params.items()})
                               if params else msgid)
        self.msgid = msgid
        self.params = dict(params or {})
        self.code = code
        return self

    def format(self, *args, **params) -> Message:  # type: ignore[override]
        """The message with these parameters, formatted in each reader's language when it is shown."""
        if args:
            raise TypeError("a message takes named parameters only")
        return Message(self.msgid, {**self.params, **params}, self.code)

    def __reduce__(self):
        return (Message, (self.msgid, self.params, self.code))


def message_of(refusal: Exception) -> str:
    """What a refusal says: the Message it was raised with (translated where it is shown), else its text."""
    said = refusal.args[0] if refusal.args else ""
    return said if isinstance(said, Message) else str(refusal)


def N_(message: str) -> Message:
    """Mark `message` for translation; it is translated later, when shown."""
    return Message(message)


CODES: dict[str, Message] = {}  # code -> message, for messages a row keeps


def coded(code: str, message: Message) -> Message:
    """Register `message` under a stable code, so a row can keep it and show it in any language later."""
    if CODES.get(code, message).msgid != message.msgid:
        raise ValueError(f"message code {code!r} is already taken")
    CODES[code] = Message(message.msgid, message.params, code)
    return CODES[code]


def stored(message: str) -> tuple[str, str, str]:
    """What a row keeps of a message: (English text, code, JSON parameters); a message without a code
    (a gateway's own words) keeps its text only."""
    if isinstance(message, Message) and message.code:
        return str(message), message.code, json.dumps({k: _kept(v) for k, v in message.params.items()})
    return str(message or ""), "", ""


def _kept(value) -> object:
    # Money and dates keep their kind, so they are written in the reader's language when shown again.
    if isinstance(value, Decimal):
        return {"money": str(value)}
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {"date": value.isoformat()}
    return str(value)


def _restored(value) -> object:
    if isinstance(value, dict) and "money" in value:
        return Decimal(value["money"])
    if isinstance(value, dict) and "date" in value:
        return dt.date.fromisoformat(value["date"])
    return value


def from_stored(text: str, code: str, params: str) -> str:
    """The message a row keeps, translatable again; a row from before codes (or an unknown code) keeps its text."""
    known = CODES.get(code) if code else None
    if known is None:
        return text
    try:
        values = {k: _restored(v) for k, v in json.loads(params).items()} if params else {}
        return known.format(**values) if values else known
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):  # kept by another version: its text stands
        return text


def recognise(text: str) -> str:
    """A message kept only as its English text, as the coded message it is (when it is one without parameters)."""
    return next((m for m in CODES.values() if m.msgid == text and not m.params), text)


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalogue of `lang` (English: the msgids themselves)."""
    if lang not in LANGUAGES or lang == DEFAULT:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, [lang])


def language(lang: str | None) -> str:
    """`lang` when POPS speaks it, else English."""
    return lang if lang in LANGUAGES else DEFAULT


def gettext(lang: str | None, message: str, **params) -> str:
    """`message` in `lang`, formatted with its parameters (and `params`): for texts, emails and plain strings."""
    lang = language(lang)
    if isinstance(message, Message):
        params = {**message.params, **params}
        message = message.msgid
    translated = translations(lang).gettext(message)
    return translated.format(**{k: format_param(v, lang) for k, v in params.items()}) if params else translated


def ngettext(lang: str | None, singular: str, plural: str, n: int) -> str:
    return translations(language(lang)).ngettext(singular, plural, n)


# --- money and dates ---------------------------------------------------------------------------

DATE_STYLES = {
    "long": "%b %-d, %Y",  # Nov 23, 2026
    "full": "%B %-d, %Y",  # November 23, 2026
    "short": "%m/%d/%Y",  # 11/23/2026
    "stamp": "%Y-%m-%d %H:%M",
    "stamp_seconds": "%Y-%m-%d %H:%M:%S",
    "stamp_zone": "%Y-%m-%d %H:%M %Z",  # 2026-11-23 09:00 CST: what staff read, the zone named
    "stamp_seconds_zone": "%Y-%m-%d %H:%M:%S %Z",
    "iso": "%Y-%m-%d",
    "time": "%-I:%M %p",  # 3:05 PM
    "clock": "%H:%M",
    "clock_zone": "%H:%M %Z",  # 06:10 EST
}
# Words in another language (CLDR patterns); the numeric styles read the same in every language
# (a date typed on a form is MM/DD/YYYY in both).
WORDED_DATES = {"long": "d MMM y", "full": "d 'de' MMMM 'de' y"}  # 23 nov 2026; 1 de diciembre de 2026
WORDED_TIMES = {"time": "h:mm a"}  # 3:05 p.m.


def format_money(amount: Decimal, lang: str | None = DEFAULT) -> str:
    """$1,234.56 (negatives -$5.00), written as `lang` writes US dollars."""
    lang = language(lang)
    if lang == DEFAULT:
        return money.format_money(amount)
    return format_currency(money.quantize(amount), "USD", locale=LOCALES[lang])


def format_date(value: dt.date | dt.datetime | None, style: str = "long", tz: str | ZoneInfo | None = None,
                lang: str | None = DEFAULT) -> str:
    """A date, or an instant shown in the time zone `tz` (required for instants: no silent UTC), in `lang`."""
    if value is None:
        return ""
    if not isinstance(value, dt.datetime):
        return _written_day(value, style, language(lang))
    if tz is None:
        raise ValueError("an instant is shown in a time zone: pass tz (the group's, or 'UTC')")
    return _written(value.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)), style, language(lang))


def _written(value: dt.date | dt.datetime, style: str, lang: str) -> str:
    if lang != DEFAULT and style in WORDED_DATES:
        day = value.date() if isinstance(value, dt.datetime) else value
        return _babel_date(day, WORDED_DATES[style], locale=LOCALES[lang])
    if lang != DEFAULT and style in WORDED_TIMES:
        return _babel_time(value, WORDED_TIMES[style], locale=LOCALES[lang])
    return value.strftime(DATE_STYLES[style])


@functools.lru_cache(maxsize=4096)  # a page shows the same few days (a statement's, its due date) again and again
def _written_day(value: dt.date, style: str, lang: str) -> str:
    return _written(value, style, lang)


def format_param(value, lang: str | None) -> str:
    """A message's parameter as `lang` writes it: money and dates formatted, anything else as text."""
    if isinstance(value, Decimal):
        return format_money(value, lang)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return format_date(value, "full", lang=lang)
    return str(value)


# --- which language ---------------------------------------------------------------------------

def from_accept_language(header: str | None) -> str:
    """The first language of an Accept-Language header POPS speaks ("" when none), by the q-values' order."""
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if quality > 0 and primary in LANGUAGES:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else ""


def stripe_locale(lang: str | None) -> str:
    """What Stripe Checkout is told: "es-419" for Spanish, "en" for English, "auto" (the browser's) when unknown."""
    return STRIPE_LOCALES.get(lang or "", "auto")
