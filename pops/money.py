"""Money as Decimal: strict parsing of import strings, cents for storage, display as $1,234.56."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_STRICT = re.compile(r"-?\d{1,10}\.\d{2}")
_LENIENT = re.compile(r"\d{1,3}(,\d{3})+(\.\d{1,2})?|\d{1,10}(\.\d{1,2})?|\.\d{1,2}")


def parse_money(text: str) -> Decimal:
    """Parse an import-format money string ("25.00", "-110.00"); anything else is a ValueError."""
    if not isinstance(text, str) or not _STRICT.fullmatch(text):
        raise ValueError(f"not a money string with two decimal places: {text!r}")
    return Decimal(text)


def parse_amount_input(text: str) -> Decimal:
    """Parse what a person typed as an amount ("$1,234.5", "20"); a ValueError when it is not one."""
    cleaned = (text or "").strip().replace("$", "").replace(" ", "")
    if not _LENIENT.fullmatch(cleaned):
        raise ValueError(f"not an amount: {text!r}")
    return Decimal(cleaned.replace(",", "")).quantize(CENT)


def to_cents(amount: Decimal) -> int:
    """Exact cents of a Decimal; a ValueError if it carries a fraction of a cent."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if isinstance(amount, float):
        raise ValueError("money is never a float")
    if value != value.quantize(CENT):
        raise ValueError(f"fraction of a cent: {amount}")
    return int(value * 100)


def from_cents(cents: int | None) -> Decimal:
    # scaleb moves the point exactly (12345 -> 123.45, 0 -> 0.00): no division, no rounding.
    return Decimal(int(cents or 0)).scaleb(-2)


def quantize(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal) -> str:
    """$1,234.56; negatives as -$5.00."""
    value = quantize(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"
