"""What an import reports: the problems of a document, and what was written."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

KINDS = ("groups", "guarantors", "patients", "encounters", "lines", "statements", "receipts", "appointments")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (a JSON path such as `$.guarantors[0].escrow`) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def format_problems(problems: Iterable[Problem]) -> str:
    """One problem per line, "PATH: message"."""
    return "\n".join(str(p) for p in problems)


class ImportRefused(Exception):
    """The document breaks the format; nothing was written. `.problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    voided: int = 0


@dataclass
class ImportResult:
    """What an import did, per kind of row, and what the clerk should know about."""

    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    warnings: list[Problem] = field(default_factory=list)
    # contact details the patient changed in the portal that the import did not overwrite
    contacts_kept: list[Problem] = field(default_factory=list)
    contacts_cleared: int = 0
    posted_back: list[str] = field(default_factory=list)  # POPS receipt numbers

    @property
    def changed(self) -> bool:
        return bool(
            self.contacts_cleared
            or self.posted_back
            or any(c.created or c.updated or c.voided for c in self.counts.values())
        )

    def summary(self) -> str:
        lines = []
        for kind, c in self.counts.items():
            if c.created or c.updated or c.unchanged or c.voided:
                lines.append(
                    f"{kind}: {c.created} created, {c.updated} updated, "
                    f"{c.unchanged} unchanged, {c.voided} voided"
                )
        if self.posted_back:
            lines.append(f"POPS payments posted back: {', '.join(self.posted_back)}")
        if self.contacts_cleared:
            lines.append(f"contact changes now in the PM system: {self.contacts_cleared}")
        lines.extend(f"kept: {p}" for p in self.contacts_kept)
        lines.extend(f"warning: {p}" for p in self.warnings)
        return "\n".join(lines)
