"""Reading a document: JSON text to Python values, numbers kept as written, nothing lost silently."""
from __future__ import annotations

import json
from pathlib import Path

from .result import ImportRefused, Problem


class JSONNumber:
    """A JSON number with a fraction or exponent, kept as written so a message can quote it."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Object(dict):
    """A JSON object that remembers keys it carried more than once (json keeps only the last)."""

    repeated: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = []
        for key, _ in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        obj.repeated = tuple(repeated)
    return obj


def load(text: str) -> object:
    """Parse a document's JSON; numbers with a fraction stay as written (JSONNumber), never floats."""
    try:
        return json.loads(
            text,
            parse_float=JSONNumber,
            parse_constant=JSONNumber,
            object_pairs_hook=_object_pairs,
        )
    except json.JSONDecodeError as exc:
        message = f"The document is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
    except ValueError as exc:  # e.g. an integer with thousands of digits
        message = f"The document is not valid JSON: {exc}."
    except RecursionError:
        message = "The document is not valid JSON: it is nested too deeply."
    raise ImportRefused([Problem("$", message)])


def load_file(path: str | Path) -> object:
    """Parse a UTF-8 JSON file (see load); a byte that is not UTF-8 refuses it."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            [Problem("$", f"The file is not UTF-8 text (a byte that is not UTF-8 at offset {exc.start}).")]
        ) from None
    return load(text)
