"""Two job runs racing on PostgreSQL charge a plan's instalment once: one attempt, one gateway charge, one receipt."""
from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal as D
from urllib.parse import urlsplit

import pytest

from pops import clock
from pops.gateways.sandbox_tables import SandboxCharge
from pops.models import Group, PaymentAttempt, Receipt
from pops.plans import charging
from pops.plans.tables import Instalment, PaymentPlan

from factories import owe
from http_helpers import post_form, sign_in_as
from parallel import burst

pytestmark = pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"), reason="a burst on PostgreSQL")
RUNS = 8


def set_up_plan(client, guarantor):
    Group.update(payment_plans=True, enable_payment_method_storage=True).execute()
    owe(guarantor, "300.00", "300.00")
    sign_in_as(client, guarantor)
    page = client.get("/pay/plan/review", params={"months": "3", "day": "15"}).text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    path = urlsplit(post_form(client, "/pay/plan/start", {**form, "agree": "1"}).headers["location"]).path
    back = urlsplit(client.post(path, data={"number": "4242424242424242", "expiry": "12/30", "cvc": "123"})
                    .headers["location"])
    client.get(f"{back.path}?{back.query}")
    return PaymentPlan.get()


def test_racing_job_runs_charge_an_instalment_once(client, guarantor, app, db):
    set_up_plan(client, guarantor)
    clock.freeze(dt.datetime(2026, 12, 15, 16, 0, tzinfo=dt.timezone.utc))
    outcomes = burst(db, RUNS, lambda _: charging.charge_due(app.state.gateway))
    assert sum(o.get("charged", 0) for o in outcomes) == 1
    assert PaymentAttempt.select().where(PaymentAttempt.entrance == "plan").count() == 1
    assert SandboxCharge.select().where(SandboxCharge.status == "approved").count() == 2  # set-up + instalment 1
    assert Receipt.select().where(Receipt.amount == D("100.00")).count() == 2
    assert Instalment.get(Instalment.number == 1).status == "paid"
    assert Instalment.get(Instalment.number == 2).status == "scheduled"
