"""The Payment Plans report: every plan with its status, what was scheduled and what was collected."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from ..models import Group, Guarantor
from ..money import ZERO
from .reading import view
from .tables import PaymentPlan

STATUSES = (PaymentPlan.ACTIVE, PaymentPlan.ON_HOLD, PaymentPlan.PAST_DUE, PaymentPlan.COMPLETED, PaymentPlan.CANCELLED)


@dataclass(frozen=True)
class Row:
    plan: PaymentPlan
    collected: Decimal  # the first payment and the instalments paid
    scheduled: Decimal  # the instalments still scheduled
    next_date: object


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    counts: dict[str, int]
    collected: Decimal
    scheduled: Decimal
    group: Group | None
    status: str


def plans_report(group_code: str = "", status: str = "") -> Report:
    """The plans, newest first, of one group or all, of one status or all; totals by status."""
    group = Group.get_or_none(Group.code == group_code) if group_code else None
    query = PaymentPlan.select(PaymentPlan, Guarantor).join(Guarantor).order_by(PaymentPlan.id.desc())
    if group is not None:
        query = query.where(Guarantor.group == group)
    rows, counts = [], {s: 0 for s in STATUSES}
    for plan in query:
        counts[plan.status] = counts.get(plan.status, 0) + 1
        if status in STATUSES and plan.status != status:
            continue
        shown = view(plan)
        rows.append(Row(plan, shown.paid, shown.remaining, shown.next.due_date if shown.next else None))
    return Report(rows, counts, sum((r.collected for r in rows), ZERO), sum((r.scheduled for r in rows), ZERO),
                  group, status if status in STATUSES else "")


def plans_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Account", "Guarantor", "Group", "Status", "Started", "Total", "Collected", "Scheduled",
                     "Next payment"])
    for row in report.rows:
        plan, guarantor = row.plan, row.plan.guarantor
        writer.writerow([guarantor.account, guarantor.legal_name, guarantor.group.code, plan.status,
                         plan.created_at.date().isoformat(), f"{plan.balance:.2f}", f"{row.collected:.2f}",
                         f"{row.scheduled:.2f}", row.next_date.isoformat() if row.next_date else ""])
    return out.getvalue()
