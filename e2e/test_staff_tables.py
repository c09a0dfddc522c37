"""Staff tables that fit (issue 13), in a real browser: at 1280 px the POPS Payments report shows every
column ("Taken by" included) and its totals, and the Session Usage "By day"/"By group" tables, without a
sideways scroll; on a phone (390 px) the outbox's messages are on screen. The desktop portal's Account
tables keep each date on one line. Each page's screenshot is kept in POPS_ARTIFACTS_DIR
(test-artifacts/e2e/ by default), whether the test passes or not, to be looked at."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from pops import batches, clock, notify, sessions
from pops.db import database
from pops.models import Group, Guarantor, Receipt, Staff, Transaction

from helpers import ARTIFACTS_DIR, create_staff, import_demo, server_database, sign_in_context, staff_sign_in

EMAIL = "reconciliation.supervisor@riverside-family-medicine.example.org"  # a long "Taken by"
PHONE_EMAIL = "front.desk@riverside-family-medicine.example.org"
PASSWORD = "a long staff password for the tables"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "en-US"}
LONG_MESSAGE = ("Hello Maria Lopez,\n\nYour amount due to Riverside Family Medicine is $1,234.56.\nYou can see your "
                "balance and pay securely here:\nhttp://127.0.0.1:8000/q/ABCD-EFGH-JKMN-PQRS-TVWX\n\n"
                "Questions? Call (555) 010-2000.")


def _fits(page: Page, testid: str) -> dict:
    """The named table's widths: its own and its scrolling box's (the table and the box around it)."""
    return page.get_by_test_id(testid).evaluate(
        """t => { const box = t.closest('.table-scroll') || t.parentElement;
                  return {table: [t.scrollWidth, t.clientWidth], box: [box.scrollWidth, box.clientWidth]}; }""")


def assert_fits(page: Page, *testids: str) -> None:
    for testid in testids:
        widths = _fits(page, testid)
        assert widths["table"][0] <= widths["table"][1] and widths["box"][0] <= widths["box"][1], \
            f"{testid} is wider than its box (scrollWidth, clientWidth): {widths}"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), \
        "the page scrolls sideways"


def keep(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"test_staff_tables__{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def console(server) -> dict:
    """The demo practices, a staff member with a long email who took payments and a refund, messages."""
    import_demo(server)
    secret = create_staff(server, EMAIL, PASSWORD)
    phone_secret = create_staff(server, PHONE_EMAIL, PASSWORD)  # each sign-in its own code (a code works once)
    with server_database(server):
        member = Staff.get(Staff.email == EMAIL)
        today = clock.now()
        groups = list(Group.select().order_by(Group.code))
        first = {g.code: Guarantor.select().where(Guarantor.group == g).order_by(Guarantor.account).first()
                 for g in groups}
        first = {code: guarantor for code, guarantor in first.items() if guarantor is not None}  # a group made by another test may have none
        codes = list(first)
        for number, (code, amount, minutes) in enumerate(
                [(codes[0], "125.00", 5), (codes[1], "1234.56", 65), (codes[0], "0.00", 95)], start=1):
            guarantor = first[code]
            when = today - dt.timedelta(minutes=minutes)
            with database.atomic():
                batch = batches.batch_for_payment(guarantor.group, when)
                receipt = Receipt.create(
                    number=f"POPS-E2E-{number:04d}", guarantor=guarantor, source="pops", received_at=when,
                    received_date=batches.local_date(guarantor.group, when), method="card", card_type="Mastercard",
                    last4="4444", amount=Decimal(amount), status="paid" if amount != "0.00" else "unsuccessful",
                    batch=batch, taken_by=member)
                Transaction.create(receipt=receipt, number=f"ch_e2e_{number}", kind="sale", amount=Decimal(amount),
                                   status="approved", created_at=when)
        refunded = Receipt.get(Receipt.number == "POPS-E2E-0002")
        Transaction.create(receipt=refunded, number="re_e2e_1", kind="refund", amount=Decimal("34.56"),
                           created_at=today - dt.timedelta(minutes=30), refund_receipt_number="POPS-E2E-0002-R1",
                           staff=member, batch=refunded.batch)
        Receipt.update(refunded_amount=Decimal("34.56"), status="partially_refunded").where(
            Receipt.id == refunded.id).execute()
        maria = Guarantor.get(Guarantor.account == "A1001")
        notify.queue_email(maria.email, "Your balance with Riverside Family Medicine: $1,234.56", LONG_MESSAGE,
                           purpose="balance", guarantor=maria)
        notify.queue_sms(maria.mobile or "+15555550123", "Riverside Family Medicine: your amount due is $1,234.56. "
                         "Pay securely at http://127.0.0.1:8000/q/ABCD-EFGH-JKMN-PQRS-TVWX",
                         purpose="balance", guarantor=maria)
        for origin, auth in (("sms_link", "quickpay"), ("statement_qr", "quickpay"), ("sign_in", "code")):
            for guarantor in first.values():
                sessions.start_patient(guarantor, origin, auth, quickpay=auth == "quickpay")
    return {"secret": secret, "phone_secret": phone_secret}


@pytest.fixture
def desk(browser) -> Page:
    context = browser.new_context(**DESKTOP)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser) -> Page:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_at_1280_px_the_payments_report_and_the_session_totals_fit(server, console, desk):
    staff_sign_in(desk, server, EMAIL, PASSWORD, console["secret"])
    desk.goto(f"{server.url}/staff/reports/payments")
    rows = desk.get_by_test_id("rows")
    expect(rows.get_by_role("row").filter(has_text="POPS-E2E-0002-R1")).to_contain_text(EMAIL)
    keep(desk, "payments_1280")
    assert_fits(desk, "totals", "rows")
    taken_by = rows.locator("tbody tr").first.locator("td").last
    box = taken_by.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280, f"Taken by is off the screen: {box}"
    expect(taken_by).to_be_in_viewport()

    desk.goto(f"{server.url}/staff/reports/payments?total_by=group")
    keep(desk, "payments_by_group_1280")
    assert_fits(desk, "totals", "rows")

    desk.goto(f"{server.url}/staff/reports/sessions")
    expect(desk.get_by_role("heading", name="By day")).to_be_visible()
    keep(desk, "sessions_1280")
    assert_fits(desk, "by-period", "by-group", "by-origin")

    desk.goto(f"{server.url}/staff/outbox")
    keep(desk, "outbox_1280")
    assert_fits(desk, "outbox")


def test_on_a_phone_the_outbox_shows_each_message(server, console, phone):
    staff_sign_in(phone, server, PHONE_EMAIL, PASSWORD, console["phone_secret"])
    phone.goto(f"{server.url}/staff/outbox")
    keep(phone, "outbox_390")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the outbox scrolls sideways"
    message = phone.get_by_test_id("outbox-message").filter(has_text="Your amount due to")
    expect(message).to_contain_text("Your amount due to Riverside Family Medicine is $1,234.56.")
    expect(message).to_be_in_viewport()
    box = message.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the message is off-screen: {box}"
    for testid in ("outbox",):
        widths = _fits(phone, testid)
        assert widths["box"][0] <= widths["box"][1], widths

    phone.goto(f"{server.url}/staff/reports/payments")
    keep(phone, "payments_390")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the report page scrolls sideways"


def test_the_desktop_portal_keeps_account_dates_on_one_line(server, console, browser):
    context = browser.new_context(**DESKTOP)
    try:
        sign_in_context(context, server, "A1001")
        page = context.new_page()
        page.goto(f"{server.url}/account?history=all")
        expect(page.get_by_role("heading", name="Account")).to_be_visible()
        keep(page, "portal_account_1280")
        tables = page.locator("table.lines")
        assert tables.count() > 0
        overflowing = page.evaluate("""() => [...document.querySelectorAll('table.lines')]
            .filter(t => t.scrollWidth > t.clientWidth || t.parentElement.scrollWidth > t.parentElement.clientWidth)
            .map(t => t.querySelector('caption').textContent)""")
        assert overflowing == []
        # every date (captions and service dates) on one line
        wrapped = page.evaluate("""() => [...document.querySelectorAll('table.lines tbody td:first-child')]
            .filter(td => { const r = document.createRange(); r.selectNodeContents(td);
                            return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; })
            .map(td => td.textContent)""")
        assert wrapped == [], f"dates wrapped: {wrapped[:5]}"
        width = page.locator("main").bounding_box()["width"]
        assert width >= 900, f"the portal column is {width} px wide at 1280 px"
    finally:
        context.close()
