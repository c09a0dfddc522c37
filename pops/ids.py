"""Ids as they arrive in an address or a query: ASCII digits, at most 18 of them.

Every id below 10**18 fits the databases' 64-bit ids (up to 2**63 - 1); anything longer, negative,
or written in other digits ("١٢٣") is no id POPS ever made, and never reaches a query.
"""
from __future__ import annotations

import re

PATTERN = "[0-9]{1,18}"
_ID = re.compile(PATTERN)


def parse_id(text: str | None) -> int | None:
    """The id `text` spells, or None when it spells none (empty, too long, signed, other digits)."""
    text = (text or "").strip()
    return int(text) if _ID.fullmatch(text) else None
