"""The simulated ledger's records, the money and calendar arithmetic they use, and the state every
step of the simulation shares."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .practices import Plan

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(value: Decimal) -> str:
    """An import-format money string: two places, never "-0.00"."""
    amount = money(value)
    return str(amount if amount != 0 else ZERO)


def weekday_before(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def weekday_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def business_day(day: dt.date, earliest: dt.date, latest: dt.date) -> dt.date:
    """The weekday nearest after `day` within [earliest, latest], else the one before, else `day`."""
    if (after := weekday_after(day)) <= latest:
        return after
    if (before := weekday_before(day)) >= earliest:
        return before
    return day


def anniversary(born: dt.date, year: int) -> dt.date:
    try:
        return born.replace(year=year)
    except ValueError:  # born on 29 February
        return dt.date(year, 2, 28)


def age_on(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(eq=False)
class Patient:
    id: str
    first_name: str
    last_name: str
    born: dt.date
    clinic: str
    pcp: str


@dataclass(eq=False)
class Receipt:
    on: dt.date
    method: str
    source: str
    card_type: str | None = None
    last4: str | None = None
    applications: list[tuple[Encounter, str, Decimal]] = field(default_factory=list)
    number: str = ""

    @property
    def amount(self) -> Decimal:
        return sum((amount for _, _, amount in self.applications), ZERO)


@dataclass(eq=False)
class Line:
    id: str
    kind: str
    amount: Decimal
    on: dt.date
    description: str
    code: str | None = None
    applies_to: str | None = None
    receipt: Receipt | None = None


@dataclass(eq=False)
class Encounter:
    seq: int
    patient: Patient
    on: dt.date
    provider: str
    facility: tuple[str, str]
    description: str
    lines: list[Line] = field(default_factory=list)
    insurance_pending: Decimal = ZERO
    in_collections: bool = False
    adjudicated_on: dt.date | None = None
    id: str = ""

    def add(self, kind: str, amount: Decimal, on: dt.date, description: str, **extra) -> Line:
        line = Line(str(len(self.lines) + 1), kind, money(amount), on, description, **extra)
        self.lines.append(line)
        return line

    @property
    def charges(self) -> list[Line]:
        return [line for line in self.lines if line.kind == "charge"]

    def billed_by(self, day: dt.date) -> bool:
        """On the patient's statements by `day`: adjudicated and not moved to collections."""
        return not self.in_collections and self.adjudicated_on is not None and self.adjudicated_on <= day

    def balance_on(self, day: dt.date) -> Decimal:
        return sum((line.amount for line in self.lines if line.on <= day), ZERO) - self.insurance_pending

    def remaining(self, charge: Line, day: dt.date) -> Decimal:
        return sum(
            (line.amount for line in self.lines
             if line.on <= day and (line is charge or line.applies_to == charge.id)),
            ZERO,
        )


@dataclass(eq=False)
class Statement:
    on: dt.date
    balance: Decimal
    encounters: list[Encounter]


@dataclass(eq=False)
class Appointment:
    patient: Patient
    at: dt.datetime
    provider: str
    location: str
    reason: str
    status: str
    id: str = ""


@dataclass(eq=False)
class Guarantor:
    account: str
    group: str
    role: str | None
    first_name: str
    last_name: str
    born: dt.date
    plan: Plan
    behaviour: str
    cycle_day: int
    preferred_name: str | None = None
    email: str | None = None
    mobile: str | None = None
    sms_opt_out: bool = False
    address: dict | None = None
    escrow: Decimal = ZERO
    unapplied: Decimal = ZERO
    patients: list[Patient] = field(default_factory=list)
    encounters: list[Encounter] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)


class Simulation:
    """The day the ledger is built for, its seeded random source, and the encounter counter."""

    def __init__(self, today: dt.date, seed: int):
        self.today = today
        self.rng = random.Random(seed)
        self.seq = 0
