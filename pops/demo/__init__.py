"""A realistic demo ledger in the import format (docs/import-v1.md), dated relative to today.

The ledger is simulated rather than written out: visits are charged, insurance adjudicates them
weeks later, monthly statements are computed from the lines as they stood on the statement date,
and guarantors pay (or don't) after each statement. Balances therefore always add up.

`practices` holds what the simulation draws on, `records` the simulated ledger; `households`,
`visits`, `billing` and `simulate` build it, `document` writes it out; `seed` is what `pops demo`
checks before it imports the document.
"""
from .document import FORMAT, build_document
from .practices import DEMO_ACCOUNTS, DEMO_PATIENTS, DEMO_SIGN_IN
from .seed import DemoRefused, stale_demo_data

__all__ = ["DEMO_ACCOUNTS", "DEMO_PATIENTS", "DEMO_SIGN_IN", "FORMAT", "DemoRefused", "build_document", "stale_demo_data"]
