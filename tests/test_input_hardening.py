"""Input no handler should ever see: NUL bytes and invalid UTF-8 (400 before any handler), bodies over
the limit (413), report and batch dates beyond the filters' range (422), ids beyond any database id
(404); and Strict-Transport-Security over https."""
from __future__ import annotations

import dataclasses

import pytest

from pops.models import AuditLog, Staff
from pops.schema import TABLES
from pops.settings import Settings, SettingsError
from pops.web.validity import address_valid

from factories import PASSWORD, build_ledger
from http_helpers import CSRF, give_staff_session, open_browser, post_form, post_staff_login, sign_in_as

NOT_VALID = "That address or form is not valid"
HSTS = "max-age=63072000"


@pytest.fixture
def signed_in(client, guarantor, admin):
    """`client` signed in to Maria's portal (her ledger built) and to the console as an admin."""
    build_ledger(guarantor)
    sign_in_as(client, guarantor)
    give_staff_session(client, admin)
    return client


def row_counts() -> dict[str, int]:
    return {model._meta.table_name: model.select().count() for model in TABLES}


def assert_not_valid(response) -> None:
    assert response.status_code == 400, response.text[:300]
    assert NOT_VALID in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]


# --- NUL bytes and invalid UTF-8: 400 before any handler ---------------------------------------

ANYONE = ["/login?group=%00", "/logged-out?group=%00", "/brand/%00.css", "/pay/result/%00", "/pay/return/%00",
          "/sandbox-gateway/checkout/%00", "/q/%00", "/login?group=%FF", "/brand/%C3%28.css", "/%00",
          "/staff/login?next=%00", "/login?group=a%00b&x=1", "/login?gr%00oup=RFM"]


@pytest.mark.parametrize("url", ANYONE)
def test_a_nul_or_bad_utf8_anywhere_in_the_address_is_400(client, guarantor, url):
    assert_not_valid(client.get(url))


@pytest.mark.parametrize("url", ["/statements/%00", "/receipts/%00", "/receipts/%00/detail", "/statements?x=%FF"])
def test_signed_in_patient_pages_refuse_a_nul(signed_in, url):
    before = row_counts()
    assert_not_valid(signed_in.get(url))
    assert row_counts() == before


@pytest.mark.parametrize("url", ["/staff/guarantors/%00", "/staff/receipts/%00", "/staff/find?name=%00",
                                 "/staff/admin/groups/%00", "/staff/batches?group=%00"])
def test_signed_in_staff_pages_refuse_a_nul(signed_in, url):
    before = row_counts()
    assert_not_valid(signed_in.get(url))
    assert row_counts() == before


def test_the_refusal_is_a_fragment_for_htmx(client):
    response = client.get("/login?group=%00", headers={"HX-Request": "true"})
    assert_not_valid(response)
    assert "<html" not in response.text


@pytest.mark.parametrize("email", ["desk\x00@example.org", "\x00"])
def test_staff_sign_in_with_a_nul_in_the_email_is_400_and_counts_nothing(client, admin, email):
    before = row_counts()
    response = post_form(client, "/staff/login", {"email": email, "password": PASSWORD, "code": "123456"})
    assert_not_valid(response)
    assert row_counts() == before


@pytest.mark.parametrize("body", [b"csrf=" + CSRF.encode() + b"&email=a\xffb", b"csrf=" + CSRF.encode() + b"&email=%FF",
                                  b"csrf=" + CSRF.encode() + b"&email=%00", b"csrf=" + CSRF.encode() + b"&em%00ail=x"])
def test_a_form_body_with_a_nul_or_bad_utf8_is_400(client, admin, body):
    response = client.post("/staff/login", content=body,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert_not_valid(response)
    assert AuditLog.select().count() == 0


def test_a_cookie_with_a_nul_is_400(client, guarantor):
    client.cookies.set("pops_session", "abc%00def")
    assert_not_valid(client.get("/home"))
    client.cookies.set("pops_session", '"abc\\000def"')  # an octal escape the cookie parser decodes to NUL
    assert_not_valid(client.get("/home"))


def _scope(path: bytes = b"/", query: bytes = b"", headers=()) -> dict:
    return {"type": "http", "method": "GET", "path": path.decode("utf-8", "replace"), "raw_path": path,
            "query_string": query, "headers": list(headers)}


@pytest.mark.parametrize("scope,ok", [
    (_scope(b"/receipts/R-1", b"x=%C3%A9", [(b"cookie", b"pops_session=abc")]), True),
    (_scope(b"/receipts/\xff"), False),  # bytes a test client cannot send: checked directly
    (_scope(b"/receipts/%ff"), False),
    (_scope(query=b"name=\xc3"), False),
    (_scope(headers=[(b"cookie", b"pops_session=ab\xff")]), False),
    (_scope(headers=[(b"cookie", b"pops_session=ab%FF")]), False),
    (_scope(headers=[(b"user-agent", b"x\x00y")]), False),
])
def test_the_address_check_on_raw_bytes(scope, ok):
    assert address_valid(scope) is ok


def test_a_form_over_one_megabyte_is_413(client, admin):
    body = b"csrf=" + CSRF.encode() + b"&email=" + b"a" * (1024 * 1024)
    response = client.post("/staff/login", content=body,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_valid_form_still_reaches_its_handler(client, admin):
    response = post_form(client, "/staff/login", {"email": "admin@example.org", "password": "wrong", "code": "1"})
    assert response.status_code not in {400, 413} and NOT_VALID not in response.text


# --- report and batch dates: 2000-01-01 to 2099-12-31 -----------------------------------------

@pytest.mark.parametrize("url", [
    "/staff/reports/sessions?to=9999-12-31", "/staff/reports/payments?from=0001-01-01",
    "/staff/reports/sessions.csv?to=9999-12-31", "/staff/reports/payments.csv?from=0001-01-01",
    "/staff/reports/payments?from=1999-12-31&by=batch", "/staff/reports/payments?to=2100-01-01&by=posted",
    "/staff/batches?from=0001-01-01", "/staff/batches?to=9999-12-31",
])
def test_report_and_batch_dates_out_of_range_are_422_naming_the_range(signed_in, url):
    before = row_counts()
    response = signed_in.get(url)
    assert response.status_code == 422, response.text[:300]
    assert "2000-01-01" in response.text and "2099-12-31" in response.text
    assert row_counts() == before


def test_the_range_is_inclusive(signed_in):
    for url in ["/staff/reports/payments?from=2000-01-01&to=2099-12-31",
                "/staff/reports/sessions.csv?from=2000-01-01&to=2099-12-31",
                "/staff/batches?from=2000-01-01&to=2099-12-31"]:
        assert signed_in.get(url).status_code == 200, url


def test_dates_of_birth_keep_any_past_date(signed_in, guarantor):
    from pops.models import Guarantor

    Guarantor.update(date_of_birth="1890-05-01").where(Guarantor.id == guarantor.id).execute()
    found = signed_in.get("/staff/find?dob=05/01/1890")
    assert found.status_code == 200 and "A1001" in found.text


# --- ids beyond any database id: 404 ----------------------------------------------------------

HUGE = "99999999999999999999"


@pytest.mark.parametrize("url", [f"/staff/batches/{HUGE}", f"/staff/batches/{HUGE}.csv",
                                 f"/staff/batches/{HUGE}/close", "/staff/batches/9223372036854775808",
                                 "/staff/batches/-1", "/staff/batches/%D9%A1%D9%A2%D9%A3"])
def test_batch_ids_beyond_a_database_id_are_404(signed_in, url):
    assert signed_in.get(url).status_code == 404


@pytest.mark.parametrize("path", [f"/staff/admin/staff/{HUGE}/deactivate", f"/staff/admin/staff/{HUGE}/unlock",
                                  f"/staff/requests/{HUGE}/handled", f"/staff/requests/contacts/{HUGE}/handled",
                                  f"/staff/batches/{HUGE}/close", "/staff/admin/staff/%D9%A1/deactivate",
                                  "/staff/admin/staff/-1/deactivate"])
def test_forms_on_ids_beyond_a_database_id_are_404(signed_in, path):
    before = row_counts()
    assert post_form(signed_in, path).status_code == 404
    assert row_counts() == before


def test_a_real_staff_member_is_still_found(signed_in, staff):
    assert post_form(signed_in, f"/staff/admin/staff/{staff.id}/deactivate").status_code == 303
    assert not Staff.get_by_id(staff.id).active


@pytest.mark.parametrize("query", [f"batch={HUGE}", "batch=-1", "batch=%D9%A1"])
def test_a_report_on_a_batch_beyond_a_database_id_is_an_error_not_a_crash(signed_in, query):
    response = signed_in.get(f"/staff/reports/payments?{query}")
    assert response.status_code == 200 and "Batch must be a batch number." in response.text


def test_an_audit_page_before_a_huge_id_is_not_a_crash(signed_in):
    assert signed_in.get(f"/staff/audit?before={HUGE}").status_code == 200
    assert signed_in.get("/staff/audit?before=%D9%A1").status_code == 200


# --- numbers written in other digits, or too long to be numbers ---------------------------------

@pytest.mark.parametrize("value", ["²", "9" * 5000, "١٢", "-5", "0"])
def test_a_group_option_that_is_no_whole_number_is_an_error(signed_in, guarantor, value):
    from pops.models import Group

    response = post_form(signed_in, "/staff/admin/groups/RFM", {
        "name": "Riverside", "brand_color": "#1f5f8b", "timezone": "America/Chicago", "landing_page": "home",
        "session_idle_timeout": value})
    assert response.status_code == 422 and "Use a whole number of at least 1." in response.text
    assert Group.get_by_id(guarantor.group_id).session_idle_timeout == 15


@pytest.mark.parametrize("value", ["%C2%B2", "99999999999999999999", "-1", "%D9%A1"])
def test_appointments_for_a_patient_that_is_no_id(signed_in, value):
    assert signed_in.get(f"/appointments?patient={value}").status_code == 200


def test_a_sandbox_card_number_in_other_digits_is_an_error():
    import datetime as dt

    from pops.gateways.sandbox_page import check_card

    errors, card = check_card("²" * 16, "12/30", "123", True, dt.date(2026, 11, 23))
    assert card is None and "number" in errors


# --- Strict-Transport-Security ----------------------------------------------------------------

def _browser(settings, **changes):
    from pops.app import create_app

    return open_browser(create_app(dataclasses.replace(settings, **changes)))


def test_no_hsts_over_plain_http(client):
    assert "strict-transport-security" not in client.get("/").headers


def test_hsts_when_the_base_url_is_https(settings, db):
    with _browser(settings, base_url="https://pay.example.org") as browser:
        assert browser.get("/").headers["strict-transport-security"] == HSTS


def test_hsts_when_the_request_came_over_https(settings, db):
    from starlette.testclient import TestClient
    from pops.app import create_app

    with TestClient(create_app(settings), base_url="https://testserver") as browser:
        assert browser.get("/").headers["strict-transport-security"] == HSTS


def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(settings, db):
    from starlette.testclient import TestClient
    from pops.app import create_app

    forwarded = {"X-Forwarded-Proto": "https"}
    with TestClient(create_app(settings), client=("10.0.0.7", 50000)) as browser:  # not trusted by default
        assert "strict-transport-security" not in browser.get("/", headers=forwarded).headers
    app = create_app(dataclasses.replace(settings, trusted_proxies=("10.0.0.0/24",)))
    with TestClient(app, client=("10.0.0.7", 50000)) as browser:
        assert browser.get("/", headers=forwarded).headers["strict-transport-security"] == HSTS
        assert "strict-transport-security" not in browser.get("/").headers
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as browser:  # the default proxy
        assert browser.get("/", headers=forwarded).headers["strict-transport-security"] == HSTS


def test_trusted_proxies_setting():
    assert Settings.from_env({}).trusted_proxies == ("127.0.0.1",)
    assert Settings.from_env({"POPS_TRUSTED_PROXIES": " 10.0.0.1, ::1 ,10.2.0.0/16"}).trusted_proxies == (
        "10.0.0.1", "::1", "10.2.0.0/16")
    assert Settings.from_env({"POPS_TRUSTED_PROXIES": "*"}).trusted_proxies == ("*",)
    assert Settings.from_env({"POPS_TRUSTED_PROXIES": ""}).trusted_proxies == ()
    with pytest.raises(SettingsError, match="POPS_TRUSTED_PROXIES"):
        Settings.from_env({"POPS_TRUSTED_PROXIES": "10.0.0.1,proxy.example"})


def test_serve_trusts_forwarded_headers_only_from_the_trusted_proxies(monkeypatch, db_url):
    import uvicorn

    from pops import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    settings = Settings(database_url=db_url, secret_key="k" * 40, trusted_proxies=("10.0.0.7", "10.1.0.0/16"))
    assert cli._serve(settings, "127.0.0.1", 8000) == 0
    assert seen["proxy_headers"] is True and seen["forwarded_allow_ips"] == "10.0.0.7,10.1.0.0/16"


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "²²²²²²"])
def test_a_staff_code_in_other_digits_is_not_accepted_and_not_a_crash(client, admin, code):
    answer = post_staff_login(client, admin, code=code)
    assert answer.status_code == 401
    assert AuditLog.select().where(AuditLog.action == "sign_in_failed", AuditLog.detail == "code").count() == 1


@pytest.mark.parametrize("card", ["%C2%B2", "%D9%A1%D9%A2", "99999999999999999999"])
def test_removing_a_card_that_is_no_id_changes_nothing(signed_in, card):
    answer = post_form(signed_in, f"/pay/cards/{card}/remove")
    assert answer.status_code == 303 and answer.headers["location"] == "/pay"
