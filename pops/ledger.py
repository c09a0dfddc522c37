"""From the ledger's rows to the money rules: an account's facts, balances and whether it may pay."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from decimal import Decimal

from . import balances, clock, db
from .models import Guarantor, Receipt, ReceiptApplication, Statement
from .money import ZERO, from_cents, quantize

# Receipts whose money reached the practice; a refund shows in refunded_amount (and, for
# applications, as negative applications), so refunded receipts stay in the sums.
COUNTED_STATUSES = (Receipt.PAID, Receipt.PARTIALLY_REFUNDED, Receipt.REFUNDED)


def _money(cents: object) -> Decimal:
    return from_cents(int(cents))


@dataclasses.dataclass(frozen=True)
class PlanSummary:
    """A live payment plan as Home and Account show it (pops.plans keeps the plan itself)."""

    status: str  # PaymentPlan's: active, on_hold, past_due
    next_date: dt.date | None
    next_amount: Decimal | None
    paid: Decimal  # the first payment and the instalments paid
    remaining: Decimal  # the instalments still scheduled


@dataclasses.dataclass(frozen=True)
class Account:
    """One account as one statement reads it: what the money rules need, and what the pages show beside."""

    facts: balances.AccountFacts
    statements: tuple[Statement, ...]  # the account's statements (rows), by date
    applied: dict[int, dict[str, Decimal]]  # POPS's payments per encounter id and line ("" for none)
    plan: PlanSummary | None = None  # the live payment plan, if any
    plan_notices: tuple[tuple[str, dt.datetime], ...] = ()  # plan and autopay notices for Home (kind, when), newest first
    # balances_for()'s figures by Include New Charges in Amount Due: the money rules read only the facts
    figures: dict[bool, balances.Balances] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def latest_statement(self) -> Statement | None:
        """The most recent statement (the money rules' choice: by date, numbers compared naturally)."""
        last = balances.last_statement(self.facts.statements)
        return next((s for s in self.statements if last is not None and s.number == last.number), None)


# The account's facts in one statement: a row per encounter ("e", with the sum of its lines), per
# POPS application total of an encounter line ("a"), per statement ("s"), per day of imported
# patient payments ("l") and per day of POPS's counted receipts ("r"). Typed NULLs: PostgreSQL
# settles a UNION's column types branch by branch.
_FACTS_SQL = """
SELECT 'e', e."guarantor_id", e."id", e."ext_id", e."date", CAST(NULL AS DATE),
       (SELECT COALESCE(SUM(l."amount"), 0) FROM "encounter_line" AS l WHERE l."encounter_id" = e."id"),
       e."insurance_pending", e."in_collections", CAST(NULL AS TIMESTAMP)
  FROM "encounter" AS e WHERE e."guarantor_id" IN ({ids})
UNION ALL
SELECT 'a', e."guarantor_id", a."encounter_id", a."line_ext_id", NULL, NULL, SUM(a."amount"), NULL, NULL, NULL
  FROM "receipt_application" AS a JOIN "receipt" AS r ON r."id" = a."receipt_id"
  JOIN "encounter" AS e ON e."id" = a."encounter_id"
 WHERE e."guarantor_id" IN ({ids}) AND a."source" = ? AND {pops_receipt}
 GROUP BY e."guarantor_id", a."encounter_id", a."line_ext_id"
UNION ALL
SELECT 's', s."guarantor_id", s."id", s."number", s."date", s."due_date", s."balance", s."amount_due", NULL,
       s."first_viewed_at"
  FROM "statement" AS s WHERE s."guarantor_id" IN ({ids})
UNION ALL
SELECT 'l', e."guarantor_id", NULL, NULL, l."date", NULL, SUM(l."amount"), NULL, NULL, NULL
  FROM "encounter_line" AS l JOIN "encounter" AS e ON e."id" = l."encounter_id"
 WHERE e."guarantor_id" IN ({ids}) AND l."kind" = ?
 GROUP BY e."guarantor_id", l."date"
UNION ALL
SELECT 'r', r."guarantor_id", NULL, NULL, r."received_date", NULL, SUM(r."amount" - r."refunded_amount"), NULL, NULL,
       NULL
  FROM "receipt" AS r WHERE r."guarantor_id" IN ({ids}) AND {pops_receipt}
 GROUP BY r."guarantor_id", r."received_date"
UNION ALL
SELECT 'f', p."guarantor_id", p."id", p."status", NULL, NULL, a."amount", NULL, NULL, NULL
  FROM "payment_plan" AS p JOIN "payment_attempt" AS a ON a."id" = p."first_attempt_id"
 WHERE p."guarantor_id" IN ({ids}) AND p."status" IN (?, ?, ?)
UNION ALL
SELECT 'p', p."guarantor_id", p."id", i."status", i."due_date", NULL, i."amount", NULL, NULL, NULL
  FROM "instalment" AS i JOIN "payment_plan" AS p ON p."id" = i."plan_id"
 WHERE p."guarantor_id" IN ({ids}) AND p."status" IN (?, ?, ?)
UNION ALL
SELECT 'n', n."guarantor_id", n."id", n."kind", NULL, NULL, 0, NULL, NULL, n."created_at"
  FROM "plan_notice" AS n WHERE n."guarantor_id" IN ({ids}) AND n."channel" = ? AND n."created_at" >= ?
"""
# A live plan's statuses (pops.plans.tables.PaymentPlan.LIVE): its first payment ("f") and instalments ("p");
# the notices that went to no phone or address ("n", channel "page") of the last NOTICE_DAYS.
_LIVE_PLAN = ("active", "on_hold", "past_due")
NOTICE_DAYS = 30
# POPS's own receipts whose money counts in POPS (not yet carried by the PM system's lines).
_POPS_RECEIPT_SQL = ('r."source" = ? AND r."imported" = ? AND r."posted_back" = ? AND r."status" IN ({})'
                     .format(", ".join("?" * len(COUNTED_STATUSES))))
_POPS_RECEIPT_PARAMS = (Receipt.POPS, False, False, *COUNTED_STATUSES)


@functools.lru_cache(maxsize=8)
def _facts_sql(ids: int) -> str:
    """The statement for `ids` accounts (each of its IN lists takes them all, in order)."""
    return _FACTS_SQL.format(ids=", ".join("?" * ids), pops_receipt=_POPS_RECEIPT_SQL)


def _facts_params(ids: list[int]) -> tuple:
    return (*ids, *ids, ReceiptApplication.POPS, *_POPS_RECEIPT_PARAMS, *ids, *ids, "patient_payment",
            *ids, *_POPS_RECEIPT_PARAMS, *ids, *_LIVE_PLAN, *ids, *_LIVE_PLAN,
            *ids, "page", Statement.first_viewed_at.db_value(clock.now() - dt.timedelta(days=NOTICE_DAYS)))


def read_account(guarantor: Guarantor) -> Account:
    """The account's facts, statements and POPS applications, in one statement.

    Within reusing_facts() (a patient's page), for a guarantor read with its session and ledger version
    (saw_version), the facts read for the same version before, if any, and no statement.
    """
    version = guarantor.__dict__.get(_VERSION) if _reusing.get() else None
    if version is None:
        return read_accounts([guarantor])[guarantor.id]
    if _kept_from[0] is not db.database.obj:  # another database bound (tests, benches): nothing kept holds
        _kept.clear()
        _kept_from[0] = db.database.obj
    key = (guarantor.id, version, guarantor.escrow, guarantor.unapplied, clock.now().date())
    account = _kept.get(key)
    if account is None:
        account = read_accounts([guarantor])[guarantor.id]
        if len(_kept) >= KEEP_AT_MOST:
            _kept.clear()
        _kept[key] = account
    return _without_old_notices(account)


def account_facts(guarantor: Guarantor) -> balances.AccountFacts:
    """Everything the money rules need about one account, in one statement."""
    return read_account(guarantor).facts


# --- facts kept between a patient's pages, while the account's ledger version says they hold ----------
# The ledger version (pops.models.LedgerVersion) changes in the same statement as any row _FACTS_SQL reads,
# and a page reads it with the session, before the facts: facts kept under a version are never older than it.

_VERSION = "_pops_ledger_version"
_reusing: ContextVar[bool] = ContextVar("pops_reusing_facts", default=False)
_kept: dict[tuple, Account] = {}
_kept_from: list = [None]  # the database they were read from
KEEP_AT_MOST = 4096  # accounts per process; past it, the kept facts are let go and read again


def saw_version(guarantor: Guarantor, version: int | None) -> None:
    """The account's ledger version, read in the same statement as `guarantor` (pops.sessions): None if it has none yet."""
    guarantor.__dict__[_VERSION] = version


@contextlib.contextmanager
def reusing_facts() -> Iterator[None]:
    """Within it, read_account() may answer with facts kept for the guarantor's ledger version (see saw_version).

    For a page that reads the ledger and writes none of it (pops.web.guards.patient_page): a form or a page
    that records a payment writes facts after its session's version was read, and must read them again.
    """
    token = _reusing.set(True)
    try:
        yield
    finally:
        _reusing.reset(token)


def _without_old_notices(account: Account) -> Account:
    """The notices of the last NOTICE_DAYS as of now (kept facts may hold a day's older ones)."""
    cutoff = clock.now() - dt.timedelta(days=NOTICE_DAYS)
    if all(at >= cutoff for _, at in account.plan_notices):
        return account
    return dataclasses.replace(account, plan_notices=tuple(n for n in account.plan_notices if n[1] >= cutoff))


_CHUNK = 500  # guarantor ids per IN (...) list, well under every database's parameter limit


def accounts_facts(guarantors: Iterable[Guarantor]) -> dict[int, balances.AccountFacts]:
    """account_facts() for many accounts at once (by guarantor id): one statement per few hundred accounts."""
    return {gid: account.facts for gid, account in read_accounts(guarantors).items()}


def read_accounts(guarantors: Iterable[Guarantor]) -> dict[int, Account]:
    """read_account() for many accounts at once (by guarantor id)."""
    guarantors = list(guarantors)
    found: dict[int, Account] = {}
    for start in range(0, len(guarantors), _CHUNK):
        found.update(_read(guarantors[start : start + _CHUNK]))
    return found


_viewed_at = Statement.first_viewed_at.python_value
_notice_at = Statement.first_viewed_at.python_value  # an instant, as UTCDateTimeField reads it


def _day(value) -> dt.date:
    # SQLite hands a DATE back as the text it stored (str(date)); PostgreSQL as a date.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _read(guarantors: list[Guarantor]) -> dict[int, Account]:
    ids = [g.id for g in guarantors]
    sql = _facts_sql(len(ids))
    encounters: dict[int, list[tuple]] = defaultdict(list)
    applied: dict[int, dict[int, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    statements: dict[int, list[Statement]] = defaultdict(list)
    line_payments: dict[int, list[balances.PaymentFacts]] = defaultdict(list)
    pops_payments: dict[int, list[balances.PaymentFacts]] = defaultdict(list)
    plan_heads: dict[int, tuple[str, Decimal]] = {}
    plan_rows: dict[int, list[tuple[dt.date, str, Decimal]]] = defaultdict(list)
    plan_notices: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    for kind, gid, row_id, text, day, due, cents, cents2, flag, at in db.execute(sql, _facts_params(ids)):
        if kind == "e":
            encounters[gid].append((_day(day), row_id, text, int(cents), int(cents2), bool(flag)))
        elif kind == "a":
            applied[gid][row_id][text] = _money(cents)
        elif kind == "s":
            statement = Statement(__no_default__=1)
            statement.__data__ = {"id": row_id, "guarantor": gid, "number": text, "date": _day(day),
                                  "due_date": _day(due), "balance": _money(cents), "amount_due": _money(cents2),
                                  "first_viewed_at": None if at is None else _viewed_at(at)}
            statements[gid].append(statement)
        elif kind == "l":
            # Patient payment lines are negative in the ledger; a payment received is positive here.
            line_payments[gid].append(balances.PaymentFacts(date=_day(day), amount=-_money(cents)))
        elif kind == "r":
            pops_payments[gid].append(balances.PaymentFacts(date=_day(day), amount=_money(cents)))
        elif kind == "f":
            plan_heads[gid] = (text, _money(cents))
        elif kind == "p":
            plan_rows[gid].append((_day(day), text, _money(cents)))
        else:
            plan_notices[gid].append((text, _notice_at(at)))
    found = {}
    for g in guarantors:
        mine = applied[g.id]
        rows = sorted(statements[g.id], key=lambda s: (s.date, s.id))
        found[g.id] = Account(
            facts=balances.AccountFacts(
                encounters=tuple(
                    balances.EncounterFacts(
                        id=ext_id, date=day, lines_total=from_cents(lines), insurance_pending=from_cents(pending),
                        pops_applied=quantize(sum(mine[encounter_id].values(), ZERO)) if encounter_id in mine else ZERO,
                        in_collections=collections,
                    )
                    for day, encounter_id, ext_id, lines, pending, collections in sorted(encounters[g.id])
                ),
                statements=tuple(
                    balances.StatementFacts(number=s.number, date=s.date, due_date=s.due_date, balance=s.balance,
                                            amount_due=s.amount_due)
                    for s in rows
                ),
                patient_payments=(*sorted(line_payments[g.id], key=lambda p: p.date),
                                  *sorted(pops_payments[g.id], key=lambda p: p.date)),
                escrow=g.escrow,
                unapplied=g.unapplied,
            ),
            statements=tuple(rows),
            applied={encounter_id: dict(lines) for encounter_id, lines in mine.items()},
            plan=_plan(plan_heads.get(g.id), plan_rows[g.id]),
            plan_notices=tuple(sorted(plan_notices[g.id], key=lambda n: n[1], reverse=True)),
        )
    return found


def _plan(head: tuple[str, Decimal] | None, rows: list[tuple[dt.date, str, Decimal]]) -> PlanSummary | None:
    if head is None:
        return None
    status, first = head
    scheduled = sorted((day, amount) for day, state, amount in rows if state == "scheduled")
    paid = first + sum((amount for _, state, amount in rows if state == "paid"), ZERO)
    return PlanSummary(status, scheduled[0][0] if scheduled else None, scheduled[0][1] if scheduled else None,
                       paid, sum((amount for _, amount in scheduled), ZERO))


def balances_for(guarantor: Guarantor, account: Account | None = None) -> balances.Balances:
    """The account's balances under its group's Include New Charges in Amount Due (pass the `account`
    when it is already read, to save the statement)."""
    account = account or read_account(guarantor)
    include = guarantor.group.include_new_charges_in_amount_due
    figures = account.figures.get(include)
    if figures is None:  # once per account read (a page's kept account: once for its ledger version)
        figures = account.figures[include] = balances.compute(account.facts, include_new_charges=include)
    return figures


def eligibility_for(guarantor: Guarantor, figures: balances.Balances | None = None) -> balances.Eligibility:
    """Whether the guarantor may pay online now, and if not the reason and the sentence to show.

    Pass the account's `figures` when they are already computed, to save the queries.
    """
    group = guarantor.group
    return balances.eligibility(figures or balances_for(guarantor), group.name, group.show_current_balance)
