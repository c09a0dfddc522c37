"""The payment plan options of a group in the import (docs/import-v1.md): read, kept, and refused with
the rule when wrong; a group left without them keeps the defaults (all off)."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from pops.importer import ImportRefused, import_document
from pops.models import Group

GROUP = {"code": "PLN", "name": "Plan Clinic", "timezone": "America/Chicago"}


def document(**options) -> dict:
    return {"format": "pops-import/1", "groups": [{**GROUP, **options}], "guarantors": []}


def test_a_new_group_starts_with_plans_and_autopay_off(db):
    import_document(document())
    group = Group.get(Group.code == "PLN")
    assert (group.payment_plans, group.autopay, group.plan_min_balance, group.plan_min_instalment,
            group.plan_max_months, group.plan_down_payment_percent, group.autopay_cap) == (
        False, False, D("100.00"), D("25.00"), 12, 0, D("500.00"))
    assert not group.offers_plans


def test_the_import_sets_the_plan_options(db):
    import_document(document(payment_plans=True, enable_payment_method_storage=True, plan_min_balance="150.00",
                             plan_min_instalment="30.00", plan_max_months=6, plan_down_payment_percent=10,
                             autopay=True, autopay_cap="250.00"))
    group = Group.get(Group.code == "PLN")
    assert (group.plan_min_balance, group.plan_min_instalment, group.plan_max_months,
            group.plan_down_payment_percent, group.autopay_cap) == (D("150.00"), D("30.00"), 6, 10, D("250.00"))
    assert group.offers_plans and group.autopay
    import_document(document())  # left out: kept
    assert Group.get(Group.code == "PLN").plan_max_months == 6


@pytest.mark.parametrize("option, value, says", [
    ("plan_down_payment_percent", 95, "from 0 to 90"),
    ("plan_down_payment_percent", "10", "from 0 to 90"),
    ("plan_min_balance", 100, "decimal string"),
    ("plan_min_instalment", "-5.00", "negative"),
    ("plan_max_months", 0, "at least 1"),
    ("payment_plans", "yes", "true or false"),
])
def test_a_wrong_plan_option_refuses_the_document(db, option, value, says):
    with pytest.raises(ImportRefused) as refused:
        import_document(document(**{option: value}))
    assert any(option in str(p) and says in str(p) for p in refused.value.problems), refused.value.problems
    assert Group.select().count() == 0
