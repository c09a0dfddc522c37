"""Profile over HTTP: what is on file, changes that take effect at once or after a code, requests."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from pops import clock, otp
from pops.importer import import_document
from pops.models import ContactChange, Guarantor, OneTimeCode, OutboxMessage, PatientRequest

from factories import make_guarantor, make_patient
from http_helpers import post_form, sign_in_as


@pytest.fixture
def signed_in(client, guarantor):
    make_patient(guarantor, "P1", "Maria", "Lopez", date_of_birth=dt.date(1981, 4, 12))
    make_patient(guarantor, "P2", "Leo", "Lopez", date_of_birth=dt.date(2015, 8, 30))
    Guarantor.update(address_line1="12 Elm St", city="Springfield", state="IL", zip="62701").execute()
    return sign_in_as(client, guarantor)


def fresh(guarantor) -> Guarantor:
    return Guarantor.get_by_id(guarantor.id)


def last_code(purpose: str) -> str:
    message = OutboxMessage.select().where(OutboxMessage.purpose == purpose).order_by(OutboxMessage.id.desc()).get()
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_profile_needs_a_portal_session(client, guarantor):
    assert client.get("/profile").headers["location"] == "/login"
    sign_in_as(client, guarantor, quickpay=True)
    assert client.get("/profile").headers["location"] == "/login?view_account=1"
    assert post_form(client, "/profile/preferred-name", {"preferred_name": "X"}).headers["location"] == "/login?view_account=1"
    assert fresh(guarantor).preferred_name == ""


def test_profile_shows_what_is_on_file(client, guarantor, signed_in):
    page = client.get("/profile")
    assert page.status_code == 200 and "<html" in page.text
    for fact in ["Maria Lopez", "04/12/1981", "A1001", "12 Elm St", "Springfield, IL 62701", "maria@example.org",
                 "+15555550123", "Leo Lopez", "08/30/2015", "Register a Patient", "Modify a Patient"]:
        assert fact in page.text, fact
    assert 'aria-current="page">Profile' in page.text
    fragment = client.get("/profile", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "12 Elm St" in fragment.text
    assert "HX-Request" in fragment.headers["vary"] and fragment.headers["cache-control"] == "no-store"


def test_preferred_name_changes_at_once(client, guarantor, signed_in):
    response = post_form(client, "/profile/preferred-name", {"preferred_name": "  Mari  "})
    assert response.status_code == 303 and response.headers["location"] == "/profile?done=preferred_name"
    assert fresh(guarantor).preferred_name == "Mari"
    change = ContactChange.get()
    assert (change.field, change.old_value, change.new_value) == ("preferred_name", "", "Mari")
    assert "Your preferred name is saved." in client.get(response.headers["location"]).text
    post_form(client, "/profile/preferred-name", {"preferred_name": "Mari"})  # unchanged: no new row
    assert ContactChange.select().count() == 1


def test_a_too_long_preferred_name_changes_nothing(client, guarantor, signed_in):
    page = post_form(client, "/profile/preferred-name", {"preferred_name": "x" * 101})
    assert "Use at most 100 characters." in page.text
    assert fresh(guarantor).preferred_name == "" and ContactChange.select().count() == 0


def test_notification_choices(client, guarantor, signed_in):
    response = post_form(client, "/profile/notifications", {"notify_balance_email": "on", "notify_appointment_text": "on"})
    assert response.headers["location"] == "/profile?done=notifications"
    g = fresh(guarantor)
    assert (g.notify_balance_email, g.notify_balance_text, g.notify_balance_paper,
            g.notify_appointment_email, g.notify_appointment_text) == (True, False, False, False, True)
    page = client.get("/profile")
    assert 'name="notify_balance_email" checked' in page.text and 'name="notify_balance_text">' in page.text


def test_a_new_email_counts_only_after_its_code(client, guarantor, signed_in):
    response = post_form(client, "/profile/email", {"email": " maria.lopez@example.net "})
    assert response.status_code == 303 and response.headers["location"] == "/profile/verify"
    assert fresh(guarantor).email == "maria@example.org"  # not yet
    message = OutboxMessage.get()
    assert (message.channel, message.recipient, message.purpose) == ("email", "maria.lopez@example.net", "verify_email")
    page = client.get("/profile/verify")
    assert "We sent a 6-digit code to maria.lopez@example.net" in page.text

    code = last_code("verify_email")
    page = post_form(client, "/profile/verify", {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert "That code is not right" in page.text and fresh(guarantor).email == "maria@example.org"

    response = post_form(client, "/profile/verify", {"code": code})
    assert response.status_code == 303 and response.headers["location"] == "/profile?done=email"
    assert fresh(guarantor).email == "maria.lopez@example.net"
    change = ContactChange.get()
    assert (change.field, change.old_value, change.new_value) == ("email", "maria@example.org", "maria.lopez@example.net")
    assert "Your email address is changed." in client.get("/profile?done=email").text
    # the code is spent, and the page says nothing is pending
    assert post_form(client, "/profile/verify", {"code": code}).headers["location"] == "/profile"


def test_a_new_mobile_gets_a_text_and_counts_after_its_code(client, guarantor, signed_in):
    assert post_form(client, "/profile/mobile", {"mobile": "(555) 555-0199"}).headers["location"] == "/profile/verify"
    message = OutboxMessage.get()
    assert (message.channel, message.recipient, message.purpose) == ("sms", "+15555550199", "verify_mobile")
    assert fresh(guarantor).mobile == "+15555550123"
    assert post_form(client, "/profile/verify", {"code": last_code("verify_mobile")}).status_code == 303
    assert fresh(guarantor).mobile == "+15555550199"
    assert ContactChange.get().field == "mobile"


@pytest.mark.parametrize("field, value, message", [
    ("email", "not-an-email", "Enter an email address like name@example.org."),
    ("email", "MARIA@example.org", "That is already your email address."),
    ("mobile", "555-0199", "Enter a mobile number with its area code"),
    ("mobile", "555 555 0123", "That is already your mobile number."),
])
def test_bad_contact_input_sends_nothing(client, guarantor, signed_in, field, value, message):
    page = post_form(client, f"/profile/{field}", {field: value})
    assert page.status_code == 200 and message in page.text
    assert OutboxMessage.select().count() == 0 and OneTimeCode.select().count() == 0


def test_an_expired_verification_code_changes_nothing(client, guarantor, signed_in):
    post_form(client, "/profile/email", {"email": "new@example.net"})
    code = last_code("verify_email")
    clock.advance(minutes=11)
    page = post_form(client, "/profile/verify", {"code": code})
    assert "That code has expired" in page.text
    assert fresh(guarantor).email == "maria@example.org" and ContactChange.select().count() == 0


def test_a_verification_belongs_to_its_session(client, guarantor, signed_in):
    post_form(client, "/profile/email", {"email": "new@example.net"})
    code = last_code("verify_email")
    sign_in_as(client, guarantor)  # a new session in this browser
    assert client.get("/profile/verify").headers["location"] == "/profile"
    assert post_form(client, "/profile/verify", {"code": code}).headers["location"] == "/profile"
    assert fresh(guarantor).email == "maria@example.org"


def test_verification_codes_are_rate_limited(client, guarantor, signed_in):
    for n in range(otp.SENDS_PER_HOUR):
        assert post_form(client, "/profile/email", {"email": f"new{n}@example.net"}).status_code == 303
    page = post_form(client, "/profile/email", {"email": "another@example.net"})
    assert page.status_code == 200  # Profile, saying when, beside the field: not a bare 429
    assert 'data-testid="retry-at">You can ask for another code at 10:00 AM.<' in page.text  # 16:00 UTC, Chicago
    assert 'value="another@example.net"' in page.text and 'aria-describedby="email-error"' in page.text
    assert OneTimeCode.select().count() == otp.SENDS_PER_HOUR
    mobile = post_form(client, "/profile/mobile", {"mobile": "(555) 555-0199"})  # the same limit: same guarantor
    assert mobile.status_code == 200 and "You can ask for another code at 10:00 AM." in mobile.text
    clock.advance(hours=1)
    assert post_form(client, "/profile/mobile", {"mobile": "(555) 555-0199"}).status_code == 303


def test_an_import_with_the_old_value_does_not_undo_the_change(client, guarantor, signed_in):
    post_form(client, "/profile/email", {"email": "new@example.net"})
    post_form(client, "/profile/verify", {"code": last_code("verify_email")})

    def document(email):
        return {"format": "pops-import/1",
                "groups": [{"code": "RFM", "name": "Riverside Family Medicine"}],
                "guarantors": [{"account": "A1001", "group": "RFM", "first_name": "Maria", "last_name": "Lopez",
                                "date_of_birth": "1981-04-12", "email": email, "mobile": "+15555550123",
                                "sms_opt_out": False, "escrow": "0.00", "unapplied": "0.00",
                                "patients": [], "encounters": []}]}

    import_document(document("maria@example.org"))
    assert fresh(guarantor).email == "new@example.net"
    import_document(document("new@example.net"))
    assert ContactChange.get().cleared_at is not None


def test_register_a_patient(client, guarantor, signed_in):
    page = client.get("/profile/register")
    assert page.status_code == 200 and "Register a Patient" in page.text
    response = post_form(client, "/profile/register", {"first_name": "Ana", "last_name": "Lopez",
                                                       "date_of_birth": "2024-02-29", "relationship": "child",
                                                       "note": "Newborn"})
    assert response.headers["location"] == "/profile?done=request"
    request = PatientRequest.get()
    assert request.kind == "register_patient" and request.guarantor_id == guarantor.id
    assert json.loads(request.detail) == {"first_name": "Ana", "last_name": "Lopez", "date_of_birth": "2024-02-29",
                                          "relationship": "child", "note": "Newborn"}
    assert ("Your request was sent to Riverside Family Medicine; they will review it."
            in client.get("/profile?done=request").text)


def test_an_incomplete_registration_sends_nothing(client, guarantor, signed_in):
    page = post_form(client, "/profile/register", {"first_name": "Ana", "date_of_birth": "soon"})
    for message in ["Enter the patient's last name.", "date of birth as MM/DD/YYYY", "Choose how the patient is related"]:
        assert message in page.text
    assert 'value="Ana"' in page.text  # what was typed stays
    assert PatientRequest.select().count() == 0


def test_modify_a_patient(client, guarantor, signed_in):
    page = client.get("/profile/modify?patient=P2")
    assert '<option value="P2" selected>' in page.text
    response = post_form(client, "/profile/modify", {"patient": "P2", "changes": "Leo's last name is now Lopez-Diaz"})
    assert response.headers["location"] == "/profile?done=request"
    request = PatientRequest.get()
    assert request.kind == "modify_patient"
    assert json.loads(request.detail) == {"patient": "P2", "patient_name": "Leo Lopez",
                                          "changes": "Leo's last name is now Lopez-Diaz"}


def test_modify_refuses_another_guarantors_patient(client, guarantor, signed_in):
    make_patient(make_guarantor(guarantor.group, "A2002", "Sam", "Hill"), "P9")
    page = post_form(client, "/profile/modify", {"patient": "P9", "changes": "anything"})
    assert "Choose the patient to change." in page.text and "Sam Hill" not in page.text
    assert PatientRequest.select().count() == 0
