"""Import format v1 (docs/import-v1.md): check a PM system's document whole, then upsert it at once.

`validate` lists every problem of a document (errors refuse it, warnings do not); `import_document`
writes a valid document in one transaction, touching only rows whose values differ, so the same
document imported twice changes nothing.

A document is read (`read`), checked (`check`: its `shape`, then its `references` against what the
database already holds, `known`) and written (`write`, with `write_account` for each guarantor's rows).
"""
from .check import validate
from .read import JSONNumber, load
from .result import KINDS, Counts, ImportRefused, ImportResult, Problem, format_problems
from .spec import FORMAT
from .write import import_document, import_file

__all__ = [
    "FORMAT",
    "KINDS",
    "Counts",
    "ImportRefused",
    "ImportResult",
    "JSONNumber",
    "Problem",
    "format_problems",
    "import_document",
    "import_file",
    "load",
    "validate",
]
