"""Money as Decimal (pops/money.py), one row per rule: the import format, typed amounts, cents, rounding, display."""
from __future__ import annotations

from decimal import Decimal

import pytest

from pops.money import format_money, from_cents, parse_amount_input, parse_money, quantize, to_cents

D = Decimal


@pytest.mark.parametrize("text, value", [
    ("25.00", "25.00"),
    ("-110.00", "-110.00"),
    ("0.01", "0.01"),
    ("1234567890.99", "1234567890.99"),  # ten digits before the point, the most the format allows
])
def test_the_import_format_is_digits_a_point_and_two_decimals(text, value):
    assert parse_money(text) == D(value)
    assert str(parse_money(text)) == value


@pytest.mark.parametrize("text", [
    "25.0",  # one decimal place: the format demands two
    "25",
    "25.000",
    "+25.00",
    "1,234.00",
    "$25.00",
    " 25.00",
    "25.00 ",
    ".50",
    "12345678901.00",  # eleven digits
    "",
    "NaN",
    None,
    25,
    D("25.00"),
])
def test_the_import_format_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_money(text)


@pytest.mark.parametrize("typed, value", [
    ("20", "20.00"),
    ("$ 20", "20.00"),
    ("  $20.00 ", "20.00"),
    ("$1,234.5", "1234.50"),
    ("1,234,567.89", "1234567.89"),
    (".5", "0.50"),
    ("0.01", "0.01"),
    ("1234567890", "1234567890.00"),
])
def test_a_typed_amount_forgives_dollar_sign_spaces_and_thousands_commas(typed, value):
    amount = parse_amount_input(typed)
    assert amount == D(value)
    assert str(amount) == value  # always two decimal places


@pytest.mark.parametrize("typed", [
    "1234,567",  # a comma that is not a thousands separator
    "1,23",
    "12,34.00",
    ",123",
    "1.234",  # three decimals
    "20.",
    "-5.00",
    "12345678901",
    "abc",
    "",
    None,
    "NaN",
    "1e3",
])
def test_a_typed_amount_refuses_what_is_not_one(typed):
    with pytest.raises(ValueError):
        parse_amount_input(typed)


@pytest.mark.parametrize("amount, cents", [
    (D("123.45"), 12345),
    (D("0.01"), 1),
    (D("-5.00"), -500),
    (D("0"), 0),
    (D("7"), 700),
    ("19.99", 1999),  # a string of a decimal is a Decimal's text
    (3, 300),
])
def test_to_cents_is_exact(amount, cents):
    assert to_cents(amount) == cents
    assert type(to_cents(amount)) is int


@pytest.mark.parametrize("amount, why", [
    (D("0.001"), "fraction of a cent"),
    (D("1.005"), "fraction of a cent"),
    (1.5, "never a float"),
    ("ten", "not an amount"),
    (None, "not an amount"),
])
def test_to_cents_refuses_fractions_of_a_cent_floats_and_non_amounts(amount, why):
    with pytest.raises(ValueError, match=why):
        to_cents(amount)


@pytest.mark.parametrize("cents, amount", [(12345, "123.45"), (1, "0.01"), (-500, "-5.00"), (0, "0.00"), (None, "0.00")])
def test_from_cents_moves_the_point_two_places(cents, amount):
    value = from_cents(cents)
    assert value == D(amount)
    assert str(value) == amount


@pytest.mark.parametrize("amount, rounded", [
    ("2.345", "2.35"),  # half up, not half even
    ("2.355", "2.36"),
    ("2.344", "2.34"),
    ("-2.345", "-2.35"),  # half away from zero
    ("7", "7.00"),
])
def test_quantize_rounds_half_up_to_the_cent(amount, rounded):
    assert str(quantize(D(amount))) == rounded


@pytest.mark.parametrize("amount, shown", [
    ("1234.56", "$1,234.56"),
    ("1234567.5", "$1,234,567.50"),
    ("0", "$0.00"),
    ("0.005", "$0.01"),
    ("-5", "-$5.00"),
    ("-0.50", "-$0.50"),
    ("-0.001", "$0.00"),  # rounds to zero: no minus sign on nothing
    ("999.995", "$1,000.00"),
])
def test_money_is_shown_as_dollars_with_thousands_commas(amount, shown):
    assert format_money(D(amount)) == shown


@pytest.mark.parametrize("parse, text, message", [
    (parse_money, "25.0", "not a money string with two decimal places: '25.0'"),
    (parse_amount_input, "1234,567", "not an amount: '1234,567'"),
    (to_cents, 1.5, "money is never a float"),
    (to_cents, D("0.001"), "fraction of a cent: 0.001"),
    (to_cents, "ten", "not an amount: 'ten'"),
])
def test_a_refusal_says_what_was_refused(parse, text, message):
    with pytest.raises(ValueError) as refused:
        parse(text)
    assert str(refused.value) == message
