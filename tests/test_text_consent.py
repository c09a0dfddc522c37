"""Texting consent (issue 16): the import's optional sms_consent {at, how} and Profile each record it with
when and how; none until recorded; a STOP stands until START whatever a later import says."""
from __future__ import annotations

import datetime as dt
import json

from pops.importer import import_document, load
from pops.models import AuditLog, Guarantor
from pops.plans.notices import may_text
from pops.plans.tables import TextConsent
from pops.texts.numbers import Reply, receive

from http_helpers import post_form, sign_in_as

UTC = dt.timezone.utc


def document(**changes) -> dict:
    g = {"account": "A1001", "group": "RFM", "first_name": "Maria", "last_name": "Lopez",
         "date_of_birth": "1981-04-12", "mobile": "(555) 555-0123", "sms_opt_out": False, "escrow": "0.00",
         "unapplied": "0.00", "patients": [], "encounters": [], **changes}
    return {"format": "pops-import/1", "groups": [{"code": "RFM", "name": "Riverside Family Medicine",
                                                   "timezone": "America/Chicago"}], "guarantors": [g]}


def run(doc: dict):
    return import_document(load(json.dumps(doc)))


def maria() -> Guarantor:
    return Guarantor.get(Guarantor.account == "A1001")


def test_existing_guarantors_have_no_consent_until_one_is_recorded(db):
    run(document())
    assert not may_text(maria()) and TextConsent.select().count() == 0


def test_the_import_records_consent_with_when_and_how_once(db):
    doc = document(sms_consent={"at": "2026-11-02T09:15:00", "how": "paper form at registration"})
    run(doc)
    run(doc)  # the same document again: still one record
    consent = TextConsent.get()
    assert (consent.granted, consent.how, consent.mobile) == (True, "import: paper form at registration", "(555) 555-0123")
    assert consent.recorded_at == dt.datetime(2026, 11, 2, 15, 15, tzinfo=UTC)  # 09:15 in Chicago
    assert may_text(maria())


def test_a_bad_sms_consent_is_refused_with_its_path_and_nothing_changes(db):
    from pops.importer import ImportRefused

    for bad in ({"at": "yesterday", "how": "form"}, {"how": "form"}, "yes"):
        try:
            run(document(sms_consent=bad))
        except ImportRefused as refused:
            assert "sms_consent" in str(refused.problems if hasattr(refused, "problems") else refused)
        else:
            raise AssertionError(f"{bad!r} was taken")
    assert Guarantor.select().count() == 0 and TextConsent.select().count() == 0


def test_an_import_after_a_stop_never_clears_it(db):
    run(document(sms_consent={"at": "2026-11-02T09:15:00", "how": "paper form"}))
    receive(Reply("+15555550123", "+15555559999", "STOP"))
    assert maria().sms_opt_out and not may_text(maria())
    run(document(sms_opt_out=False, sms_consent={"at": "2026-11-02T09:15:00", "how": "paper form"}))
    assert maria().sms_opt_out and not may_text(maria())
    run(document(sms_opt_out=True))  # the PM system caught up
    run(document(sms_opt_out=False))  # and a later import says false again: the STOP still stands
    assert maria().sms_opt_out
    receive(Reply("+15555550123", "+15555559999", "START"))
    assert not maria().sms_opt_out and may_text(maria())


def test_a_new_account_imported_with_a_stopped_number_is_opted_out(db):
    receive(Reply("+15555550123", "+15555559999", "alto"))
    run(document(sms_opt_out=False))
    assert maria().sms_opt_out


def test_profile_gives_and_withdraws_consent_with_when_and_how(client, guarantor):
    sign_in_as(client, guarantor)
    page = client.get("/profile").text
    assert 'data-testid="texting-give"' in page and "You have not agreed to get texts" in page
    response = post_form(client, "/profile/texting", {"consent": "yes"})
    assert response.status_code == 303 and response.headers["location"] == "/profile?done=texting"
    consent = TextConsent.get()
    assert (consent.granted, consent.how, consent.session_id is not None) == (True, "Profile (portal)", True)
    assert "Text me about my statements" in consent.wording
    assert may_text(Guarantor.get_by_id(guarantor.id))
    page = client.get("/profile?done=texting").text
    assert "You agreed to get texts at this number on November 23, 2026." in page
    post_form(client, "/profile/texting", {"consent": "no"})
    assert not may_text(Guarantor.get_by_id(guarantor.id))
    assert [c.granted for c in TextConsent.select().order_by(TextConsent.id)] == [True, False]
    assert [a.detail for a in AuditLog.select().where(AuditLog.action == "profile.text_consent")] == [
        "given for +15555550123", "withdrawn for +15555550123"]


def test_profile_says_texts_are_stopped_after_a_stop(client, guarantor):
    receive(Reply("+15555550123", "", "STOP"))
    sign_in_as(client, guarantor)
    assert 'data-testid="texting-stopped"' in client.get("/profile").text


def test_staff_in_a_mirror_may_withdraw_consent_but_never_give_it(client, guarantor, staff):
    sign_in_as(client, guarantor, staff=staff)
    page = client.get("/profile").text
    assert 'data-testid="texting-own-device"' in page and 'data-testid="texting-give"' not in page
    post_form(client, "/profile/texting", {"consent": "yes"})
    assert TextConsent.select().count() == 0 and not may_text(Guarantor.get_by_id(guarantor.id))
    from pops.plans.notices import record_text_consent

    record_text_consent(guarantor, True, "import: paper form")
    assert 'data-testid="texting-withdraw"' in client.get("/profile").text
    post_form(client, "/profile/texting", {"consent": "no"})  # the patient asked on the phone
    latest = TextConsent.select().order_by(TextConsent.id.desc()).get()
    assert (latest.granted, latest.how) == (False, "Profile (staff mirror)")
