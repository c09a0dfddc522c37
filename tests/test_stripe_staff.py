"""With Stripe, staff: a mirror's Pay sends the patient a one-use pay link instead of taking a card, and
the group page says the Stripe account decides wallets and CVV."""
from __future__ import annotations

from pops.models import AuditLog, Guarantor, Link, OutboxMessage, PaymentAttempt
from pops.plans.notices import record_text_consent

from factories import make_staff
from http_helpers import give_staff_session, open_browser, post_form, sign_in_as
from stripe_helpers import account, browser, stripe_app, stripe_server  # noqa: F401 (fixtures)


def test_a_mirror_sends_a_one_use_pay_link_instead_of_taking_a_card(browser, account, stripe_server):
    Guarantor.update(mobile="+15555550123", email="maria@example.org").execute()
    sign_in_as(browser, account, staff=make_staff())
    page = browser.get("/pay").text
    assert "Text the pay link" in page and "Continue to payment" not in page
    refused = post_form(browser, "/pay/start", {"key": "k" * 30, "seq": "0", "account": account.account,
                                                "amount": "amount_due"})
    assert refused.status_code == 400 and "send the patient a pay link" in refused.text
    assert PaymentAttempt.select().count() == 0 and not stripe_server.requests

    refused = post_form(browser, "/pay/send-link", {"channel": "sms"})
    assert "Not sent: no texting consent is recorded for this mobile." in refused.text
    assert OutboxMessage.select().count() == 0
    record_text_consent(Guarantor.get_by_id(account.id), True, "import: paper form")
    sent = post_form(browser, "/pay/send-link", {"channel": "sms"})
    assert sent.status_code == 200 and "A one-use pay link was sent by text to +15555550123." in sent.text
    message = OutboxMessage.get()
    assert message.channel == "sms" and "/q/" in message.body and "$" not in message.body
    link = Link.select().order_by(Link.id.desc()).get()
    assert link.max_uses == 1 and link.created_by is not None
    assert AuditLog.select().where(AuditLog.action == "pay_link_sent").count() == 1
    emailed = post_form(browser, "/pay/send-link", {"channel": "email"})
    assert "sent by email to maria@example.org" in emailed.text and OutboxMessage.select().count() == 2


def test_the_group_page_says_stripe_decides_wallets_and_cvv(stripe_app, account):
    with open_browser(stripe_app) as desk:
        give_staff_session(desk, make_staff("admin@example.org", role="admin"))
        page = desk.get(f"/staff/admin/groups/{account.group.code}").text
    assert "decided in the practice's Stripe account" in page
