"""Time zones a person may choose (a group's, a staff member's): the one list and the one check."""
from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

# Most practices are in the United States: their zones come first, east to west.
US_ZONES = {
    "America/New_York": "Eastern",
    "America/Chicago": "Central",
    "America/Denver": "Mountain",
    "America/Phoenix": "Arizona",
    "America/Los_Angeles": "Pacific",
    "America/Anchorage": "Alaska",
    "Pacific/Honolulu": "Hawaii",
    "America/Puerto_Rico": "Puerto Rico",
}


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: object) -> bool:
    """Whether `name` is a time zone of the tz database (America/Chicago, UTC), exactly as written."""
    return isinstance(name, str) and name in _known()


@cache
def others() -> tuple[str, ...]:
    """Every other zone of the tz database, alphabetically."""
    return tuple(sorted(_known() - set(US_ZONES)))
