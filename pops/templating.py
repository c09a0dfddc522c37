"""The one Jinja environment factory: web pages and paper statements render through it.

Every filter and global a template may use is registered here, so a template renders the same
wherever it is used. Dates go through one filter, given the time zone to show them in.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import jinja2

from .money import format_money
from .settings import TEMPLATES_DIR

HTMX_VERSION = "2.0.11"

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


def format_date(value: dt.date | dt.datetime | None, style: str = "long", tz: str | ZoneInfo | None = None) -> str:
    """A date, or an instant shown in the time zone `tz` (required for instants: no silent UTC)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if tz is None:
            raise ValueError("an instant is shown in a time zone: pass tz (the group's, or 'UTC')")
        value = value.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))
    return value.strftime(DATE_STYLES[style])


def environment(globals: Mapping[str, Any] | None = None) -> jinja2.Environment:
    """A Jinja environment over the templates folder, with POPS's filters and the given globals."""
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
    env.filters["date"] = format_date
    env.globals["htmx_js"] = f"htmx-{HTMX_VERSION}.min.js"
    env.globals.update(globals or {})
    return env
