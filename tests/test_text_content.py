"""A text never carries an amount, a service or a diagnosis (issue 16). Every place POPS queues a text is
known here, and each one's texts are sent and read, in English and Spanish."""
from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from pops import otp
from pops.console import send_balance_notification
from pops.models import Group, Guarantor, OutboxMessage
from pops.payments.pay_link import send_pay_link
from pops.plans import notices, prepared
from pops.texts import reminders
from pops.texts.numbers import Reply, receive

from factories import make_encounter, make_patient, make_statement
from http_helpers import SECRET

ROOT = Path(__file__).resolve().parent.parent / "pops"
# Every module that queues a text. A new one is a new kind of text: add it here and send it below.
TEXTING_MODULES = {"console.py", "notify.py", "otp.py", "payments/pay_link.py", "plans/notices.py",
                   "plans/prepared.py", "texts/numbers.py", "texts/reminders.py"}
AMOUNT = re.compile(r"\$|\d+[.,]\d\d\b|\bUSD\b")
CLINICAL = ("Office visit", "99213", "Strep", "diabetes")  # the services and diagnosis on Maria's visit


def queues_texts(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            target = getattr(node.func, "value", None)
            if name == "queue_sms" or (name == "create" and getattr(target, "id", "") == "OutboxMessage"):
                return True
    return False


def test_every_module_that_queues_a_text_is_checked_here():
    found = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")
             if "migrations" not in p.parts and queues_texts(ast.parse(p.read_text()))}
    assert found == TEXTING_MODULES, (
        "a module started or stopped queueing texts: list it in TEXTING_MODULES and send its texts in "
        "test_no_text_pops_can_queue_carries_an_amount_a_service_or_a_diagnosis (and ask may_text before an "
        "automatic one)")


@pytest.fixture
def texting(guarantor):
    """Maria owing $180.00 for a strep test on S-1, consenting to texts, reminders on."""
    Group.update(reminders=True, payment_plans=True, enable_payment_method_storage=True).execute()
    encounter = make_encounter(guarantor, "E1", patient=make_patient(guarantor, "P1", "Maria", "Lopez"),
                               charge="180.00")
    encounter.description = "Office visit: Strep test (diabetes follow-up)"
    encounter.save()
    make_statement(guarantor, "S-1", balance="180.00", encounters=[encounter])
    notices.record_text_consent(guarantor, True, "import: paper form")
    return Guarantor.get_by_id(guarantor.id)


@pytest.mark.parametrize("lang", ["", "es"])
def test_no_text_pops_can_queue_carries_an_amount_a_service_or_a_diagnosis(texting, staff, lang):
    from pops.sessions import start_patient

    Guarantor.update(language=lang).execute()
    g = Guarantor.get_by_id(texting.id)
    assert send_balance_notification(g, "sms", staff, secret_key=SECRET, base_url="http://testserver").sent
    assert reminders.send_due(SECRET, "http://testserver") == 1
    for kind in notices.NOTICES:
        notices.tell(g, None, kind, base_url="http://testserver", detail=f"$180.00 on {dt.date(2026, 12, 15)}",
                     ref=kind)
    otp.send_code(g, "sms", g.mobile, purpose="sign_in", secret_key=SECRET)
    _token, session = start_patient(g, "staff_mirror", "staff", staff=staff)
    assert send_pay_link(session, "sms", secret_key=SECRET, base_url="http://testserver")[0]
    prepared.send(session, "3", "", "15", "sms", secret_key=SECRET, base_url="http://testserver")
    for word in ("HELP", "AYUDA", "hello", "STOP", "START"):
        receive(Reply(g.mobile, "", word))
    sent = list(OutboxMessage.select().where(OutboxMessage.channel == OutboxMessage.SMS))
    purposes = {m.purpose for m in sent}
    assert {"balance", "reminder", "sign_in", "sms_reply", "plan_prepared"} <= purposes
    assert {f"plan_{kind}" for kind in notices.NOTICES} <= purposes
    for message in sent:
        assert not AMOUNT.search(message.body), message.body
        assert not any(word in message.body for word in CLINICAL), message.body
