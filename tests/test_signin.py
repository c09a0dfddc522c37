"""Patient sign-in with one-time codes, sessions, extension and log out, driven over HTTP."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from pops import clock, contacts, dates, links, otp, signin
from pops.models import AuditLog, Group, Guarantor, OneTimeCode, OutboxMessage, PatientSession

from http_helpers import SECRET, post_form


# --- helpers ------------------------------------------------------------------------------

def look_up(client, first="Maria", last="Lopez", dob="1981-04-12", group=None):
    data = {"first_name": first, "last_name": last, "date_of_birth": dob}
    if group:
        data["group"] = group
    return post_form(client, "/login", data)


def choices(client) -> dict[str, str]:
    """The destination choices on /login/send: value -> the label the patient reads."""
    page = client.get("/login/send")
    assert page.status_code == 200
    found = re.findall(r'<input type="radio" name="destination" value="([^"]+)"[^>]*>\s*(.*?)\s*</label>', page.text, re.S)
    return {value: " ".join(re.sub(r"<[^>]+>", " ", label).split()) for value, label in found}


def last_code(purpose="sign_in") -> str:
    message = OutboxMessage.select().where(OutboxMessage.purpose == purpose).order_by(OutboxMessage.id.desc()).get()
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def send_to(client, destination="0:sms"):
    return post_form(client, "/login/send", {"destination": destination})


def enter(client, code):
    return post_form(client, "/login/code", {"code": code})


def sign_in(client, destination="0:sms", **who):
    assert look_up(client, **who).headers["location"] == "/login/send"
    assert send_to(client, destination).headers["location"] == "/login/code"
    return enter(client, last_code())


def live_sessions():
    return list(PatientSession.select().where(PatientSession.ended_at.is_null()))


def use_cookie(client, name, value):
    """What a browser that kept (or forged) an old cookie sends."""
    client.cookies.delete(name)
    client.cookies.set(name, value)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# --- the domain rules, table-driven -------------------------------------------------------

@pytest.mark.parametrize("text, key", [("Maria", "maria"), ("  maRIA ", "maria"), ("De La Cruz", "delacruz"),
                                       ("de  la\tcruz", "delacruz"), ("", "")])
def test_name_keys_forgive_case_and_spacing(text, key):
    assert signin.name_key(text) == key


@pytest.mark.parametrize("number, masked", [("+15555550123", "•••-•••-0123"), ("(555) 555-0199", "•••-•••-0199")])
def test_mobile_masking(number, masked):
    assert contacts.mask_mobile(number) == masked


def test_email_masking():
    assert contacts.mask_email("maria@example.org") == "m•••@example.org"


@pytest.mark.parametrize("typed, stored", [("(555) 555-0199", "+15555550199"), ("1-555-555-0199", "+15555550199"),
                                           ("+44 20 7946 0958", "+442079460958"), ("555-0199", None),
                                           ("(055) 555-0199", None), ("call me", None)])
def test_mobile_normalizing(typed, stored):
    assert contacts.normalize_mobile(typed) == stored


@pytest.mark.parametrize("typed, parsed", [("1981-04-12", dt.date(1981, 4, 12)), ("04/12/1981", dt.date(1981, 4, 12)),
                                           ("4/12/1981", dt.date(1981, 4, 12)), ("12/31/99", None), ("1981-02-30", None)])
def test_birth_dates(typed, parsed):
    assert dates.parse_date(typed) == parsed


# --- the sign-in over HTTP ----------------------------------------------------------------

def test_the_login_page_full_and_fragment(client, guarantor):
    page = client.get("/login")
    assert page.status_code == 200 and "<html" in page.text
    assert 'name="first_name"' in page.text and 'name="date_of_birth"' in page.text
    assert "Riverside Family Medicine" not in page.text  # no practice named without ?group
    fragment = client.get("/login", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'name="last_name"' in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


def test_right_code_signs_in_with_a_new_portal_session(client, guarantor):
    assert look_up(client).headers["location"] == "/login/send"
    offered = choices(client)
    assert offered == {"0:sms": "Text •••-•••-0123", "0:email": "Email m•••@example.org"}
    assert "+15555550123" not in client.get("/login/send").text  # only the masked form is shown

    response = send_to(client, "0:sms")
    assert response.status_code == 303 and response.headers["location"] == "/login/code"
    message = OutboxMessage.get()
    assert (message.channel, message.recipient, message.purpose) == ("sms", "+15555550123", "sign_in")
    assert message.guarantor_id == guarantor.id
    code = last_code()
    row = OneTimeCode.get()
    assert code not in row.code_hash and row.expires_at == clock.now() + dt.timedelta(minutes=10)
    assert "We sent a 6-digit code to •••-•••-0123" in client.get("/login/code").text

    response = enter(client, f" {code[:3]} {code[3:]} ")  # spaces forgiven
    assert response.status_code == 303
    assert response.headers["location"] == "/home"
    assert "pops_session=" in response.headers["set-cookie"]
    session = PatientSession.get()
    assert (session.origin, session.auth, session.quickpay, session.guarantor_id) == ("sign_in", "code", False, guarantor.id)
    assert OneTimeCode.get().used_at == clock.now()
    assert AuditLog.get(AuditLog.action == "sign_in").guarantor_id == guarantor.id
    assert client.get("/profile").status_code == 200


def test_landing_page_pay(client, guarantor):
    Group.update(landing_page="pay").execute()
    assert sign_in(client).headers["location"] == "/pay"


def test_five_wrong_codes_lock_the_attempt_even_for_the_right_code(client, guarantor):
    look_up(client)
    send_to(client)
    code = last_code()
    for tries_left in [4, 3, 2, 1]:
        page = enter(client, wrong(code))
        assert page.status_code == 200
        assert "That code is not right" in page.text
        assert f"You have {tries_left} tr" in page.text
    page = enter(client, wrong(code))
    assert "entered wrongly too many times" in page.text
    page = enter(client, code)
    assert "entered wrongly too many times" in page.text
    assert PatientSession.select().count() == 0
    assert OneTimeCode.get().failures == 5 and OneTimeCode.get().used_at is None


def test_a_malformed_code_does_not_count_as_a_try(client, guarantor):
    look_up(client)
    send_to(client)
    assert "Enter the 6-digit code" in enter(client, "12345").text
    assert OneTimeCode.get().failures == 0


def test_an_expired_code_is_refused(client, guarantor):
    look_up(client)
    send_to(client)
    code = last_code()
    clock.advance(minutes=11)
    page = enter(client, code)
    assert "That code has expired" in page.text
    assert PatientSession.select().count() == 0


def test_a_used_code_cannot_sign_in_again(client, guarantor):
    look_up(client)
    send_to(client)
    flow = client.cookies.get("pops_signin")
    code = last_code()
    assert enter(client, code).status_code == 303
    use_cookie(client, "pops_signin", flow)  # the same attempt, replayed
    page = enter(client, code)
    assert page.status_code == 200 and "already been used" in page.text
    assert PatientSession.select().count() == 1


def test_the_code_is_bound_to_its_attempt(client, guarantor):
    look_up(client)
    send_to(client)
    first = last_code()
    send_to(client)  # a second attempt replaces the first in this browser
    second = last_code()
    if first != second:
        assert "not right" in enter(client, first).text
    assert enter(client, second).status_code == 303


@pytest.mark.parametrize("who", [
    {"first": "Mario"},
    {"last": "Lopes"},
    {"dob": "1981-04-13"},
    {"first": "Nobody", "last": "Atall", "dob": "1990-01-01"},
])
def test_wrong_details_get_the_same_answer_as_no_such_person(client, guarantor, who):
    page = look_up(client, **who)
    assert page.status_code == 200
    assert "We could not find an account with those details." in page.text
    assert "pops_signin" not in page.headers.get("set-cookie", "")
    assert OutboxMessage.select().count() == 0


@pytest.mark.parametrize("first, last", [("maria", "LOPEZ"), ("  Maria ", " Lopez  "), ("MA RIA", "lo pez")])
def test_name_case_and_spacing_are_forgiven(client, guarantor, first, last):
    assert sign_in(client, first=first, last=last).status_code == 303


def test_the_date_of_birth_as_typed_on_a_phone(client, guarantor):
    assert sign_in(client, dob="04/12/1981").status_code == 303


def test_preferred_name_works(client, guarantor):
    Guarantor.update(preferred_name="Mari").execute()
    assert sign_in(client, first="mari").status_code == 303
    assert sign_in(client, first="Maria").status_code == 303  # the first name still does


def test_no_mobile_means_email_only(client, guarantor):
    Guarantor.update(mobile="").execute()
    look_up(client)
    assert choices(client) == {"0:email": "Email m•••@example.org"}
    assert "Choose where we should send your code" in send_to(client, "0:sms").text
    assert OutboxMessage.select().count() == 0  # a text was not offered, so none is sent
    send_to(client, "0:email")
    message = OutboxMessage.get()
    assert (message.channel, message.recipient, message.subject) == ("email", "maria@example.org", "Your sign-in code")
    assert enter(client, last_code()).status_code == 303


def test_opted_out_of_texts_still_gets_codes_by_text(client, guarantor):
    Guarantor.update(sms_opt_out=True).execute()
    look_up(client)
    assert "0:sms" in choices(client)
    send_to(client, "0:sms")
    assert OutboxMessage.get().channel == "sms"
    assert enter(client, last_code()).status_code == 303


def test_nowhere_to_send_a_code_says_to_call(client, guarantor):
    Guarantor.update(mobile="", email="").execute()
    page = look_up(client)
    assert "We cannot send you a code" in page.text and "(555) 010-2000" in page.text


def test_codes_per_guarantor_are_limited_per_hour_and_the_page_says_until_when(client, guarantor):
    clock.advance(minutes=41, seconds=20)  # 15:41:20 UTC: 9:41 AM at Riverside (America/Chicago)
    look_up(client)
    for _ in range(otp.SENDS_PER_HOUR):
        assert send_to(client, "0:sms").status_code == 303
        clock.advance(minutes=3)
    page = send_to(client, "0:email")  # another address, same guarantor
    assert page.status_code == 200  # the form's own page, saying when: not a bare 429
    assert "For your security we send at most 5 codes an hour." in page.text
    # the first code turns an hour old at 16:41:20 UTC: shown on the next whole minute, the practice's time
    assert 'data-testid="retry-at">You can ask for another code at 10:42 AM.<' in page.text
    assert '<a href="tel:5550102000">(555) 010-2000</a>' in page.text
    assert 'action="/login/send"' in page.text  # the form, to try again later
    assert OutboxMessage.select().count() == otp.SENDS_PER_HOUR
    clock.advance(minutes=44)  # 10:40:20 AM: still too early
    assert "You can ask for another code at 10:42 AM." in send_to(client, "0:email").text
    clock.advance(minutes=2)  # 10:42:20 AM
    assert send_to(client, "0:email").status_code == 303


def test_codes_per_address_are_limited_per_hour(client, guarantor):
    other = Group.create(code="NVP", name="North Valley Pediatrics")
    Guarantor.create(account="B2002", group=other, first_name="Maria", last_name="Lopez",
                     date_of_birth=guarantor.date_of_birth, email="maria@example.org")
    look_up(client)
    offered = choices(client)
    email_choices = [value for value, label in offered.items() if label.startswith("Email")]
    assert len(email_choices) == 2
    for value in [email_choices[0]] * 3 + [email_choices[1]] * 2:
        assert send_to(client, value).status_code == 303
    page = send_to(client, email_choices[1])  # 5 to this address, across both accounts
    assert page.status_code == 200 and "You can ask for another code at 10:00 AM." in page.text


def test_lookups_are_limited_per_device(client, guarantor):
    for _ in range(signin.LOOKUPS_PER_HOUR):
        look_up(client, first="Guess")
    page = look_up(client)
    assert page.status_code == 429 and "Too many sign-in tries" in page.text
    clock.advance(minutes=61)
    assert look_up(client).status_code == 303


def test_group_narrows_the_search_and_brands_the_page(client, guarantor):
    other = Group.create(code="NVP", name="North Valley Pediatrics")
    twin = Guarantor.create(account="B2002", group=other, first_name="Maria", last_name="Lopez",
                            date_of_birth=guarantor.date_of_birth, mobile="+15555550777")
    page = client.get("/login?group=NVP")
    assert "North Valley Pediatrics" in page.text and "/brand/NVP.css" in page.text
    assert 'name="group" value="NVP"' in page.text
    look_up(client, group="NVP")
    assert choices(client) == {"0:sms": "Text •••-•••-0777"}
    assert sign_in(client, group="NVP").status_code == 303
    assert PatientSession.get(PatientSession.ended_at.is_null()).guarantor_id == twin.id


def test_an_unknown_group_searches_everywhere(client, guarantor):
    assert "name=\"group\"" not in client.get("/login?group=NOPE").text
    assert look_up(client, group="NOPE").status_code == 303


def test_two_guarantors_matching_without_a_group(client, guarantor):
    other = Group.create(code="NVP", name="North Valley Pediatrics")
    twin = Guarantor.create(account="B2002", group=other, first_name="Maria", last_name="Lopez",
                            date_of_birth=guarantor.date_of_birth, email="lopez.m@example.net")
    look_up(client)
    offered = choices(client)
    assert len(offered) == 3
    assert "Text •••-•••-0123 (Riverside Family Medicine)" in offered.values()
    assert "Email l•••@example.net (North Valley Pediatrics)" in offered.values()
    chosen = next(v for v, label in offered.items() if "example.net" in label)
    send_to(client, chosen)
    assert OutboxMessage.get().recipient == "lopez.m@example.net"
    assert enter(client, last_code()).status_code == 303
    assert PatientSession.get().guarantor_id == twin.id


def test_a_forged_choice_or_flow_cookie_gets_nothing(client, guarantor):
    look_up(client)
    assert "Choose where we should send your code" in send_to(client, "7:sms").text
    use_cookie(client, "pops_signin", "forged.value.here")
    assert send_to(client, "0:sms").headers["location"] == "/login"
    assert OutboxMessage.select().count() == 0
    assert client.get("/login/code").headers["location"] == "/login"


def test_every_sign_in_makes_a_new_session_and_kills_the_old_cookie(client, guarantor):
    sign_in(client)
    first_token = client.cookies.get("pops_session")
    sign_in(client)
    second_token = client.cookies.get("pops_session")
    assert first_token != second_token
    first, second = PatientSession.select().order_by(PatientSession.id)
    assert first.end_reason == "replaced" and second.ended_at is None
    use_cookie(client, "pops_session", first_token)
    assert client.get("/profile").headers["location"] == "/login"


def test_logout_ends_the_session_on_the_server(client, guarantor):
    sign_in(client)
    token = client.cookies.get("pops_session")
    response = post_form(client, "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/logged-out?group=RFM"
    assert 'pops_session=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    session = PatientSession.get()
    assert session.end_reason == "logout" and session.ended_at == clock.now()
    page = client.get("/logged-out?group=RFM")
    assert "You have logged out" in page.text and "/login?group=RFM" in page.text
    use_cookie(client, "pops_session", token)  # the old cookie, kept by a careless browser
    assert client.get("/profile").headers["location"] == "/login"


def test_logout_needs_the_form_token(client, guarantor):
    sign_in(client)
    assert client.post("/logout", data={}).status_code == 403
    assert len(live_sessions()) == 1


# --- idle sessions and their extension ----------------------------------------------------

def test_an_idle_session_ends(client, guarantor):
    sign_in(client)
    clock.advance(minutes=14)
    assert client.get("/profile").status_code == 200  # activity moves the deadline
    clock.advance(minutes=15, seconds=1)
    assert client.get("/profile").headers["location"] == "/login"
    assert PatientSession.get().end_reason == "idle"


def test_the_warning_and_the_extension(client, guarantor):
    Group.update(allow_session_extension=True).execute()
    sign_in(client)
    page = client.get("/profile")
    assert 'hx-get="/session/status"' in page.text
    assert 'hx-trigger="load delay:120s"' in page.text  # the warning is 14 minutes away: ask in 2
    assert "Extend my session" in page.text  # the plain form, inside <noscript>
    assert "session-warning" not in page.text

    clock.advance(minutes=14, seconds=5)
    deadline = PatientSession.get().expires_at
    status = client.get("/session/status", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/profile"})
    assert 'data-testid="session-warning"' in status.text and "Extend my session" in status.text
    assert 'name="next" value="/profile"' in status.text
    assert PatientSession.get().expires_at == deadline  # asking is not activity

    extended = post_form(client, "/session/extend", {"next": "/profile"})
    assert extended.status_code == 303 and extended.headers["location"] == "/profile"
    session = PatientSession.get()
    assert session.extensions == 1 and session.expires_at == clock.now() + dt.timedelta(minutes=15)
    clock.advance(minutes=14)
    status = client.get("/session/status", headers={"HX-Request": "true"})
    assert "session-warning" in status.text
    clock.advance(minutes=2)
    status = client.get("/session/status", headers={"HX-Request": "true"})
    assert "Your session has ended" in status.text and "hx-get" not in status.text


def test_extending_with_htmx_answers_with_the_fragment(client, guarantor):
    Group.update(allow_session_extension=True).execute()
    sign_in(client)
    clock.advance(minutes=14, seconds=30)
    response = post_form(client, "/session/extend", {"next": "/profile"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="session-status"' in response.text
    assert "session-warning" not in response.text
    assert PatientSession.get().extensions == 1


def test_no_extension_unless_the_group_allows_it(client, guarantor):
    sign_in(client)
    assert "session-status" not in client.get("/profile").text
    clock.advance(minutes=14, seconds=30)
    deadline = PatientSession.get().expires_at
    post_form(client, "/session/extend", {"next": "/profile"})
    assert PatientSession.get().expires_at == deadline and PatientSession.get().extensions == 0
    clock.advance(minutes=1)
    assert client.get("/profile").headers["location"] == "/login"


def test_extension_cannot_be_pointed_elsewhere(client, guarantor):
    Group.update(allow_session_extension=True).execute()
    sign_in(client)
    assert post_form(client, "/session/extend", {"next": "//evil.example"}).headers["location"] == "/home"


# --- View Account from QuickPay -----------------------------------------------------------

def test_view_account_from_quickpay(client, guarantor):
    code, link = links.mint(guarantor, "sms", SECRET)
    client.get(f"/q/{code}")
    quickpay = PatientSession.get()
    assert client.get("/profile").headers["location"] == "/login?view_account=1"

    response = client.get("/login?view_account=1")
    assert response.status_code == 303 and response.headers["location"] == "/login/send"
    page = client.get("/login/send")
    assert "To see your whole account, confirm it is you with a code." in page.text
    assert choices(client) == {"0:sms": "Text •••-•••-0123", "0:email": "Email m•••@example.org"}
    send_to(client, "0:email")
    assert enter(client, last_code()).headers["location"] == "/home"

    quickpay = PatientSession.get_by_id(quickpay.id)
    assert quickpay.end_reason == "replaced"
    portal = PatientSession.get(PatientSession.ended_at.is_null())
    assert (portal.origin, portal.auth, portal.quickpay, portal.link_id) == ("sms_link", "code", False, link.id)
    assert client.get("/profile").status_code == 200


def test_view_account_without_a_quickpay_session_is_the_plain_sign_in(client, guarantor):
    page = client.get("/login?view_account=1")
    assert page.status_code == 200 and 'name="first_name"' in page.text
