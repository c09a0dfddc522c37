"""POST /sms/inbound (issue 16): STOP and its synonyms (Spanish too, any case, with punctuation) opt the
number out for every guarantor with it, with one confirmation; START/UNSTOP/YES opt back in; HELP/AYUDA
answer with the practice of the last text; anything else gets one fixed answer a day. Forged requests
change nothing."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from pops import clock
from pops.models import AuditLog, ContactChange, Guarantor, OutboxMessage
from pops.plans.notices import may_text, record_text_consent
from pops.texts.inbound import generic_signature
from pops.texts.tables import SmsInbound, SmsNumber

from factories import make_guarantor
from parallel import burst

TOKEN = "inbound-test-token"
MOBILE = "+15555550123"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sms_token=TOKEN)


def send(client, body: str, *, sender: str = MOBILE, token: str = TOKEN):
    raw = json.dumps({"from": sender, "to": "+15555559999", "body": body}).encode()
    return client.post("/sms/inbound", content=raw, headers={
        "Content-Type": "application/json", "X-POPS-Signature": generic_signature(token, raw)})


def replies(number: str = MOBILE) -> list[str]:
    return [m.body for m in OutboxMessage.select().where(
        (OutboxMessage.recipient == number) & (OutboxMessage.purpose == "sms_reply")).order_by(OutboxMessage.id)]


def fresh(guarantor) -> Guarantor:
    return Guarantor.get_by_id(guarantor.id)


STOPS = ["STOP", "stop", "Stop.", "STOPALL", "unsubscribe", "Cancel", "END", "quit!", "REVOKE", "opt out",
         "Opt-Out", "PARAR", "parar", "¡Alto!", "alto", "  STOP  ", "Stop texting me"]


@pytest.mark.parametrize("word", STOPS)
def test_every_stop_word_opts_the_number_out_for_every_guarantor_with_it(client, guarantor, word):
    twin = make_guarantor(guarantor.group, "A1002", "Luis", "Lopez", dt.date(1980, 1, 1), mobile="(555) 555-0123")
    other = make_guarantor(guarantor.group, "A1003", "Ana", "Ruiz", dt.date(1980, 1, 1), mobile="+15555550999")
    for g in (guarantor, twin, other):
        record_text_consent(g, True, "import: paper form")
    response = send(client, word)
    assert response.status_code == 200 and response.json()["keyword"] == "stop"
    assert fresh(guarantor).sms_opt_out and fresh(twin).sms_opt_out and not fresh(other).sms_opt_out
    assert not may_text(fresh(guarantor)) and not may_text(fresh(twin)) and may_text(fresh(other))
    assert len(replies()) == 1  # one confirmation for the number, however many accounts it serves
    spanish = word.strip("¡!").lower() in ("parar", "alto")
    assert ("no recibirá más" in replies()[0]) if spanish else ("you will get no more texts" in replies()[0])
    assert {c.guarantor_id for c in ContactChange.select().where(ContactChange.field == "sms_opt_out")} == {guarantor.id, twin.id}
    assert AuditLog.select().where(AuditLog.action == "sms_stop").count() == 2


@pytest.mark.parametrize("word", ["START", "start", "Unstop", "YES", "yes.", "Sí", "si"])
def test_start_unstop_and_yes_opt_back_in(client, guarantor, word):
    record_text_consent(guarantor, True, "import: paper form")
    send(client, "STOP")
    assert not may_text(fresh(guarantor))
    response = send(client, word)
    assert response.json()["keyword"] == "start"
    assert not fresh(guarantor).sms_opt_out and may_text(fresh(guarantor))
    assert not SmsNumber.get(SmsNumber.mobile == MOBILE).stopped
    assert [c.new_value for c in ContactChange.select().where(ContactChange.field == "sms_opt_out")
            .order_by(ContactChange.id)] == ["true", "false"]
    assert AuditLog.select().where(AuditLog.action == "sms_start").count() == 1


@pytest.mark.parametrize("word,spanish", [("HELP", False), ("help?", False), ("AYUDA", True), ("ayuda", True)])
def test_help_answers_with_the_practice_of_the_last_text(client, guarantor, second, word, spanish):
    from pops import notify
    from pops.models import Group

    Group.update(footer_phone="(555) 555-0100", text_sender="Riverside Billing").execute()
    notify.queue_sms(MOBILE, "an earlier text", purpose="balance", guarantor=guarantor)
    send(client, word)
    answer = replies()[-1]
    assert answer.startswith("Riverside Family Medicine:") and "(555) 555-0100" in answer  # the practice's own name
    assert ("llame" in answer) if spanish else ("call" in answer)
    assert not fresh(guarantor).sms_opt_out


def test_anything_else_gets_one_fixed_answer_a_day(client, guarantor):
    for _ in range(3):
        assert send(client, "how much do I owe?").json()["keyword"] == ""
    assert len(replies()) == 1 and "cannot read replies" in replies()[0]
    clock.advance(hours=23)
    send(client, "hello?")
    assert len(replies()) == 1
    clock.advance(hours=1, minutes=1)
    send(client, "hello?")
    assert len(replies()) == 2
    assert SmsInbound.select().count() == 5 and not fresh(guarantor).sms_opt_out


@pytest.mark.parametrize("forge", ["wrong token", "no signature", "other body"])
def test_a_forged_request_is_refused_and_changes_nothing(client, guarantor, forge):
    raw = json.dumps({"from": MOBILE, "to": "+1", "body": "STOP"}).encode()
    headers = {"Content-Type": "application/json"}
    if forge == "wrong token":
        headers["X-POPS-Signature"] = generic_signature("not-the-token", raw)
    elif forge == "other body":
        headers["X-POPS-Signature"] = generic_signature(TOKEN, b'{"from": "+15555550123", "to": "", "body": "hi"}')
    response = client.post("/sms/inbound", content=raw, headers=headers)
    assert response.status_code == 403
    assert not fresh(guarantor).sms_opt_out
    assert SmsInbound.select().count() == 0 and SmsNumber.select().count() == 0 and replies() == []
    assert ContactChange.select().count() == 0


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"from": 5, "to": "", "body": "STOP"}'])
def test_a_signed_body_pops_cannot_read_is_refused_not_a_500(client, guarantor, raw):
    response = client.post("/sms/inbound", content=raw, headers={"X-POPS-Signature": generic_signature(TOKEN, raw)})
    assert response.status_code == 403 and not fresh(guarantor).sms_opt_out


def test_twilio_requests_are_checked_with_twilios_validator(app, client, guarantor):
    app.state.settings = dataclasses.replace(app.state.settings, sms_provider="twilio")
    params = {"From": MOBILE, "To": "+15555559999", "Body": "Parar", "MessageSid": "SM1"}
    url = "http://testserver/sms/inbound"
    good = RequestValidator(TOKEN).compute_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = client.post("/sms/inbound", content=urlencode(params), headers={**headers, "X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403 and not fresh(guarantor).sms_opt_out
    response = client.post("/sms/inbound", content=urlencode(params), headers={**headers, "X-Twilio-Signature": good})
    assert response.status_code == 200 and "<Response>" in response.text
    assert fresh(guarantor).sms_opt_out and len(replies()) == 1


def test_without_a_token_no_reply_is_taken(app, client, guarantor):
    app.state.settings = dataclasses.replace(app.state.settings, sms_token=None)
    response = send(client, "STOP")
    assert response.status_code == 403 and not fresh(guarantor).sms_opt_out


@pytest.mark.skipif(not os.environ.get("POPS_TEST_DATABASE_URL"), reason="a burst on PostgreSQL")
def test_a_burst_of_replies_gets_one_fixed_answer(guarantor, db):
    from pops.texts.numbers import Reply, receive

    runs = 8
    burst(db, runs, lambda _: receive(Reply(MOBILE, "+15555559999", "what is this?")))
    assert SmsInbound.select().count() == runs and len(replies()) == 1
    assert SmsInbound.select().where(SmsInbound.answered).count() == 1


def test_other_answers_are_signed_with_the_text_sender_name_and_help_without_a_phone_says_call_the_office(client, guarantor):
    from pops import notify
    from pops.models import Group

    Group.update(footer_phone="", text_sender="Riverside Billing").execute()
    notify.queue_sms(MOBILE, "an earlier text", purpose="balance", guarantor=guarantor)
    send(client, "STOP")
    send(client, "help")
    stop, help_ = replies()
    assert stop.startswith("Riverside Billing: you will get no more texts")
    assert help_ == "Riverside Family Medicine: for help with your bill, please call our office. Reply STOP to opt out."


def test_help_from_a_number_pops_never_texted_is_answered_by_pops(client):
    send(client, "HELP", sender="+15555550777")
    assert replies("+15555550777") == ["POPS: for help with your bill, please call our office. Reply STOP to opt out."]
