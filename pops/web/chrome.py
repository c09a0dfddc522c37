"""The patient chrome, decided once: QuickPay's one screen or the full portal with its menu.

Every patient page gets `chrome` in its context: the layout it extends, where the practice's
name leads, where "Try again" and "Back" go. Templates ask chrome, never the session's kind.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import N_
from ..models import Group, PatientSession


@dataclass(frozen=True)
class Chrome:
    base: str  # the layout a page extends
    home_url: str  # where the practice's name leads
    pay_url: str = ""  # the page with the pay form ("Try again", "Back to payment")
    pay_page: str = ""  # that page's template, to show the form again with what went wrong
    receipts_url: str = ""  # "Back" from a receipt
    not_found: str = ""  # the page for a receipt that is not the patient's
    view: str = ""  # what a staff mirror sees, named in its banner (marked for translation)


QUICKPAY = Chrome(base="patient/base.html", home_url="/quickpay", pay_url="/quickpay", pay_page="quickpay/page.html",
                  receipts_url="/quickpay", not_found="quickpay/not_found.html", view=N_("QuickPay"))
PORTAL = Chrome(base="portal/base.html", home_url="/home", pay_url="/pay", pay_page="portal/pay/page.html",
                receipts_url="/receipts", not_found="portal/not_found.html", view=N_("portal"))
# A page shown without the patient's session (a pay result after the session ended): the branded
# layout, no menu; paying again starts from the link the patient has.
NO_SESSION = Chrome(base="patient/base.html", home_url="/home", pay_url="/quickpay")


def patient_chrome(session: PatientSession | None) -> Chrome:
    """The chrome of this session's pages."""
    if session is None:
        return NO_SESSION
    return QUICKPAY if session.quickpay else PORTAL


def signin_chrome(group: Group | None) -> Chrome:
    """Sign-in pages: the practice's branding when it is known; "Start over" and the name lead to sign-in."""
    return Chrome(base="patient/base.html", home_url=f"/login?group={group.code}" if group else "/login")


def page(session: PatientSession, title: str, *, active: str = "", **context) -> dict:
    """The context every patient page starts from: who, which practice, the chrome, the menu item."""
    return {"session": session, "guarantor": session.guarantor, "group": session.group,
            "chrome": patient_chrome(session), "title": title, "active": active, **context}
