"""Dates people type, read one way everywhere (sign-in, profile requests, the staff console, reports)."""
from __future__ import annotations

import datetime as dt

ISO = ("%Y-%m-%d",)  # what a date input sends, and what staff reports take
TYPED = (*ISO, "%m/%d/%Y", "%m-%d-%Y")  # a person's habits too: 04/12/1981


def parse_date(text: str | None, formats: tuple[str, ...] = TYPED) -> dt.date | None:
    """A date in one of `formats` (leading zeros optional); None when it is none of them."""
    text = (text or "").strip()
    if len(text) > 10:
        return None
    for pattern in formats:
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None
