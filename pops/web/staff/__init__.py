"""The staff console: sign-in, the guarantor pages, mirror, POPS Management, batches, reports, requests,
receipts, the records and one's own settings. `routes` is every staff route, in the order they are matched."""
from __future__ import annotations

from .. import validity  # first: its id convertor must be registered before `{id:int}` routes compile
from . import account, admin, auth, batches, console, mirror, plans, receipts, records, reports, requests

routes = [
    *auth.routes,
    *batches.routes,
    *reports.routes,
    *requests.routes,
    *receipts.routes,
    *console.routes,
    *plans.routes,
    *mirror.routes,
    *admin.routes,
    *account.routes,
    *records.routes,
]
