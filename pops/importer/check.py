"""Checking a document whole: its shape, then its references against the database."""
from __future__ import annotations

from .known import known_rows
from .references import References
from .result import Problem
from .shape import Checker, Row, shape


def check(doc: object) -> tuple[Row | None, list[Problem], list[Problem]]:
    """The parsed tree (None unless the document is an object) and every problem: (top, errors, warnings)."""
    checker = Checker()
    top = shape(doc, checker)
    if top is not None:
        References(known_rows(top), checker).document(top)
    return top, checker.errors, checker.warnings


def validate(doc: object) -> tuple[list[Problem], list[Problem]]:
    """Every problem of a document, as (errors, warnings). Reads the database, never writes."""
    _, errors, warnings = check(doc)
    return errors, warnings
