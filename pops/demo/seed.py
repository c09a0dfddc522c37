"""What `pops demo` checks before it seeds a database with the demo ledger."""
from __future__ import annotations

from ..models import Encounter, Group, Guarantor


class DemoRefused(Exception):
    """The database holds something other than demo data, which `pops demo` must not touch."""


def stale_demo_data(document: dict) -> bool:
    """True when the database holds demo data built for another day (or another demo version).

    The simulated ledger depends on the day it is built for, so importing today's on top of an
    older one would leave the older encounters behind and double the balances. Raises
    DemoRefused when the database holds practices that are not the demo's.
    """
    demo_groups = {group["code"] for group in document["groups"]}
    others = sorted(code for (code,) in Group.select(Group.code).tuples() if code not in demo_groups)
    if others:
        raise DemoRefused(
            "this database holds practices that are not the demo's (%s); pops demo only seeds an "
            "empty database or its own. Point POPS_DATABASE_URL at another database." % ", ".join(others)
        )
    wanted = {(g["account"], e["id"]) for g in document["guarantors"] for e in g["encounters"]}
    held = Encounter.select(Guarantor.account, Encounter.ext_id).join(Guarantor).tuples()
    return any(pair not in wanted for pair in held)
