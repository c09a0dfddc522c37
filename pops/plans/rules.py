"""The payment plan's rules, pure (no database): the schedule, its limits, and how it shrinks.

Money is Decimal to the cent. Instalments are the financed amount divided by the months, rounded
half-up, the last one the rest. The first payment is taken at set-up (the down payment, or else
the first instalment); the next falls on the chosen day of the month at least 14 days later, a
day the month lacks meaning its last day. POPS never charges interest or fees.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ..i18n import N_
from ..money import CENT, ZERO, format_money

FIRST_GAP = dt.timedelta(days=14)  # the first dated instalment is at least this long after set-up
COMPLETE_UNDER = Decimal("1.00")  # a plan with less than this left completes
JOIN_FROM = Decimal("1.00")  # new charges are offered to a plan once they reach this much
TEXT_FROM = dt.time(8, 0)  # automatic texts only from 8:00 to 21:00, the group's time
TEXT_UNTIL = dt.time(21, 0)

MSG_OFF = N_("{group} does not offer payment plans online. Please call {phone}.")
MSG_BALANCE = N_("A payment plan needs a balance of at least {minimum}. Your balance is {balance}.")
MSG_MONTHS = N_("A payment plan can last from 2 to {most} months.")
MSG_INSTALMENT = N_("Each monthly payment must be at least {minimum}. Please choose fewer months.")
MSG_MONTHLY = N_("The monthly amount must be at least {minimum}.")
MSG_DAY = N_("Please choose a day of the month from 1 to 31.")
MSG_CHOOSE = N_("Please choose a number of months or a monthly amount.")
MSG_EXISTING = N_("You already have a payment plan on this balance.")
MSG_JOIN_NO_MONTHS = N_("Your plan has no months left to spread new charges over. Please pay them on Pay.")


class PlanRefused(Exception):
    """The plan cannot be set up as asked; the message says the rule in plain words."""


@dataclass(frozen=True)
class Limits:
    """What the practice allows (its POPS Group options)."""

    min_balance: Decimal
    min_instalment: Decimal
    max_months: int
    down_payment_percent: int = 0


@dataclass(frozen=True)
class Payment:
    due: dt.date
    amount: Decimal


@dataclass(frozen=True)
class Schedule:
    """A plan as the patient sees it before agreeing: every payment, the first one today."""

    balance: Decimal  # the Current Balance without collections: the Total Sale Price
    down_payment: Decimal
    months: int
    day: int
    payments: tuple[Payment, ...]  # the first (today), then the dated instalments

    @property
    def first(self) -> Payment:
        return self.payments[0]

    @property
    def later(self) -> tuple[Payment, ...]:
        return self.payments[1:]

    @property
    def amount_financed(self) -> Decimal:
        return self.balance - self.down_payment

    @property
    def total_of_payments(self) -> Decimal:
        return self.amount_financed  # no finance charge, ever

    @property
    def total_sale_price(self) -> Decimal:
        return self.total_of_payments + self.down_payment

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)


def split(amount: Decimal, months: int) -> list[Decimal]:
    """`amount` in `months` instalments: each amount ÷ months rounded half-up, the last the rest."""
    if months < 1:
        raise ValueError("at least one instalment")
    each = (amount / months).quantize(CENT, rounding=ROUND_HALF_UP)
    return [each] * (months - 1) + [amount - each * (months - 1)]


def day_in_month(year: int, month: int, day: int) -> dt.date:
    """The `day` of a month, or its last day when the month is shorter."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def due_dates(today: dt.date, day: int, count: int) -> list[dt.date]:
    """`count` monthly dates on `day`: the first at least 14 days after `today`, then one a month."""
    earliest = today + FIRST_GAP
    year, month = earliest.year, earliest.month
    if day_in_month(year, month, day) < earliest:
        year, month = _add_months(year, month, 1)
    return [day_in_month(*_add_months(year, month, n), day) for n in range(count)]


def down_payment(balance: Decimal, percent: int) -> Decimal:
    return (balance * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP) if percent else ZERO


def months_for(financed: Decimal, monthly: Decimal) -> int:
    """The months a monthly amount takes to pay `financed` (the last month pays the rest)."""
    return max(1, math.ceil(financed / monthly))


def schedule(balance: Decimal, limits: Limits, today: dt.date, day: int, *, months: int | None = None,
             monthly: Decimal | None = None) -> Schedule:
    """The whole schedule for a balance, by months or by monthly amount; PlanRefused says which rule fails."""
    if balance < limits.min_balance:
        raise PlanRefused(MSG_BALANCE.format(minimum=format_money(limits.min_balance), balance=format_money(balance)))
    if not 1 <= day <= 31:
        raise PlanRefused(MSG_DAY)
    down = down_payment(balance, limits.down_payment_percent)
    financed = balance - down
    if months is None:
        if monthly is None:
            raise PlanRefused(MSG_CHOOSE)
        if monthly < limits.min_instalment:
            raise PlanRefused(MSG_MONTHLY.format(minimum=format_money(limits.min_instalment)))
        months = months_for(financed, monthly)
    if not 2 <= months <= limits.max_months:
        raise PlanRefused(MSG_MONTHS.format(most=limits.max_months))
    amounts = split(financed, months)
    if min(amounts[:-1]) < limits.min_instalment or amounts[-1] <= ZERO:
        raise PlanRefused(MSG_INSTALMENT.format(minimum=format_money(limits.min_instalment)))
    if down:  # the down payment today, then every instalment on its date
        dated = [Payment(d, a) for d, a in zip(due_dates(today, day, months), amounts)]
        first = Payment(today, down)
    else:  # the first instalment today, the others on their dates
        dated = [Payment(d, a) for d, a in zip(due_dates(today, day, months - 1), amounts[1:])]
        first = Payment(today, amounts[0])
    return Schedule(balance, down, months, day, (first, *dated))


def uncovered(current_balance: Decimal, covered: Decimal) -> Decimal:
    """New charges a plan does not cover: what the Current Balance (without collections) exceeds the
    plan's scheduled payments by, when that is $1.00 or more; else zero."""
    extra = current_balance - covered
    return extra if extra >= JOIN_FROM else ZERO


def rejoin(dates: list[dt.date], total: Decimal, limits: Limits, months_before: int) -> tuple[Payment, ...]:
    """The plan's remaining payments once new charges join: `total` (what it still covers plus the new
    charges) re-spread over its remaining dates as a plan is (half-up, the last the rest, all but the
    last at least the smallest instalment), and no more months from the plan's start than allowed
    (`months_before`: the plan's months before these dates). Fewer months when the amounts ask it."""
    count = min(len(dates), limits.max_months - months_before)
    while count > 1 and min(split(total, count)[:-1]) < limits.min_instalment:
        count -= 1
    if count < 1:
        raise PlanRefused(MSG_JOIN_NO_MONTHS)
    return tuple(Payment(d, a) for d, a in zip(dates, split(total, count)))


def reduce_from_last(amounts: list[Decimal], owed: Decimal) -> list[Decimal]:
    """The unpaid instalments after money paid outside the plan: the last ones shrink first, so
    none asks for more than is owed. Instalments already within what is owed stay as they are."""
    excess = sum(amounts, ZERO) - max(owed, ZERO)
    if excess <= 0:
        return list(amounts)
    reduced = list(amounts)
    for i in range(len(reduced) - 1, -1, -1):
        cut = min(reduced[i], excess)
        reduced[i] -= cut
        excess -= cut
        if excess <= 0:
            break
    return reduced


def completes(owed: Decimal) -> bool:
    """A plan completes when less than $1.00 is left to pay."""
    return owed < COMPLETE_UNDER


def may_text(local: dt.datetime) -> bool:
    """Automatic texts (reminders, plan notices) only from 8:00 to 21:00 in the group's time zone."""
    return TEXT_FROM <= local.time() < TEXT_UNTIL


def next_text_time(local: dt.datetime) -> dt.datetime:
    """When an automatic text asked for at `local` (an aware time in the group's zone) may go out."""
    if may_text(local):
        return local
    day = local.date() if local.time() < TEXT_FROM else local.date() + dt.timedelta(days=1)
    naive = dt.datetime.combine(day, TEXT_FROM)
    return naive.replace(tzinfo=local.tzinfo)
