"""Spanish everywhere a patient looks: which language a page speaks (the patient's choice > this browser's
switch > the import's > Accept-Language > English), the switch, a staff mirror, money and dates, stored
messages translated when shown, and texts and emails in the guarantor's language."""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from pops import i18n
from pops.importer import ImportRefused, import_document, load
from pops.models import AuditLog, Guarantor, OutboxMessage, PaymentAttempt

from factories import build_ledger, make_encounter, make_patient, make_statement, owe
from http_helpers import post_form, sign_in_as, staff_login

ES = {"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def lang_of(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def switch_href(html: str) -> str:
    return re.search(r'<a href="([^"]+)"[^>]*data-testid="language-switch"', html).group(1).replace("&amp;", "&")


def refresh(guarantor) -> Guarantor:
    return Guarantor.get_by_id(guarantor.id)


# --- which language ----------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("es-MX,es;q=0.9", "es"), ("en-US,en;q=0.9,es;q=0.8", "en"), ("fr-FR,es;q=0.5", "es"),
    ("es;q=0,en", "en"), ("de", ""), ("", ""), ("es;q=abc, en;q=0.2", "en"), ("en;q=0.2, es", "es"),
])
def test_accept_language_picks_the_first_language_pops_speaks(header, expected):
    assert i18n.from_accept_language(header) == expected


def test_a_visitor_gets_their_browser_language_and_every_page_says_which(client):
    page = client.get("/", headers=ES)
    assert lang_of(page.text) == "es" and "Pague su factura médica" in page.text
    assert 'lang="en" hreflang="en"' in page.text and ">English</a>" in page.text
    english = client.get("/", headers=EN)
    assert lang_of(english.text) == "en" and "Pay your medical bill" in english.text and ">Español</a>" in english.text
    assert lang_of(client.get("/login?group=RFM", headers=ES).text) == "es"
    missing = client.get("/no-such-page", headers=ES)
    assert missing.status_code == 404 and lang_of(missing.text) == "es" and "No se encontró" in missing.text


def test_the_switch_is_a_plain_link_back_to_the_page_remembered_in_a_cookie(client, group):
    login = client.get("/login?group=RFM", headers=EN)
    assert switch_href(login.text) == "/language?to=es"
    switched = client.get("/language?to=es", headers={**EN, "Referer": "http://testserver/login?group=RFM"})
    assert switched.status_code == 303 and switched.headers["location"] == "/login?group=RFM"
    cookie = switched.headers["set-cookie"]
    assert "pops_lang=es" in cookie and "HttpOnly" in cookie and "Max-Age=31536000" in cookie
    page = client.get("/login?group=RFM", headers=EN)  # the choice beats the browser's language
    assert lang_of(page.text) == "es" and "Iniciar sesión" in page.text
    assert AuditLog.select().count() == 0  # a visitor has no account to keep it on


@pytest.mark.parametrize("query, referer, location", [
    ("to=es&next=/quickpay", "", "/quickpay"),
    ("to=es", "https://evil.example/phish", "/"),
    ("to=es&next=//evil.example/x", "", "/"),
    ("to=es&next=https://evil.example/", "", "/"),
    ("to=es&next=/\\evil.example", "", "/"),
    ("to=es", "", "/"),
])
def test_the_switch_only_leads_back_to_this_site(client, query, referer, location):
    response = client.get(f"/language?{query}", headers={"Referer": referer} if referer else {})
    assert response.status_code == 303 and response.headers["location"] == location


@pytest.mark.parametrize("query", ["to=fr", "to=", "", "to=ES", "to=es%00"])
def test_an_unknown_language_is_refused_and_changes_nothing(client, guarantor, query):
    sign_in_as(client, guarantor)
    response = client.get(f"/language?{query}")
    assert response.status_code == 400 and "set-cookie" not in response.headers
    assert refresh(guarantor).chosen_language == "" and AuditLog.select().count() == 0


def test_a_patient_s_choice_is_kept_on_the_account_and_beats_everything(app, client, guarantor):
    build_ledger(guarantor)
    Guarantor.update(language="en").execute()  # the import says English
    sign_in_as(client, guarantor)
    home = client.get("/home", headers=EN)
    assert lang_of(home.text) == "en"
    switched = client.get(switch_href(home.text), headers={"Referer": "http://testserver/home"})
    assert switched.headers["location"] == "/home"
    assert refresh(guarantor).chosen_language == "es"
    audit = AuditLog.get(AuditLog.action == "language_chosen")
    assert (audit.guarantor_id, audit.detail) == (guarantor.id, "es")
    # another browser, English everywhere, no cookie: the account's choice still wins
    from http_helpers import open_browser
    with open_browser(app) as other:
        sign_in_as(other, guarantor)
        page = other.get("/home", headers=EN)
        assert lang_of(page.text) == "es" and "Inicio" in page.text and "Cerrar sesión" in page.text
    # choosing the same again records nothing more
    client.get("/language?to=es")
    assert AuditLog.select().where(AuditLog.action == "language_chosen").count() == 1


def test_the_import_s_language_beats_the_browser_until_the_patient_chooses(client, guarantor):
    build_ledger(guarantor)
    Guarantor.update(language="es").execute()
    sign_in_as(client, guarantor)
    assert lang_of(client.get("/home", headers=EN).text) == "es"
    client.get("/language?to=en")
    assert refresh(guarantor).chosen_language == "en"
    assert lang_of(client.get("/home", headers=ES).text) == "en"


def test_profile_offers_the_choice_as_a_plain_form(client, guarantor):
    build_ledger(guarantor)
    sign_in_as(client, guarantor)
    profile = client.get("/profile", headers=ES).text
    assert '<form method="get" action="/language"' in profile and 'name="next" value="/profile"' in profile
    saved = client.get("/language?next=%2Fprofile&to=en")
    assert saved.headers["location"] == "/profile" and refresh(guarantor).chosen_language == "en"


def test_a_staff_mirror_shows_the_patient_s_language_and_never_saves_one(client, guarantor, staff):
    build_ledger(guarantor)
    Guarantor.update(language="es").execute()
    sign_in_as(client, guarantor, origin="staff_mirror", staff=staff)
    home = client.get("/home", headers=EN)  # the staff member's browser is English
    assert lang_of(home.text) == "es" and "mirror-banner" in home.text and "Vista del personal" in home.text
    assert 'data-testid="language-switch"' not in home.text
    profile = client.get("/profile", headers=EN).text
    assert 'action="/language"' not in profile and 'data-testid="profile-language">Español<' in profile
    response = client.get("/language?to=en&next=/home")
    assert response.status_code == 303 and "set-cookie" not in response.headers
    assert refresh(guarantor).chosen_language == "" and AuditLog.select().where(
        AuditLog.action == "language_chosen").count() == 0
    assert lang_of(client.get("/home", headers=EN).text) == "es"


def test_the_staff_console_stays_english(client, guarantor, staff):
    build_ledger(guarantor)
    Guarantor.update(chosen_language="es").execute()
    client.cookies.set("pops_lang", "es")
    staff_login(client, staff)
    page = client.get("/staff/guarantors/A1001", headers=ES)
    assert page.status_code == 200 and lang_of(page.text) == "en"
    assert "Skip to content" in page.text and "Ir al contenido" not in page.text


# --- money, dates and stored messages ---------------------------------------------------------

def test_babel_writes_money_and_dates_as_us_spanish():
    assert i18n.format_money(Decimal("1234.56"), "es") == "$1,234.56"
    assert i18n.format_money(Decimal("-5"), "es") == "-$5.00"
    assert i18n.format_date(dt.date(2026, 12, 1), "full", lang="es") == "1 de diciembre de 2026"
    assert i18n.format_date(dt.date(2026, 12, 1), "long", lang="es") == "1 dic 2026"
    assert i18n.format_date(dt.date(2026, 12, 1), "short", lang="es") == "12/01/2026"  # as the forms take it
    at = dt.datetime(2026, 12, 1, 21, 5, tzinfo=dt.timezone.utc)
    assert i18n.format_date(at, "time", "America/Chicago", lang="es") == "3:05 p.m."
    assert i18n.format_date(at, "time", "America/Chicago") == "3:05 PM"
    assert (i18n.stripe_locale("es"), i18n.stripe_locale("en"), i18n.stripe_locale("")) == ("es-419", "en", "auto")


def test_a_message_keeps_its_parameters_and_is_formatted_in_the_reader_s_language():
    message = i18n.N_("Please enter an amount from $1.00 to {max}.").format(max=Decimal("1234.5"))
    assert message == "Please enter an amount from $1.00 to $1,234.50."  # English wherever it is read as text
    assert i18n.gettext("es", message) == "Escriba un monto de $1.00 a $1,234.50."
    dated = i18n.N_("You have a new statement from %(date)s.")
    assert i18n.gettext("es", dated) == "Tiene un nuevo estado de cuenta del %(date)s."


def test_a_spanish_receipt_writes_its_date_and_amount_in_spanish(client, guarantor):
    make_encounter(guarantor, "E1", patient=make_patient(guarantor, "P1", "Leo", "Lopez"), date=dt.date(2026, 9, 1),
                   provider="Dr. Ada Stone", charge="1234.56")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), balance="1234.56")
    Guarantor.update(chosen_language="es").execute()
    sign_in_as(client, guarantor, quickpay=True)
    page = pay_with(client, "4242 4242 4242 4242")
    assert lang_of(page) == "es" and "Pago recibido" in page and "Se pagaron $1,234.56 a Riverside Family Medicine" in page
    receipt = client.get(f"/receipts/{PaymentAttempt.get().receipt.number}", headers=EN).text
    assert lang_of(receipt) == "es" and "23 de noviembre de 2026" in receipt and "$1,234.56" in receipt


def pay_with(client, number: str) -> str:
    """Pay the amount due on QuickPay with this sandbox card, in Spanish; the result page's HTML."""
    form = client.get("/quickpay").text
    fields = {name: re.search(rf'name="{name}" value="([^"]+)"', form).group(1) for name in ("key", "seq", "account")}
    started = post_form(client, "/pay/start", {**fields, "amount": "amount_due"})
    hosted_path = urlsplit(started.headers["location"]).path
    hosted = client.get(hosted_path, headers=EN)  # the guarantor's language, not the browser's
    assert lang_of(hosted.text) == "es" and "Número de tarjeta" in hosted.text and "Cuenta" not in hosted.text
    assert "Riverside Family Medicine · cuenta A1001" in hosted.text
    paid = client.post(hosted_path, data={"number": number, "expiry": "12/30", "cvc": "123"})
    back = urlsplit(paid.headers["location"])
    result = client.get(f"{back.path}?{back.query}").headers["location"]
    return client.get(result).text


def test_the_sandbox_page_follows_the_browser_when_the_account_has_no_language(client, guarantor):
    owe(guarantor)
    sign_in_as(client, guarantor, quickpay=True)
    form = client.get("/quickpay").text
    fields = {name: re.search(rf'name="{name}" value="([^"]+)"', form).group(1) for name in ("key", "seq", "account")}
    hosted = urlsplit(post_form(client, "/pay/start", {**fields, "amount": "amount_due"}).headers["location"]).path
    assert lang_of(client.get(hosted, headers=ES).text) == "es"
    english = client.get(hosted, headers=EN).text
    assert lang_of(english) == "en" and "Card number" in english
    refused = client.post(hosted, data={"number": "1234", "expiry": "13/30"}, headers=ES).text
    assert "Escriba el número de la tarjeta (de 12 a 19 dígitos)." in refused
    assert "Escriba la fecha de vencimiento como MM/AA." in refused


def test_a_decline_is_stored_as_a_code_and_shown_in_the_page_s_language(client, guarantor):
    owe(guarantor)
    sign_in_as(client, guarantor, quickpay=True)
    english = pay_with_browser_language(client, "4000 0000 0000 0002", EN)
    assert "Your card was declined." in english
    attempt = PaymentAttempt.get()
    assert (attempt.message, attempt.message_code, attempt.message_params) == ("Your card was declined.",
                                                                               "card_declined", "{}")
    spanish = client.get(f"/pay/result/{attempt.key}", headers=ES).text
    assert lang_of(spanish) == "es" and "Su tarjeta fue rechazada." in spanish and "El pago no se realizó" in spanish


def pay_with_browser_language(client, number: str, headers: dict) -> str:
    form = client.get("/quickpay", headers=headers).text
    fields = {name: re.search(rf'name="{name}" value="([^"]+)"', form).group(1) for name in ("key", "seq", "account")}
    hosted = urlsplit(post_form(client, "/pay/start", {**fields, "amount": "amount_due"}).headers["location"]).path
    paid = client.post(hosted, data={"number": number, "expiry": "12/30", "cvc": "123"})
    back = urlsplit(paid.headers["location"])
    return client.get(client.get(f"{back.path}?{back.query}").headers["location"], headers=headers).text


def test_a_row_from_before_codes_keeps_its_english_text(client, app, guarantor):
    owe(guarantor)
    app.state.gateway.unreachable = True
    PaymentAttempt.create(key="k" * 32, guarantor=guarantor, entrance="quickpay", amount=Decimal("80.00"),
                          amount_choice="amount_due", status=PaymentAttempt.ERROR,
                          message="The card processor had a problem.", gateway_checkout="co_1")
    sign_in_as(client, guarantor, quickpay=True)
    page = client.get(f"/pay/result/{'k' * 32}", headers=ES).text
    assert lang_of(page) == "es" and "The card processor had a problem." in page and "No se le cobró nada." in page


def test_a_refusal_formatted_with_parameters_is_translated_whole(client, guarantor):
    owe(guarantor)
    Guarantor.update(chosen_language="es").execute()
    sign_in_as(client, guarantor)
    form = client.get("/pay").text
    fields = {name: re.search(rf'name="{name}" value="([^"]+)"', form).group(1) for name in ("key", "seq", "account")}
    refused = post_form(client, "/pay/start", {**fields, "amount": "other", "other_amount": "9999.00"})
    assert refused.status_code == 400
    assert "Escriba un monto de $1.00 a $80.00." in refused.text and PaymentAttempt.select().count() == 0


# --- texts and emails ---------------------------------------------------------------------------

def test_the_balance_email_goes_in_the_guarantor_s_language(client, guarantor, staff):
    owe(guarantor, "1234.56", "1234.56")
    Guarantor.update(language="es").execute()
    staff_login(client, staff)
    assert post_form(client, "/staff/guarantors/A1001/notify", {"channel": "email"}).status_code == 303
    message = OutboxMessage.get()
    assert message.subject == "Su saldo con Riverside Family Medicine: $1,234.56"
    assert message.body.startswith("Hola, Maria Lopez:\n\nSu monto a pagar a Riverside Family Medicine es de $1,234.56.")
    assert message.body.endswith("¿Tiene preguntas? Llame al (555) 010-2000.\n")


def test_without_a_language_texts_and_emails_are_english(client, guarantor, staff):
    owe(guarantor)
    client.cookies.set("pops_lang", "es")  # a browser's choice is not the account's
    staff_login(client, staff)
    post_form(client, "/staff/guarantors/A1001/notify", {"channel": "email"})
    message = OutboxMessage.get()
    assert message.subject == "Your balance with Riverside Family Medicine: $80.00"
    assert message.body.startswith("Hello Maria Lopez,\n\nYour amount due to Riverside Family Medicine is $80.00.")


def test_a_sign_in_code_goes_in_the_guarantor_s_language(client, guarantor):
    Guarantor.update(chosen_language="es").execute()
    assert post_form(client, "/login", {"first_name": "Maria", "last_name": "Lopez",
                                        "date_of_birth": "1981-04-12"}).status_code == 303
    email = re.search(r'name="destination" value="(\d+:email)"', client.get("/login/send").text).group(1)
    assert post_form(client, "/login/send", {"destination": email}).status_code == 303
    message = OutboxMessage.get()
    assert message.subject == "Su código para iniciar sesión"
    assert re.match(r"\d{6} es su código de Riverside Family Medicine para iniciar sesión\. Vence en 10 minutos\.",
                    message.body)
    assert "Si usted no pidió este código, puede ignorar este mensaje." in message.body


def test_the_emailed_receipt_is_in_the_guarantor_s_language(client, guarantor):
    guarantor.group.email_receipts = True
    guarantor.group.save()
    make_encounter(guarantor, "E1", patient=make_patient(guarantor, "P1", "Leo", "Lopez"), date=dt.date(2026, 9, 1),
                   provider="Dr. Ada Stone", charge="50.00")
    make_statement(guarantor, "S-1", date=dt.date(2026, 10, 15), balance="50.00")
    Guarantor.update(language="es").execute()
    sign_in_as(client, guarantor, quickpay=True)
    pay_with(client, "4242 4242 4242 4242")
    message = OutboxMessage.get(OutboxMessage.purpose == "receipt")
    assert message.subject.startswith("Su recibo de pago POPS-")
    assert "Gracias por su pago a Riverside Family Medicine." in message.body
    assert "Fecha de pago: 23 de noviembre de 2026" in message.body and "Monto pagado: $50.00" in message.body


# --- the import ---------------------------------------------------------------------------------

def document(**guarantor) -> str:
    return json.dumps({"format": "pops-import/1",
                       "groups": [{"code": "RFM", "name": "Riverside Family Medicine"}],
                       "guarantors": [{"account": "A1001", "group": "RFM", "first_name": "Maria",
                                       "last_name": "Lopez", "date_of_birth": "1981-04-12", "sms_opt_out": False,
                                       "escrow": "0.00", "unapplied": "0.00", "patients": [], "encounters": [],
                                       **guarantor}]})


def test_the_import_sets_the_language_and_leaving_it_out_keeps_it(db):
    import_document(load(document(language="es")))
    assert Guarantor.get().language == "es"
    Guarantor.update(chosen_language="en").execute()
    import_document(load(document()))
    assert (Guarantor.get().language, Guarantor.get().chosen_language) == ("es", "en")  # the patient's choice stays
    import_document(load(document(language="en")))
    assert Guarantor.get().language == "en"


@pytest.mark.parametrize("value", ["fr", "ES", "", 1, None])
def test_the_import_refuses_a_language_pops_does_not_speak(db, value):
    with pytest.raises(ImportRefused) as refused:
        import_document(load(document(language=value)))
    assert "language" in str(refused.value.problems[0].path) and Guarantor.select().count() == 0


def test_a_macro_imported_without_context_speaks_the_page_s_language(client, guarantor):
    build_ledger(guarantor)
    Guarantor.update(chosen_language="es").execute()
    sign_in_as(client, guarantor)
    account = client.get("/account?history=all").text  # the visit lines come from portal/_macros.html
    assert 'data-label="Facturado"' in account and "Billed" not in account
    assert "10 ago 2026" in account and "Aug 10, 2026" not in account


def test_the_session_ended_page_has_the_switch_too(client, guarantor):
    build_ledger(guarantor)
    ended = client.get("/quickpay", headers=ES)  # no session: the page that says it ended
    assert lang_of(ended.text) == "es" and "Su sesión terminó" in ended.text
    assert switch_href(ended.text) == "/language?to=en"


def test_a_payment_plan_refusal_with_its_amounts_is_in_spanish(client, group, guarantor):
    group.payment_plans = group.enable_payment_method_storage = True
    group.save()
    owe(guarantor, "80.00", "80.00")
    Guarantor.update(chosen_language="es").execute()
    sign_in_as(client, guarantor)
    page = client.get("/pay/plan/review", params={"months": "3", "day": "15"})
    assert page.status_code == 400
    assert "Para un plan de pagos, el saldo debe ser de al menos $100.00. Su saldo es de $80.00." in page.text


def test_a_payment_plan_s_schedule_and_truth_in_lending_box_are_in_spanish(client, group, guarantor):
    group.payment_plans = group.enable_payment_method_storage = True
    group.save()
    owe(guarantor, "300.00", "300.00")
    Guarantor.update(chosen_language="es").execute()
    sign_in_as(client, guarantor)
    page = client.get("/pay/plan/review", params={"months": "3", "day": "15"})
    assert page.status_code == 200, page.text
    assert "Divulgación según la Ley de Veracidad en los Préstamos" in page.text
    assert "Tasa de porcentaje anual" in page.text and ">Hoy (" in page.text


def test_each_paper_statement_is_printed_in_its_guarantor_s_language(group, guarantor, second):
    import io

    from pops import statements

    day = dt.date(2026, 11, 2)
    for who, lang in ((guarantor, "es"), (second, "")):
        Guarantor.update(language=lang, address_line1="12 Elm St", city="Springfield", state="IL",
                         zip="62701").where(Guarantor.id == who.id).execute()
        visit = make_encounter(who, "E1", patient=make_patient(who, "P1", who.first_name, who.last_name),
                               date=day - dt.timedelta(days=20), provider="Dr. Ortiz", charge="1234.56")
        make_statement(who, f"S-{who.account}", date=day, due_date=day + dt.timedelta(days=25), balance="1234.56",
                       encounters=[visit])
    out = io.StringIO()
    statements.run([group], "s" * 40, "http://testserver", out)
    spanish, english = (re.search(rf'<article [^>]*data-account="{account}".*?</article>', out.getvalue(), re.S).group()
                        for account in ("A1001", "B2002"))
    assert 'lang="es"' in spanish and "Monto a pagar" in spanish and "2 nov 2026" in spanish
    assert "$1,234.56" in spanish and "Amount Due" not in spanish
    assert 'lang="en"' in english and "Amount Due" in english and "Nov 2, 2026" in english


def test_a_payment_plan_email_goes_in_the_guarantor_s_language(db, guarantor):
    from pops.plans import notices

    Guarantor.update(language="es", mobile="").execute()
    notices.tell(refresh(guarantor), None, "cancelled", base_url="http://testserver", detail="")
    message = OutboxMessage.get(OutboxMessage.purpose == "plan_cancelled")
    assert message.subject == "Su plan de pagos se canceló"
    assert message.body.startswith("Su plan de pagos se canceló: no se cobrará nada más.")


def test_a_kept_message_keeps_the_kind_of_its_parameters():
    message = i18n.coded("test_kept", i18n.N_("Please pay the Amount Due of {amount}.")).format(amount=Decimal("1234.5"))
    text, code, params = i18n.stored(message)
    assert (text, code) == ("Please pay the Amount Due of $1,234.50.", "test_kept")
    again = i18n.from_stored(text, code, params)
    assert i18n.gettext("es", again) == "Pague el monto a pagar de $1,234.50."
    assert i18n.from_stored(text, code, '{"other": 1}') == text  # a parameter it does not know: its English stands
    assert i18n.from_stored(text, code, "not json") == text and i18n.from_stored(text, "gone", "") == text


def test_the_shared_refusal_pages_have_the_switch_but_not_in_the_staff_console(client, staff):
    expired = post_form(client, "/login", {"csrf": "forged"}, headers=ES)
    refused = client.get("/language?to=xx", headers=ES)
    for page in (expired, refused):
        assert page.status_code in (400, 403) and lang_of(page.text) == "es"
        assert switch_href(page.text).startswith("/language?to=en")
    staff_login(client, staff)
    staff_expired = post_form(client, "/staff/guarantors/A1001/notify", {"csrf": "forged"}, headers=ES)
    assert lang_of(staff_expired.text) == "en" and 'data-testid="language-switch"' not in staff_expired.text
