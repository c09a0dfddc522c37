"""The money rules of PRODUCT.md ("Money on an account", "Business rules"), one row per rule."""
from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from pops.balances import (
    MINIMUM_PAYMENT,
    AccountFacts,
    Balances,
    EncounterFacts,
    PaymentFacts,
    StatementFacts,
    check_amount,
    compute,
    eligibility,
    encounter_balance,
    last_statement,
    pay_options,
    statement_is_paid,
)

D = Decimal
GROUP = "Sunrise Pediatrics"
STMT_DAY = datetime.date(2025, 3, 1)
BEFORE = datetime.date(2025, 2, 15)
AFTER = datetime.date(2025, 3, 10)


def enc(
    id: str,
    total: str,
    date: datetime.date = BEFORE,
    pending: str = "0.00",
    applied: str = "0.00",
    collections: bool = False,
) -> EncounterFacts:
    return EncounterFacts(
        id=id,
        date=date,
        lines_total=D(total),
        insurance_pending=D(pending),
        pops_applied=D(applied),
        in_collections=collections,
    )


def stmt(number: str, amount_due: str, balance: str | None = None, date: datetime.date = STMT_DAY) -> StatementFacts:
    return StatementFacts(
        number=number,
        date=date,
        due_date=date + datetime.timedelta(days=30),
        balance=D(balance if balance is not None else amount_due),
        amount_due=D(amount_due),
    )


def pay(amount: str, date: datetime.date = AFTER) -> PaymentFacts:
    return PaymentFacts(date=date, amount=D(amount))


def bal(
    current: str = "0.00",
    due: str = "0.00",
    collections: str = "0.00",
    escrow: str = "0.00",
    unapplied: str = "0.00",
) -> Balances:
    return Balances(
        statement_balance=D("0.00"),
        amount_due=D(due),
        current_balance=D(current),
        unapplied=D(unapplied),
        escrow=D(escrow),
        collections=D(collections),
        last_statement=None,
    )


# --- Encounter patient balance ------------------------------------------------------------

@pytest.mark.parametrize(
    "encounter, expected",
    [
        pytest.param(enc("E1", "100.00"), "100.00", id="balance_is_sum_of_lines"),
        pytest.param(enc("E1", "100.00", pending="30.00"), "70.00", id="less_insurance_pending"),
        pytest.param(enc("E1", "100.00", applied="25.00"), "75.00", id="less_pops_applied"),
        pytest.param(enc("E1", "100.00", pending="30.00", applied="25.00"), "45.00", id="less_both"),
        pytest.param(enc("E1", "50.00", applied="60.00"), "-10.00", id="overpaid_encounter_is_negative"),
        pytest.param(enc("E1", "100"), "100.00", id="quantized_to_cents"),
    ],
)
def test_encounter_balance(encounter: EncounterFacts, expected: str) -> None:
    assert str(encounter_balance(encounter)) == expected


# --- Account balances ---------------------------------------------------------------------

OLD = enc("E1", "300.00")  # a visit before the statement, so there is a Current Balance to clamp to


def facts(*, encounters=(OLD,), statements=(), payments=(), escrow="0.00", unapplied="0.00") -> AccountFacts:
    return AccountFacts(
        encounters=tuple(encounters),
        statements=tuple(statements),
        patient_payments=tuple(payments),
        escrow=D(escrow),
        unapplied=D(unapplied),
    )


# (statement_balance, amount_due, current_balance, collections), as exact strings
COMPUTE_ROWS = [
    # Current Balance
    pytest.param(facts(encounters=[enc("E1", "100.00"), enc("E2", "50.00")]), False,
                 ("0.00", "0.00", "150.00", "0.00"), id="current_balance_sums_open_encounters"),
    pytest.param(facts(encounters=[enc("E1", "100.00"), enc("E2", "-30.00")]), False,
                 ("0.00", "0.00", "100.00", "0.00"), id="current_balance_credit_does_not_offset_debts"),
    pytest.param(facts(encounters=[enc("E1", "-30.00")]), False,
                 ("0.00", "0.00", "0.00", "0.00"), id="current_balance_never_negative"),
    pytest.param(facts(encounters=[enc("E1", "200.00", pending="150.00")]), False,
                 ("0.00", "0.00", "50.00", "0.00"), id="current_balance_less_insurance_pending"),
    pytest.param(facts(encounters=[enc("E1", "200.00", applied="60.00")]), False,
                 ("0.00", "0.00", "140.00", "0.00"), id="current_balance_less_pops_applied"),
    pytest.param(facts(encounters=[OLD, enc("E2", "70.00", date=AFTER)], statements=[stmt("S1", "120.00")]), False,
                 ("120.00", "120.00", "370.00", "0.00"), id="current_balance_includes_visits_since_statement"),
    # Collections
    pytest.param(facts(encounters=[enc("E1", "100.00"), enc("E2", "40.00", collections=True),
                                   enc("E3", "20.00", collections=True)]), False,
                 ("0.00", "0.00", "100.00", "60.00"), id="collections_moved_out_of_current_balance"),
    pytest.param(facts(encounters=[enc("E1", "-10.00", collections=True), enc("E2", "40.00", collections=True)]),
                 False, ("0.00", "0.00", "0.00", "40.00"), id="collections_credit_does_not_offset"),
    # Statement Balance
    pytest.param(facts(statements=[stmt("S1", "120.00", balance="180.00")]), False,
                 ("180.00", "120.00", "300.00", "0.00"), id="statement_balance_is_last_statements_balance"),
    pytest.param(facts(), False,
                 ("0.00", "0.00", "300.00", "0.00"), id="no_statement_no_amount_due"),
    pytest.param(facts(encounters=[OLD, enc("E2", "50.00", collections=True)]), True,
                 ("0.00", "300.00", "300.00", "50.00"), id="no_statement_with_new_charges_due_is_current_balance"),
    # Amount Due less payments after the statement
    pytest.param(facts(statements=[stmt("S1", "120.00")], payments=[pay("20.00", AFTER)]), False,
                 ("120.00", "100.00", "300.00", "0.00"), id="amount_due_less_payment_after_statement"),
    pytest.param(facts(statements=[stmt("S1", "120.00")], payments=[pay("20.00", STMT_DAY)]), False,
                 ("120.00", "120.00", "300.00", "0.00"), id="payment_on_statement_date_not_deducted"),
    pytest.param(facts(statements=[stmt("S1", "120.00")], payments=[pay("20.00", BEFORE)]), False,
                 ("120.00", "120.00", "300.00", "0.00"), id="payment_before_statement_not_deducted"),
    pytest.param(facts(statements=[stmt("S1", "120.00")], payments=[pay("50.00"), pay("-50.00")]), False,
                 ("120.00", "120.00", "300.00", "0.00"), id="payment_reversal_restores_amount_due"),
    pytest.param(facts(statements=[stmt("S1", "120.00")], payments=[pay("20.00"), pay("30.00")]), True,
                 ("120.00", "70.00", "300.00", "0.00"), id="amount_due_less_payments_with_new_charges"),
    # Include New Charges in Amount Due
    pytest.param(facts(encounters=[OLD, enc("E2", "70.00", date=AFTER)], statements=[stmt("S1", "120.00")]), True,
                 ("120.00", "190.00", "370.00", "0.00"), id="new_charges_add_encounters_after_statement"),
    pytest.param(facts(encounters=[OLD, enc("E2", "70.00", date=STMT_DAY)], statements=[stmt("S1", "120.00")]), True,
                 ("120.00", "120.00", "370.00", "0.00"), id="new_charges_skip_encounter_on_statement_date"),
    pytest.param(facts(encounters=[OLD, enc("E2", "70.00", date=AFTER, collections=True)],
                       statements=[stmt("S1", "120.00")]), True,
                 ("120.00", "120.00", "300.00", "70.00"), id="new_charges_skip_collections"),
    pytest.param(facts(encounters=[OLD, enc("E2", "-30.00", date=AFTER)], statements=[stmt("S1", "120.00")]), True,
                 ("120.00", "120.00", "300.00", "0.00"), id="new_charges_credit_does_not_reduce_due"),
    pytest.param(facts(encounters=[OLD, enc("E2", "100.00", date=AFTER, pending="80.00", applied="5.00")],
                       statements=[stmt("S1", "120.00")]), True,
                 ("120.00", "135.00", "315.00", "0.00"), id="new_charges_net_of_pending_and_applied"),
    # Clamping
    pytest.param(facts(statements=[stmt("S1", "120.00")], payments=[pay("150.00")]), False,
                 ("120.00", "0.00", "300.00", "0.00"), id="amount_due_never_below_zero"),
    pytest.param(facts(statements=[stmt("S1", "500.00")]), False,
                 ("500.00", "300.00", "300.00", "0.00"), id="amount_due_never_above_current_balance"),
    pytest.param(facts(encounters=[enc("E1", "300.00", applied="250.00"), enc("E2", "70.00", date=AFTER)],
                       statements=[stmt("S1", "300.00")]), True,
                 ("300.00", "120.00", "120.00", "0.00"), id="amount_due_with_new_charges_capped_at_current"),
    pytest.param(facts(encounters=[enc("E1", "100.00", collections=True)], statements=[stmt("S1", "100.00")]),
                 False, ("100.00", "0.00", "0.00", "100.00"), id="amount_due_zero_when_all_in_collections"),
    # Several statements
    pytest.param(facts(statements=[stmt("S2", "90.00", date=STMT_DAY), stmt("S1", "40.00", date=BEFORE),
                                   stmt("S0", "10.00", date=BEFORE - datetime.timedelta(days=30))]), False,
                 ("90.00", "90.00", "300.00", "0.00"), id="latest_statement_by_date_whatever_the_order"),
    pytest.param(facts(statements=[stmt("S1", "40.00", date=BEFORE), stmt("S2", "90.00", date=STMT_DAY)],
                       payments=[pay("25.00", datetime.date(2025, 2, 20))]), False,
                 ("90.00", "90.00", "300.00", "0.00"), id="payment_before_latest_statement_not_deducted"),
]


@pytest.mark.parametrize("account, include_new_charges, expected", COMPUTE_ROWS)
def test_compute(account: AccountFacts, include_new_charges: bool, expected: tuple[str, str, str, str]) -> None:
    b = compute(account, include_new_charges=include_new_charges)
    got = (str(b.statement_balance), str(b.amount_due), str(b.current_balance), str(b.collections))
    assert got == expected


def test_compute_reports_the_latest_statement() -> None:
    latest = stmt("S2", "90.00", date=STMT_DAY)
    b = compute(facts(statements=[latest, stmt("S1", "40.00", date=BEFORE)]))
    assert b.last_statement == latest


def test_no_statement_means_no_last_statement() -> None:
    assert compute(facts()).last_statement is None


def test_unapplied_and_escrow_pass_through_in_cents() -> None:
    b = compute(facts(escrow="12.5", unapplied="7"))
    assert (str(b.escrow), str(b.unapplied)) == ("12.50", "7.00")


def test_empty_account_is_all_zero_cents() -> None:
    b = compute(AccountFacts(), include_new_charges=True)
    assert [str(x) for x in (b.statement_balance, b.amount_due, b.current_balance, b.collections,
                             b.unapplied, b.escrow)] == ["0.00"] * 6


# --- Cents never drift --------------------------------------------------------------------

def test_thousand_dimes_make_exactly_one_hundred_dollars() -> None:
    # With floats, 1000 × 0.1 sums to 99.9999999999986.
    encounters = [enc(f"E{i}", "0.10") for i in range(1000)]
    b = compute(facts(encounters=encounters))
    assert str(b.current_balance) == "100.00"


def test_thousand_dime_payments_settle_a_hundred_dollar_statement_exactly() -> None:
    payments = [pay("0.10") for _ in range(1000)]
    s = stmt("S1", "100.00")
    b = compute(facts(statements=[s], payments=payments))
    assert str(b.amount_due) == "0.00"
    assert statement_is_paid(s, payments)


def test_point_one_plus_point_two_is_point_three() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floats; the Amount Due must land on a whole cent.
    s = stmt("S1", "1.30")
    b = compute(facts(statements=[s], payments=[pay("0.10"), pay("0.20"), pay("0.70")]))
    assert str(b.amount_due) == "0.30"
    assert not statement_is_paid(s, [pay("0.10"), pay("0.20"), pay("0.70"), pay("0.29")])
    assert statement_is_paid(s, [pay("0.10"), pay("0.20"), pay("0.70"), pay("0.30")])


def test_float_money_is_refused() -> None:
    with pytest.raises(TypeError):
        compute(AccountFacts(encounters=(EncounterFacts("E1", BEFORE, 0.1),)))  # type: ignore[arg-type]


# --- Last statement -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "statements, expected",
    [
        pytest.param([], None, id="none_without_statements"),
        pytest.param([stmt("S1", "1.00")], "S1", id="the_only_statement"),
        pytest.param([stmt("S1", "1.00", date=STMT_DAY), stmt("S9", "1.00", date=BEFORE)], "S1",
                     id="latest_date_wins_over_higher_number"),
        pytest.param([stmt("A", "1.00", date=BEFORE), stmt("B", "1.00", date=AFTER), stmt("C", "1.00", date=STMT_DAY)],
                     "B", id="latest_date_in_any_order"),
        pytest.param([stmt("S0002", "1.00"), stmt("S0001", "1.00")], "S0002", id="same_date_higher_number_wins"),
        pytest.param([stmt("S10", "1.00"), stmt("S9", "1.00")], "S10", id="same_date_numbers_compared_naturally"),
        pytest.param([stmt("9", "1.00"), stmt("10", "1.00"), stmt("B1", "1.00")], "B1",
                     id="same_date_mixed_numbers_do_not_crash"),
    ],
)
def test_last_statement(statements: list[StatementFacts], expected: str | None) -> None:
    found = last_statement(statements)
    assert (found.number if found else None) == expected


def test_last_statement_takes_any_iterable() -> None:
    found = last_statement(s for s in [stmt("S1", "1.00", date=BEFORE), stmt("S2", "1.00")])
    assert found is not None and found.number == "S2"


# --- Statement paid -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "amount_due, payments, paid",
    [
        pytest.param("100.00", [pay("100.00")], True, id="paid_when_payments_after_cover_amount_due"),
        pytest.param("100.00", [pay("60.00"), pay("40.00")], True, id="several_payments_add_up"),
        pytest.param("100.00", [pay("150.00")], True, id="overpaid_is_paid"),
        pytest.param("100.00", [pay("99.99")], False, id="short_by_a_cent_is_unpaid"),
        pytest.param("100.00", [pay("100.00", STMT_DAY)], False, id="payment_on_statement_date_not_counted"),
        pytest.param("100.00", [pay("100.00", BEFORE)], False, id="payment_before_statement_not_counted"),
        pytest.param("100.00", [pay("100.00"), pay("-100.00")], False, id="reversal_undoes_payment"),
        pytest.param("100.00", [], False, id="no_payments_is_unpaid"),
        pytest.param("0.00", [], True, id="nothing_due_is_paid"),
    ],
)
def test_statement_is_paid(amount_due: str, payments: list[PaymentFacts], paid: bool) -> None:
    assert statement_is_paid(stmt("S1", amount_due), payments) is paid


# --- Eligibility --------------------------------------------------------------------------

COLLECTIONS_MSG = "Your balance is with our collection agency. Please call Sunrise Pediatrics to arrange payment."
ZERO_MSG = "You have no balance due. Thank you!"
NOT_POSSIBLE_MSG = "Payment Not Possible: Please contact Sunrise Pediatrics to make a payment at this time."
UNDER_MIN_MSG = "Balances under $1.00 cannot be paid online. Please call Sunrise Pediatrics."


@pytest.mark.parametrize(
    "balances, reason, message",
    [
        pytest.param(bal(current="50.00"), None, None, id="allowed_with_open_balance"),
        pytest.param(bal(current="1.00"), None, None, id="allowed_at_exactly_minimum"),
        pytest.param(bal(collections="40.00"), "collections_only", COLLECTIONS_MSG, id="collections_only"),
        pytest.param(bal(), "zero_balance", ZERO_MSG, id="zero_balance"),
        pytest.param(bal(current="50.00", escrow="10.00"), "escrow", NOT_POSSIBLE_MSG, id="escrow_blocks"),
        pytest.param(bal(current="50.00", unapplied="5.00"), "unapplied", NOT_POSSIBLE_MSG, id="unapplied_blocks"),
        pytest.param(bal(current="0.99"), "under_minimum", UNDER_MIN_MSG, id="under_minimum"),
        pytest.param(bal(current="0.01"), "under_minimum", UNDER_MIN_MSG, id="one_cent_is_under_minimum"),
        pytest.param(bal(current="50.00", collections="40.00"), None, None, id="collections_with_open_balance_allowed"),
        # Order of precedence
        pytest.param(bal(escrow="10.00"), "zero_balance", ZERO_MSG, id="zero_balance_before_escrow"),
        pytest.param(bal(unapplied="10.00"), "zero_balance", ZERO_MSG, id="zero_balance_before_unapplied"),
        pytest.param(bal(collections="40.00", escrow="10.00", unapplied="5.00"), "collections_only", COLLECTIONS_MSG,
                     id="collections_only_before_escrow_and_unapplied"),
        pytest.param(bal(current="50.00", escrow="10.00", unapplied="5.00"), "escrow", NOT_POSSIBLE_MSG,
                     id="escrow_before_unapplied"),
        pytest.param(bal(current="0.50", escrow="10.00"), "escrow", NOT_POSSIBLE_MSG, id="escrow_before_minimum"),
        pytest.param(bal(current="0.50", unapplied="10.00"), "unapplied", NOT_POSSIBLE_MSG,
                     id="unapplied_before_minimum"),
        pytest.param(bal(current="0.50", collections="40.00"), "under_minimum", UNDER_MIN_MSG,
                     id="collections_with_small_open_balance_is_under_minimum"),
    ],
)
def test_eligibility(balances: Balances, reason: str | None, message: str | None) -> None:
    result = eligibility(balances, GROUP)
    assert (result.allowed, result.reason, result.message) == (reason is None, reason, message)


def test_group_name_is_inserted_literally() -> None:
    result = eligibility(bal(current="50.00", escrow="1.00"), "Dr. {Smith} & Sons")
    assert result.message == (
        "Payment Not Possible: Please contact Dr. {Smith} & Sons to make a payment at this time."
    )


def test_minimum_payment_is_one_dollar() -> None:
    assert MINIMUM_PAYMENT == D("1.00")


# --- Pay options --------------------------------------------------------------------------

AMOUNT_DUE = ("amount_due", "Amount Due")
CURRENT = ("current_balance", "Current Balance")
OTHER = ("other", "Other Amount", None)


@pytest.mark.parametrize(
    "balances, show_current_balance, expected",
    [
        pytest.param(bal(current="100.00", due="40.00"), True,
                     [(*AMOUNT_DUE, D("40.00")), (*CURRENT, D("100.00")), OTHER], id="show_current_on_offers_all"),
        pytest.param(bal(current="100.00", due="100.00"), True,
                     [(*AMOUNT_DUE, D("100.00")), (*CURRENT, D("100.00")), OTHER],
                     id="current_offered_even_when_equal_to_due"),
        pytest.param(bal(current="100.00"), True, [(*CURRENT, D("100.00")), OTHER], id="no_amount_due_option_at_zero"),
        pytest.param(bal(current="100.00", due="40.00"), False, [(*AMOUNT_DUE, D("40.00"))],
                     id="show_current_off_offers_amount_due_only"),
        pytest.param(bal(current="100.00"), False, [], id="show_current_off_nothing_due_nothing_offered"),
        pytest.param(bal(current="100.00", due="40.00", escrow="5.00"), True, [], id="not_allowed_offers_nothing"),
        pytest.param(bal(current="100.00", due="40.00", unapplied="5.00"), False, [],
                     id="not_allowed_offers_nothing_show_current_off"),
        pytest.param(bal(collections="50.00"), True, [], id="collections_only_offers_nothing"),
        pytest.param(bal(current="0.99", due="0.99"), True, [], id="under_minimum_offers_nothing"),
    ],
)
def test_pay_options(balances: Balances, show_current_balance: bool, expected: list[tuple]) -> None:
    options = pay_options(balances, show_current_balance=show_current_balance)
    assert [(o.key, o.label, o.amount) for o in options] == expected


# --- Amount checks ------------------------------------------------------------------------

OPEN = bal(current="250.00", due="80.00")
RANGE_MSG = "Please enter an amount from $1.00 to $250.00."
DUE_MSG = "Please pay the Amount Due of $80.00."


@pytest.mark.parametrize(
    "amount, balances, show_current_balance, expected",
    [
        pytest.param(D("0.99"), OPEN, True, RANGE_MSG, id="under_minimum_refused"),
        pytest.param(D("1.00"), OPEN, True, None, id="minimum_accepted"),
        pytest.param(D("80.00"), OPEN, True, None, id="amount_due_accepted"),
        pytest.param(D("123.45"), OPEN, True, None, id="other_amount_accepted"),
        pytest.param(D("250.00"), OPEN, True, None, id="current_balance_accepted"),
        pytest.param(D("250.01"), OPEN, True, RANGE_MSG, id="over_current_balance_refused"),
        pytest.param(D("1.005"), OPEN, True, RANGE_MSG, id="three_decimal_places_refused"),
        pytest.param(D("249.999"), OPEN, True, RANGE_MSG, id="fraction_of_cent_below_max_refused"),
        pytest.param(D("10.000"), OPEN, True, None, id="trailing_zero_is_whole_cents"),
        pytest.param(D("10"), OPEN, True, None, id="whole_dollars_accepted"),
        pytest.param(D("0.00"), OPEN, True, RANGE_MSG, id="zero_refused"),
        pytest.param(D("-5.00"), OPEN, True, RANGE_MSG, id="negative_refused"),
        pytest.param(D("NaN"), OPEN, True, RANGE_MSG, id="nan_refused"),
        pytest.param(D("Infinity"), OPEN, True, RANGE_MSG, id="infinity_refused"),
        pytest.param(D("1E+40"), OPEN, True, RANGE_MSG, id="huge_amount_refused"),
        pytest.param(10.0, OPEN, True, RANGE_MSG, id="float_refused"),
        pytest.param(D("1234.56"), bal(current="1234.56"), True, None, id="large_current_balance_accepted"),
        pytest.param(D("1234.57"), bal(current="1234.56"), True, "Please enter an amount from $1.00 to $1,234.56.",
                     id="max_formatted_as_money"),
        # Show Current Balance off: only the Amount Due
        pytest.param(D("80.00"), OPEN, False, None, id="show_current_off_amount_due_accepted"),
        pytest.param(D("79.99"), OPEN, False, DUE_MSG, id="show_current_off_less_refused"),
        pytest.param(D("80.01"), OPEN, False, DUE_MSG, id="show_current_off_more_refused"),
        pytest.param(D("250.00"), OPEN, False, DUE_MSG, id="show_current_off_current_balance_refused"),
        pytest.param(D("80.005"), OPEN, False, DUE_MSG, id="show_current_off_fraction_of_cent_refused"),
        pytest.param(D("0.50"), bal(current="100.00", due="0.50"), False, None,
                     id="show_current_off_small_amount_due_payable"),
        pytest.param(D("0.00"), bal(current="100.00"), False, "Please pay the Amount Due of $0.00.",
                     id="show_current_off_zero_refused"),
    ],
)
def test_check_amount(amount: Decimal, balances: Balances, show_current_balance: bool, expected: str | None) -> None:
    assert check_amount(amount, balances, show_current_balance=show_current_balance) == expected


@pytest.mark.parametrize(
    "balances, reason",
    [
        pytest.param(bal(current="100.00"), "zero_balance", id="nothing_due_is_nothing_to_pay"),
        pytest.param(bal(current="100.00", due="40.00"), None, id="amount_due_payable"),
        pytest.param(bal(current="100.00", escrow="5.00"), "escrow", id="escrow_still_said_first"),
        pytest.param(bal(current="5.00", due="0.50"), None, id="a_small_amount_due_is_still_payable"),
    ],
)
def test_eligibility_with_show_current_balance_off(balances: Balances, reason: str | None) -> None:
    """The patient sees and may pay only the Amount Due: zero due means nothing to pay."""
    result = eligibility(balances, GROUP, show_current_balance=False)
    assert (result.allowed, result.reason) == (reason is None, reason)
    if reason == "zero_balance":
        assert result.message == "You have no balance due. Thank you!"
