"""The payment plan's rules, table by table: instalments to the cent, dates, limits, shrinking, texts."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from pops.plans import rules
from pops.plans.rules import Limits, PlanRefused

LIMITS = Limits(min_balance=D("100.00"), min_instalment=D("25.00"), max_months=12)


@pytest.mark.parametrize("amount, months, expected", [
    ("65.00", 3, ["21.67", "21.67", "21.66"]),
    ("100.00", 3, ["33.33", "33.33", "33.34"]),
    ("100.00", 4, ["25.00", "25.00", "25.00", "25.00"]),
    ("100.01", 2, ["50.01", "50.00"]),  # 50.005 rounds half-up
    ("0.05", 3, ["0.02", "0.02", "0.01"]),
    ("1234.56", 12, ["102.88"] * 11 + ["102.88"]),
    ("1000.00", 7, ["142.86"] * 6 + ["142.84"]),
])
def test_instalments_round_half_up_and_the_last_is_the_rest(amount, months, expected):
    parts = rules.split(D(amount), months)
    assert parts == [D(e) for e in expected]
    assert sum(parts) == D(amount)


@pytest.mark.parametrize("today, day, expected", [
    ("2026-11-23", 15, ["2026-12-15", "2027-01-15", "2027-02-15"]),  # 14 days later is Dec 7
    ("2026-11-23", 7, ["2026-12-07", "2027-01-07", "2027-02-07"]),  # exactly 14 days later
    ("2026-11-23", 6, ["2027-01-06", "2027-02-06", "2027-03-06"]),  # Dec 6 is too soon
    ("2026-12-20", 31, ["2027-01-31", "2027-02-28", "2027-03-31"]),  # February's last day
    ("2027-12-20", 30, ["2028-01-30", "2028-02-29", "2028-03-30"]),  # a leap year's Feb 29
    ("2027-12-20", 29, ["2028-01-29", "2028-02-29", "2028-03-29"]),
    ("2026-01-20", 29, ["2026-02-28", "2026-03-29", "2026-04-29"]),  # no Feb 29 in 2026
    ("2026-03-25", 31, ["2026-04-30", "2026-05-31", "2026-06-30"]),  # April has 30 days
    ("2026-12-01", 1, ["2027-01-01", "2027-02-01", "2027-03-01"]),  # across the year
])
def test_due_dates_on_the_chosen_day_at_least_14_days_on_short_months_take_their_last_day(today, day, expected):
    dates = rules.due_dates(dt.date.fromisoformat(today), day, 3)
    assert dates == [dt.date.fromisoformat(d) for d in expected]


def test_a_schedule_without_down_payment_takes_the_first_instalment_today():
    plan = rules.schedule(D("100.00"), LIMITS, dt.date(2026, 11, 23), 15, months=3)
    assert [(p.due.isoformat(), p.amount) for p in plan.payments] == [
        ("2026-11-23", D("33.33")), ("2026-12-15", D("33.33")), ("2027-01-15", D("33.34"))]
    assert plan.total == plan.balance == plan.total_sale_price == D("100.00")
    assert plan.down_payment == D("0.00") and plan.amount_financed == D("100.00")


def test_a_schedule_with_a_down_payment_takes_it_today_and_every_instalment_later():
    limits = Limits(D("100.00"), D("25.00"), 12, down_payment_percent=10)
    plan = rules.schedule(D("500.00"), limits, dt.date(2026, 11, 23), 31, months=4)
    assert plan.first == rules.Payment(dt.date(2026, 11, 23), D("50.00"))
    assert [(p.due.isoformat(), p.amount) for p in plan.later] == [
        ("2026-12-31", D("112.50")), ("2027-01-31", D("112.50")), ("2027-02-28", D("112.50")),
        ("2027-03-31", D("112.50"))]
    assert plan.amount_financed == plan.total_of_payments == D("450.00")
    assert plan.total_sale_price == plan.total == D("500.00")


def test_a_monthly_amount_gives_the_months_and_an_even_split():
    plan = rules.schedule(D("250.00"), LIMITS, dt.date(2026, 11, 23), 1, monthly=D("60.00"))
    assert plan.months == 5
    assert [p.amount for p in plan.payments] == [D("50.00")] * 5


@pytest.mark.parametrize("balance, kwargs, message", [
    ("99.99", {"months": 3}, "at least $100.00"),
    ("300.00", {"months": 13}, "from 2 to 12 months"),
    ("300.00", {"months": 1}, "from 2 to 12 months"),
    ("290.00", {"months": 12}, "at least $25.00. Please choose fewer months"),
    ("300.00", {"monthly": D("24.99")}, "monthly amount must be at least $25.00"),
    ("600.00", {"monthly": D("25.00")}, "from 2 to 12 months"),  # 24 months
    ("300.00", {}, "Please choose a number of months"),
])
def test_what_the_practice_does_not_allow_is_refused_with_the_rule(balance, kwargs, message):
    with pytest.raises(PlanRefused, match=re.escape(message)):
        rules.schedule(D(balance), LIMITS, dt.date(2026, 11, 23), 15, **kwargs)


@pytest.mark.parametrize("day", [0, 32, -1])
def test_a_day_outside_the_month_is_refused(day):
    with pytest.raises(PlanRefused, match="day of the month"):
        rules.schedule(D("300.00"), LIMITS, dt.date(2026, 11, 23), day, months=3)


@pytest.mark.parametrize("amounts, owed, expected", [
    (["33.33", "33.34"], "66.67", ["33.33", "33.34"]),  # nothing paid outside
    (["33.33", "33.34"], "50.00", ["33.33", "16.67"]),  # the last shrinks first
    (["25.00", "25.00", "25.00"], "30.00", ["25.00", "5.00", "0.00"]),
    (["25.00", "25.00"], "0.00", ["0.00", "0.00"]),  # the balance went to zero
    (["25.00", "25.00"], "-5.00", ["0.00", "0.00"]),  # a credit: nothing owed
    (["25.00", "25.00"], "80.00", ["25.00", "25.00"]),  # new charges do not join by themselves
])
def test_payments_outside_the_plan_reduce_the_last_instalments_first(amounts, owed, expected):
    assert rules.reduce_from_last([D(a) for a in amounts], D(owed)) == [D(e) for e in expected]


@pytest.mark.parametrize("owed, done", [("0.99", True), ("0.00", True), ("1.00", False), ("25.00", False)])
def test_a_plan_completes_under_one_dollar(owed, done):
    assert rules.completes(D(owed)) is done


CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize("local, allowed, at", [
    ("2026-11-23 07:59", False, "2026-11-23 08:00"),
    ("2026-11-23 08:00", True, "2026-11-23 08:00"),
    ("2026-11-23 20:59", True, "2026-11-23 20:59"),
    ("2026-11-23 21:00", False, "2026-11-24 08:00"),
    ("2026-11-23 23:30", False, "2026-11-24 08:00"),
    ("2027-03-13 22:00", False, "2027-03-14 08:00"),  # the night clocks go forward
    ("2026-11-01 01:30", False, "2026-11-01 08:00"),  # the night clocks go back
])
def test_automatic_texts_only_from_8_to_21_in_the_groups_time(local, allowed, at):
    moment = dt.datetime.fromisoformat(local).replace(tzinfo=CHICAGO)
    assert rules.may_text(moment) is allowed
    later = rules.next_text_time(moment)
    assert later.replace(tzinfo=None) == dt.datetime.fromisoformat(at)
    assert rules.may_text(later.astimezone(dt.timezone.utc).astimezone(CHICAGO))


def test_dst_the_day_of_an_instant_is_the_groups_day():
    # 05:30 UTC on 2027-03-14 is 23:30 CST on the 13th: the group's day decides, not UTC's.
    instant = dt.datetime(2027, 3, 14, 5, 30, tzinfo=dt.timezone.utc)
    assert instant.astimezone(CHICAGO).date() == dt.date(2027, 3, 13)
    assert rules.due_dates(instant.astimezone(CHICAGO).date(), 27, 1) == [dt.date(2027, 3, 27)]


@pytest.mark.parametrize("balance, covered, expected", [
    ("350.00", "200.00", "150.00"),  # new charges of $150.00
    ("201.00", "200.00", "1.00"),  # exactly $1.00: offered
    ("200.99", "200.00", "0"),  # under $1.00: not offered
    ("200.00", "200.00", "0"),
    ("150.00", "200.00", "0"),  # paid outside the plan: nothing to add
])
def test_new_charges_are_offered_from_one_dollar_above_what_the_plan_covers(balance, covered, expected):
    assert rules.uncovered(D(balance), D(covered)) == D(expected)


DEC15, JAN15, FEB15 = dt.date(2026, 12, 15), dt.date(2027, 1, 15), dt.date(2027, 2, 15)


@pytest.mark.parametrize("dates, total, months_before, expected", [
    ([DEC15, JAN15], "350.00", 1, [(DEC15, "175.00"), (JAN15, "175.00")]),  # the remaining months, dates kept
    ([DEC15, JAN15, FEB15], "100.01", 1, [(DEC15, "33.34"), (JAN15, "33.34"), (FEB15, "33.33")]),  # half-up, the rest
    ([DEC15, JAN15, FEB15], "60.00", 1, [(DEC15, "30.00"), (JAN15, "30.00")]),  # each at least $25.00: fewer months
    ([DEC15, JAN15, FEB15], "20.00", 1, [(DEC15, "20.00")]),  # one month left: it takes the whole
    ([DEC15, JAN15, FEB15], "300.00", 10, [(DEC15, "150.00"), (JAN15, "150.00")]),  # 12 months from the start at most
    ([JAN15], "80.00", 2, [(JAN15, "80.00")]),
])
def test_new_charges_are_re_spread_over_the_remaining_months(dates, total, months_before, expected):
    payments = rules.rejoin(dates, D(total), LIMITS, months_before)
    assert [(p.due, p.amount) for p in payments] == [(d, D(a)) for d, a in expected]
    assert sum(p.amount for p in payments) == D(total)


@pytest.mark.parametrize("dates, months_before", [([], 3), ([DEC15], 12)])
def test_new_charges_cannot_join_a_plan_without_months_left(dates, months_before):
    with pytest.raises(PlanRefused, match="no months left"):
        rules.rejoin(dates, D("100.00"), LIMITS, months_before)
