"""Paper statements: choose the statements due, mint a statement-QR link for each, print them.

A statement is due when it is its guarantor's most recent statement, the guarantor still takes
balance notices on paper, the statement had an amount due, patient payments since have not
covered it, and the account's Amount Due is above zero. A due statement is always printed; it
carries a QR code and typeable link only when its group prints them and the account may pay
online (an escrow account's link would lead straight to "Payment Not Possible").
"""
from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from markupsafe import Markup

from . import balances, clock, language, ledger, links, qr, templating
from .models import Encounter, Group, Guarantor, Patient, Statement, StatementEncounter

TEMPLATE = "statements/print.html"
_CHUNK = 500  # ids per IN (…) list, well under every database's parameter limit
# Drawing QR codes is most of a run's work (qrcode encodes in pure Python); from this many
# codes on, worker processes draw them, one per CPU.
PARALLEL_FROM = 300


@dataclass(frozen=True)
class VisitLine:
    """One encounter on a statement, as the patient reads it."""

    date: dt.date
    patient: str
    provider: str
    description: str
    balance: Decimal


@dataclass
class DueStatement:
    statement: Statement
    guarantor: Guarantor
    balances: balances.Balances
    eligibility: balances.Eligibility
    visits: list[VisitLine]
    code: str | None = None  # the statement-QR link, when one is printed
    url: str | None = None
    qr: Markup | None = None  # its QR code, an inline <svg>

    @property
    def group(self) -> Group:
        return self.guarantor.group

    @property
    def lang(self) -> str:
        """The language it is printed in: the guarantor's (pops.language), English when none."""
        return language.of_guarantor(self.guarantor)

    @property
    def prints_link(self) -> bool:
        return self.group.print_link_and_qr_on_statements and self.eligibility.allowed


@dataclass(frozen=True)
class Run:
    statements: list[DueStatement]

    @property
    def links_minted(self) -> int:
        return sum(1 for due in self.statements if due.code)


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _latest_statements(groups: Iterable[Group]) -> list[Statement]:
    """Each paper-taking guarantor's most recent statement that had an amount due (guarantor and group loaded)."""
    # Every statement of the groups, as light tuples; only the chosen ones become models.
    by_guarantor: dict[int, list[tuple[int, balances.StatementFacts]]] = defaultdict(list)
    query = (
        Statement.select(Statement.id, Statement.guarantor, Statement.number, Statement.date, Statement.amount_due)
        .join(Guarantor)
        .where(Guarantor.group.in_([g.id for g in groups]) & (Guarantor.notify_balance_paper == True))  # noqa: E712
        .tuples()
    )
    for statement_id, guarantor_id, number, date, amount_due in query:
        facts = balances.StatementFacts(number, date, date, Decimal(0), amount_due)
        by_guarantor[guarantor_id].append((statement_id, facts))
    chosen = []
    for rows in by_guarantor.values():
        last = balances.last_statement(facts for _, facts in rows)
        if last.amount_due > 0:
            chosen.append(next(statement_id for statement_id, facts in rows if facts is last))
    # The groups are the ones given: one model each, not one per statement row.
    by_id = {g.id: g for g in groups}
    latest = []
    for chunk in _chunks(chosen):
        for statement in Statement.select(Statement, Guarantor).join(Guarantor).where(Statement.id.in_(chunk)):
            statement.guarantor.group = by_id[statement.guarantor.group_id]
            latest.append(statement)
    latest.sort(key=lambda s: (s.guarantor.group.code, s.guarantor.account))
    return latest


def _facts(s: Statement) -> balances.StatementFacts:
    return balances.StatementFacts(s.number, s.date, s.due_date, s.balance, s.amount_due)


def _visits(statement_ids: list[int]) -> dict[int, list[tuple]]:
    """Each statement's encounters as (ext_id, date, patient's name, provider, description) tuples,
    in a query per few hundred statements (tuples, not models: a run reads tens of thousands)."""
    visits: dict[int, list[tuple]] = defaultdict(list)
    for chunk in _chunks(statement_ids):
        query = (
            StatementEncounter.select(StatementEncounter.statement, Encounter.ext_id, Encounter.date, Patient.first_name,
                                      Patient.last_name, Encounter.provider, Encounter.facility_name,
                                      Encounter.description)
            .join(Encounter)
            .join(Patient)
            .where(StatementEncounter.statement.in_(chunk))
            .order_by(Encounter.date, Encounter.id)
            .tuples()
        )
        for statement_id, ext_id, date, first_name, last_name, provider, facility, description in query:
            patient = Patient(first_name=first_name, last_name=last_name).full_name
            visits[statement_id].append((ext_id, date, patient, provider or facility, description))
    return visits


def statements_due(groups: Iterable[Group]) -> list[DueStatement]:
    """The statements to print for these groups, by group code then account (see the module's rule)."""
    groups = list(groups)
    return _due(_latest_statements(groups)) if groups else []


def _due(latest: list[Statement]) -> list[DueStatement]:
    """Those of these latest statements that are due, in their order, with their balances and visits."""
    all_facts = ledger.accounts_facts(s.guarantor for s in latest)
    due = []
    for statement in latest:
        facts = all_facts[statement.guarantor_id]
        group = statement.guarantor.group
        owed = balances.compute(facts, include_new_charges=group.include_new_charges_in_amount_due)
        if owed.amount_due <= 0 or balances.statement_is_paid(_facts(statement), facts.patient_payments):
            continue
        open_by_encounter = {e.id: balances.encounter_balance(e) for e in facts.encounters}
        due.append((statement, owed, balances.eligibility(owed, group.name, group.show_current_balance), open_by_encounter))
    visits = _visits([statement.id for statement, *_ in due])
    return [
        DueStatement(
            statement=statement,
            guarantor=statement.guarantor,
            balances=owed,
            eligibility=eligibility,
            visits=[
                VisitLine(date, patient, provider, description, open_by_encounter.get(ext_id, Decimal("0.00")))
                for ext_id, date, patient, provider, description in visits.get(statement.id, [])
            ],
        )
        for statement, owed, eligibility, open_by_encounter in due
    ]


def mint_links(due: Iterable[DueStatement], secret_key: str, base_url: str) -> None:
    """A statement-QR link for each statement that prints one (one INSERT). Call inside one transaction."""
    printing = [item for item in due if item.prints_link]
    for item, code in zip(printing, links.mint_for_statements([(item.guarantor, item.statement) for item in printing], secret_key)):
        item.code, item.url = code, links.url(base_url, code)


_env = templating.environment()


@contextlib.contextmanager
def _drawing(count: int) -> Iterator[Callable[[list[str]], Iterator[str]]]:
    """A function drawing the QR codes of URLs lazily, in order; in worker processes when up to `count` may be many.

    Worker processes start drawing as soon as URLs are handed over, while this process goes on
    minting and printing.
    """
    workers = min(os.cpu_count() or 1, 8)
    if count < PARALLEL_FROM or workers < 2:
        yield lambda urls: map(qr.qr_svg, urls)
        return
    # spawn, not fork: the parent holds a database connection and may hold threads
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield lambda urls: pool.map(qr.qr_svg, urls, chunksize=max(1, len(urls) // (workers * 4)))
    finally:
        pool.shutdown(cancel_futures=True)


def qr_codes(urls: list[str]) -> list[str]:
    """qr.qr_svg() of each URL, in worker processes when there are many."""
    with _drawing(len(urls)) as draw:
        return list(draw(urls))


def _write(due: list[DueStatement], svgs: Iterator[str], out: TextIO) -> None:
    """The document, each statement with a link taking the next QR code of `svgs` as it is printed, and
    in its guarantor's language (the template is generated as it goes: each is written while it is the one)."""
    def with_codes() -> Iterator[DueStatement]:
        for item in due:
            if item.url:
                item.qr = Markup(next(svgs))
            with templating.rendering(item.lang):
                yield item

    groups = {item.group.id: item.group for item in due}
    template = _env.get_template(TEMPLATE)
    first = next(iter(groups.values()), None)
    printed_on = clock.today(first.timezone if first else "UTC")
    pieces: list[str] = []  # written a few thousand at a time: a write per piece costs more than the piece
    for piece in template.generate(statements=with_codes(), groups=groups.values(), printed_on=printed_on):
        pieces.append(piece)
        if len(pieces) >= 4096:
            out.write("".join(pieces))
            pieces.clear()
    out.write("".join(pieces))


def render(due: list[DueStatement], out: TextIO) -> None:
    """Write one printable HTML document, one statement per page, to `out`."""
    urls = [item.url for item in due if item.url]
    with _drawing(len(urls)) as draw:
        _write(due, iter(draw(urls)), out)


def run(groups: Iterable[Group], secret_key: str, base_url: str, out: TextIO) -> Run:
    """Choose the statements due, mint their links and print them to `out`. Call inside one transaction."""
    groups = list(groups)
    latest = _latest_statements(groups) if groups else []
    due: list[DueStatement] = []
    # A few hundred statements at a time are chosen and minted, and their codes handed to the
    # workers, which draw them while the next are chosen (a pool starts no process until then).
    with _drawing(len(latest)) as draw:
        drawn = []
        for chunk in _chunks(latest):
            chosen = _due(chunk)
            mint_links(chosen, secret_key, base_url)
            due.extend(chosen)
            drawn.append(draw([item.url for item in chosen if item.url]))
        _write(due, itertools.chain.from_iterable(drawn), out)
    return Run(due)
