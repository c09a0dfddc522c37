"""The staff console: find a guarantor, the dashboard, mirror, desk QR, notifications, management, outbox, audit."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import audit as audit_log
from .. import console, ledger, links, notify, qr, sessions
from ..audit import audit
from ..db import database
from ..models import Group, Guarantor, OutboxMessage, PatientSession, Receipt, Staff
from ..staff import ROLES, StaffError, create_staff, provisioning_uri
from .auth import PATIENT_COOKIE, clear_session_cookie, end_current_patient_session, patient_session, set_cookie
from .staff_auth import staff_form, staff_page
from .templating import render
from .util import client_ip, with_db

OUTBOX_PAGE = 200


def _guarantor(request: Request) -> Guarantor | None:
    return (Guarantor.select(Guarantor, Group).join(Group)
            .where(Guarantor.account == request.path_params["account"]).get_or_none())


def _not_found(request: Request, staff_session) -> Response:
    return render(request, "staff/not_found.html", {"title": "Not found", "staff_session": staff_session},
                  status_code=404)


# --- find and dashboard ---------------------------------------------------------------------

@staff_page
def find(request: Request, staff_session) -> Response:
    fields = {k: request.query_params.get(k, "")[:100] for k in ("name", "account", "dob", "phone")}
    results, problem = console.find_guarantors(**fields)
    searched = any(v.strip() for v in fields.values())
    if searched and not problem:
        used = ", ".join(f"{k}={v.strip()}" for k, v in fields.items() if v.strip() and k != "dob")
        audit(staff_session.staff, "search", detail=f"{used}{' dob' if fields['dob'].strip() else ''}; "
              f"{len(results)} found", request=request)
    return render(request, "staff/find.html", {"title": "Find a guarantor", "staff_session": staff_session,
                  "active": "find", "fields": fields, "results": results, "problem": problem,
                  "searched": searched})


def _dashboard(request: Request, staff_session, guarantor: Guarantor, *, notice: str = "", error: str = "",
               status_code: int = 200) -> Response:
    audit(staff_session.staff, "view_dashboard", guarantor, request=request)
    return render(request, "staff/dashboard.html", {
        "title": guarantor.full_name,
        "staff_session": staff_session,
        "guarantor": guarantor,
        "group": guarantor.group,
        "balances": (figures := ledger.balances_for(guarantor)),
        "eligibility": ledger.eligibility_for(guarantor, figures),
        "receipts": list(Receipt.select().where(Receipt.guarantor == guarantor)
                         .order_by(Receipt.received_at.desc(), Receipt.id.desc()).limit(50)),
        "notice": notice,
        "error": error,
    }, status_code=status_code)


NOTICES = {"sms": "Text message queued.", "email": "Email queued.", "mirror_ended": "Mirror ended."}


@staff_page
def dashboard(request: Request, staff_session) -> Response:
    guarantor = _guarantor(request)
    if guarantor is None:
        return _not_found(request, staff_session)
    return _dashboard(request, staff_session, guarantor, notice=NOTICES.get(request.query_params.get("done", ""), ""))


@staff_form
def send_notification(request: Request, form: FormData, staff_session) -> Response:
    guarantor = _guarantor(request)
    if guarantor is None:
        return _not_found(request, staff_session)
    settings = request.app.state.settings
    channel = str(form.get("channel", ""))
    with database.atomic():
        result = console.send_balance_notification(guarantor, channel, staff_session.staff,
                                                   secret_key=settings.secret_key, base_url=settings.base_url)
        audit(staff_session.staff, "notification_sent" if result.sent else "notification_refused", guarantor,
              detail=f"{channel}: {result.message}", request=request)
    if not result.sent:
        return _dashboard(request, staff_session, guarantor, error=result.message, status_code=422)
    notify.deliver(settings)
    return RedirectResponse(f"/staff/guarantors/{guarantor.account}?done={channel}", status_code=303)


@staff_form
def desk_qr(request: Request, form: FormData, staff_session) -> Response:
    """A one-use desk QR, shown once (the code is never stored, so this page cannot be shown again)."""
    guarantor = _guarantor(request)
    if guarantor is None:
        return _not_found(request, staff_session)
    settings = request.app.state.settings
    with database.atomic():
        code, link = links.mint(guarantor, "desk", settings.secret_key, created_by=staff_session.staff)
        audit(staff_session.staff, "desk_qr", guarantor, detail=f"expires {link.expires_at:%Y-%m-%d %H:%M} UTC",
              request=request)
    url = links.url(settings.base_url, code)
    return render(request, "staff/desk_qr.html", {
        "title": "Desk QR code", "staff_session": staff_session, "guarantor": guarantor, "group": guarantor.group,
        "code": code, "url": url, "svg": qr.qr_svg(url), "link": link,
    }, headers={"Cache-Control": "no-store"})


# --- mirror ---------------------------------------------------------------------------------

def _mirror_form(request: Request, staff_session, *, group_code: str = "", account: str = "",
                 quickpay: bool = False, error: str = "", status_code: int = 200) -> Response:
    return render(request, "staff/mirror.html", {
        "title": "Mirror", "staff_session": staff_session, "active": "mirror",
        "groups": list(Group.select().order_by(Group.name)),
        "group_code": group_code, "account": account, "quickpay": quickpay, "error": error,
    }, status_code=status_code)


@staff_page
def mirror_page(request: Request, staff_session) -> Response:
    account = request.query_params.get("guarantor", "")[:64]
    group_code = request.query_params.get("group", "")[:32]
    if account and not group_code:
        guarantor = Guarantor.get_or_none(Guarantor.account == account)
        group_code = guarantor.group.code if guarantor else ""
    return _mirror_form(request, staff_session, group_code=group_code, account=account)


def landing_path(session: PatientSession) -> str:
    if session.quickpay:
        return "/quickpay"
    return "/pay" if session.group.landing_page == "pay" else "/home"


@staff_form
def mirror_start(request: Request, form: FormData, staff_session) -> Response:
    group_code = str(form.get("group", ""))[:32]
    account = str(form.get("guarantor", "")).strip()[:64]
    simulate = form.get("quickpay") in ("on", "1", "true")
    guarantor = (Guarantor.select(Guarantor, Group).join(Group)
                 .where((Group.code == group_code) & (Guarantor.account == account)).get_or_none())
    if guarantor is None:
        return _mirror_form(request, staff_session, group_code=group_code, account=account, quickpay=simulate,
                            error="No guarantor with that account in that group.", status_code=422)
    with database.atomic():
        end_current_patient_session(request)
        token, session = sessions.start_patient(
            guarantor, "staff_mirror", "staff", quickpay=simulate, staff=staff_session.staff,
            ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
        audit(staff_session.staff, "mirror_start", guarantor,
              detail="QuickPay" if simulate else "portal", request=request)
    response = RedirectResponse(landing_path(session), status_code=303)
    set_cookie(response, request, PATIENT_COOKIE, token)
    return response


@with_db
def mirror_end(request: Request) -> Response:
    """The banner's way out: ends this browser's mirror session, back to the guarantor's dashboard.

    Works even when the staff session has lapsed (the dashboard then asks for sign-in), so a
    mirror never outlives its way out. A patient's own session is never ended here.
    """
    session = patient_session(request, touch=False)
    target = "/staff/find"
    response = RedirectResponse(target, status_code=303)
    if session is not None and session.staff_id is not None:
        sessions.end(session, "logout")
        audit(session.staff, "mirror_end", session.guarantor, request=request)
        response = RedirectResponse(f"/staff/guarantors/{session.guarantor.account}?done=mirror_ended",
                                    status_code=303)
        clear_session_cookie(response, request, PATIENT_COOKIE)
    elif session is None:
        clear_session_cookie(response, request, PATIENT_COOKIE)
    return response


# --- POPS Management (admins) ---------------------------------------------------------------

@staff_page(admin=True)
def admin_home(request: Request, staff_session) -> Response:
    return render(request, "staff/admin.html", {
        "title": "POPS Management", "staff_session": staff_session, "active": "admin",
        "groups": list(Group.select().order_by(Group.name)),
        "staff_members": list(Staff.select().order_by(Staff.email)),
        "roles": ROLES,
    })


def _group_form(request: Request, staff_session, group: Group, *, values: dict | None = None,
                errors: dict | None = None, saved: bool = False, status_code: int = 200) -> Response:
    return render(request, "staff/group_edit.html", {
        "title": f"Group {group.code}", "staff_session": staff_session, "active": "admin", "group": group,
        "values": values or {f: getattr(group, f) for f in console.GROUP_FIELDS},
        "errors": errors or {}, "saved": saved,
        "bool_fields": console.BOOL_FIELDS, "int_fields": console.INT_FIELDS,
    }, status_code=status_code)


@staff_page(admin=True)
def group_edit(request: Request, staff_session) -> Response:
    group = Group.get_or_none(Group.code == request.path_params["code"])
    if group is None:
        return _not_found(request, staff_session)
    return _group_form(request, staff_session, group, saved=request.query_params.get("saved") == "1")


@staff_form(admin=True)
def group_save(request: Request, form: FormData, staff_session) -> Response:
    group = Group.get_or_none(Group.code == request.path_params["code"])
    if group is None:
        return _not_found(request, staff_session)
    submitted = {k: str(v) for k, v in form.items()}
    changes, errors = console.group_changes(group, submitted)
    if errors:
        values = {f: (f in submitted) if f in console.BOOL_FIELDS else submitted.get(f, "")
                  for f in console.GROUP_FIELDS}
        return _group_form(request, staff_session, group, values=values, errors=errors, status_code=422)
    with database.atomic():
        for field, new in changes.items():
            audit(staff_session.staff, "group_setting", detail=f"{group.code} {field}: {getattr(group, field)!r} → {new!r}",
                  request=request)
        if changes:
            Group.update(**changes).where(Group.id == group.id).execute()
    return RedirectResponse(f"/staff/admin/groups/{group.code}?saved=1", status_code=303)


@staff_form(admin=True)
def staff_create(request: Request, form: FormData, staff_session) -> Response:
    email = str(form.get("email", "")).strip()[:254]
    role = str(form.get("role", "staff"))
    try:
        with database.atomic():
            member = create_staff(email, str(form.get("password", ""))[:1024], role=role)
            audit(staff_session.staff, "staff_create", detail=f"{member.email} ({member.role})", request=request)
    except StaffError as exc:
        return render(request, "staff/admin.html", {
            "title": "POPS Management", "staff_session": staff_session, "active": "admin",
            "groups": list(Group.select().order_by(Group.name)),
            "staff_members": list(Staff.select().order_by(Staff.email)),
            "roles": ROLES, "create_error": str(exc).capitalize() + ".", "email": email, "role": role,
        }, status_code=422)
    uri = provisioning_uri(member)
    return render(request, "staff/staff_created.html", {
        "title": "Staff member created", "staff_session": staff_session, "active": "admin", "member": member,
        "secret": member.totp_secret, "uri": uri, "svg": qr.qr_svg(uri),
    }, headers={"Cache-Control": "no-store"})


def _staff_member(request: Request) -> Staff | None:
    try:
        return Staff.get_or_none(Staff.id == int(request.path_params["id"]))
    except ValueError:
        return None


@staff_form(admin=True)
def staff_deactivate(request: Request, form: FormData, staff_session) -> Response:
    member = _staff_member(request)
    if member is None:
        return _not_found(request, staff_session)
    if member.id == staff_session.staff_id:
        return RedirectResponse("/staff/admin?error=self", status_code=303)
    with database.atomic():
        Staff.update(active=False).where(Staff.id == member.id).execute()
        audit(staff_session.staff, "staff_deactivate", detail=member.email, request=request)
    return RedirectResponse("/staff/admin", status_code=303)


@staff_form(admin=True)
def staff_unlock(request: Request, form: FormData, staff_session) -> Response:
    member = _staff_member(request)
    if member is None:
        return _not_found(request, staff_session)
    with database.atomic():
        Staff.update(locked_until=None, failed_sign_ins=0).where(Staff.id == member.id).execute()
        audit(staff_session.staff, "staff_unlock", detail=member.email, request=request)
    return RedirectResponse("/staff/admin", status_code=303)


# --- outbox and audit log -------------------------------------------------------------------

@staff_page
def outbox(request: Request, staff_session) -> Response:
    messages = list(OutboxMessage.select().order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                    .limit(OUTBOX_PAGE))
    audit(staff_session.staff, "view_outbox", request=request)
    return render(request, "staff/outbox.html", {"title": "Outbox", "staff_session": staff_session,
                                                  "active": "outbox", "messages": messages})


@staff_page(admin=True)
def audit_page(request: Request, staff_session) -> Response:
    before = request.query_params.get("before", "")
    rows = audit_log.recent(before_id=int(before) if before.isdigit() else None)
    return render(request, "staff/audit.html", {"title": "Audit log", "staff_session": staff_session,
                                                 "active": "audit", "rows": rows})


routes = [
    Route("/staff/find", find),
    Route("/staff/guarantors/{account}", dashboard),
    Route("/staff/guarantors/{account}/notify", send_notification, methods=["POST"]),
    Route("/staff/guarantors/{account}/qr", desk_qr, methods=["POST"]),
    Route("/staff/mirror", mirror_page, methods=["GET"]),
    Route("/staff/mirror", mirror_start, methods=["POST"]),
    Route("/staff/mirror/end", mirror_end),
    Route("/staff/admin", admin_home),
    Route("/staff/admin/groups/{code}", group_edit, methods=["GET"]),
    Route("/staff/admin/groups/{code}", group_save, methods=["POST"]),
    Route("/staff/admin/staff", staff_create, methods=["POST"]),
    Route("/staff/admin/staff/{id}/deactivate", staff_deactivate, methods=["POST"]),
    Route("/staff/admin/staff/{id}/unlock", staff_unlock, methods=["POST"]),
    Route("/staff/outbox", outbox),
    Route("/staff/audit", audit_page),
]
