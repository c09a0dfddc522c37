"""The POPS Payments and Session Usage reports as the staff console runs them: the filters from the query,
the report, the choices its form offers. Every run and every export is recorded with its filters."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from . import reports
from .audit import audit
from .console import groups_by_code
from .models import SESSION_ORIGINS, Group, Staff

PAYMENTS = "payments"
SESSIONS = "sessions"
_RUNS: dict[str, tuple[Any, Callable, Callable]] = {  # filters, run, the report of nothing
    PAYMENTS: (reports.PaymentFilters, reports.payments_report, reports.PaymentsReport.empty),
    SESSIONS: (reports.SessionFilters, reports.session_report, reports.SessionReport.empty),
}


@dataclass(frozen=True)
class ReportPage:
    filters: Any  # reports.PaymentFilters or reports.SessionFilters
    errors: list[str]
    report: Any  # reports.PaymentsReport or reports.SessionReport
    groups: list[Group]
    choices: dict[str, Any]  # the rest of the form's choices, by name
    refused: bool = False  # a day beyond the reports' range: nothing was run or recorded

    @property
    def query(self) -> str:
        """The query string that runs these filters again (the CSV link's)."""
        return urlencode(self.filters.params())


def _run(name: str, action: str, params: Mapping[str, str], staff: Staff, ip: str):
    filters_type, run, _ = _RUNS[name]
    filters, errors = filters_type.from_params(params)
    report = run(filters)
    audit(staff, action, detail=f"{name} {urlencode(filters.params())}", ip=ip)
    return filters, errors, report


def page(name: str, params: Mapping[str, str], staff: Staff, *, ip: str) -> ReportPage:
    """Report `name` (PAYMENTS or SESSIONS) for the query's filters (a bad one is an error, its default used;
    a day beyond the range refuses the run)."""
    try:
        filters, errors, report = _run(name, "run_report", params, staff, ip)
    except reports.DateOutOfRange as exc:
        filters_type, _, empty = _RUNS[name]
        return ReportPage(filters_type(), [str(exc)], empty(filters_type()), groups_by_code(), _choices(name),
                          refused=True)
    return ReportPage(filters, errors, report, groups_by_code(), _choices(name))


def _choices(name: str) -> dict[str, Any]:
    if name == PAYMENTS:
        return {"bases": reports.BASES, "kinds": reports.KINDS, "groupings": reports.PAYMENT_GROUPINGS,
                "card_types": reports.card_types()}
    return {"origins": SESSION_ORIGINS, "origin_labels": reports.ORIGIN_LABELS, "periods": reports.PERIODS}


def csv(name: str, params: Mapping[str, str], staff: Staff, *, ip: str) -> str:
    """Report `name` for the query's filters, as CSV; DateOutOfRange for a day beyond the range."""
    return _run(name, "export_report", params, staff, ip)[2].csv()
