"""POPS Management (admins only): the groups and their options, the staff members."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import console, console_groups, groups, timezones
from ...staff import ROLES, StaffError
from .. import forms
from ..guards import redirect, staff_form, staff_page
from ..htmx import client_ip
from ..render import render
from .responses import not_found


def _home(request: Request, staff_session, *, status_code: int = 200, **extra) -> Response:
    management = console.management()
    return render(request, "staff/admin/home.html", {
        "title": "POPS Management", "staff_session": staff_session, "active": "admin", "groups": management.groups,
        "staff_members": management.staff_members, "roles": ROLES, **extra,
    }, status_code=status_code)


@staff_page(admin=True)
def admin_home(request: Request, staff_session) -> Response:
    return _home(request, staff_session, deactivate_self=request.query_params.get("error") == "self")


def _option_choices() -> dict:
    return {"bool_fields": console.BOOL_FIELDS, "int_fields": console.INT_FIELDS,
            "us_zones": timezones.US_ZONES, "other_zones": timezones.others()}


def _group_form(request: Request, staff_session, group, values: dict, *, errors: dict | None = None,
                saved: str = "", status_code: int = 200) -> Response:
    return render(request, "staff/admin/group.html", {
        "title": f"Group {group.code}", "staff_session": staff_session, "active": "admin", "group": group,
        "values": values, "errors": errors or {}, "saved": saved, **_option_choices(),
        "gateway_name": request.app.state.gateway.name,  # with Stripe, its account decides wallets and CVV
    }, status_code=status_code)


def _new_group_form(request: Request, staff_session, values: dict, *, errors: dict | None = None,
                    status_code: int = 200) -> Response:
    return render(request, "staff/admin/new_group.html", {
        "title": "New group", "staff_session": staff_session, "active": "admin", "values": values,
        "errors": errors or {}, **_option_choices(),
    }, status_code=status_code)


@staff_page(admin=True)
def group_new(request: Request, staff_session) -> Response:
    return _new_group_form(request, staff_session, console_groups.new_values())


@staff_form(admin=True)
def group_create(request: Request, form: FormData, staff_session) -> Response:
    submitted = {k: str(v) for k, v in form.items()}
    group, errors = console_groups.create_group(submitted, staff_session.staff, ip=client_ip(request))
    if group is None:
        return _new_group_form(request, staff_session, console_groups.submitted_values(submitted), errors=errors,
                               status_code=422)
    return redirect(f"/staff/admin/groups/{group.code}?saved=created")


@staff_page(admin=True)
def group_edit(request: Request, staff_session) -> Response:
    group = groups.by_code(request.path_params["code"])
    if group is None:
        return not_found(request, staff_session)
    saved = request.query_params.get("saved", "")
    return _group_form(request, staff_session, group, console.group_values(group),
                       saved=saved if saved in ("1", "created") else "")


@staff_form(admin=True)
def group_save(request: Request, form: FormData, staff_session) -> Response:
    group = groups.by_code(request.path_params["code"])
    if group is None:
        return not_found(request, staff_session)
    submitted = {k: str(v) for k, v in form.items()}
    errors = console.save_group(group, submitted, staff_session.staff, ip=client_ip(request))
    if errors:
        return _group_form(request, staff_session, group, console.submitted_values(submitted), errors=errors,
                           status_code=422)
    return redirect(f"/staff/admin/groups/{group.code}?saved=1")


@staff_form(admin=True)
def staff_create(request: Request, form: FormData, staff_session) -> Response:
    email = forms.text(form, "email", 254)
    role = str(form.get("role", "staff"))
    try:
        created = console.add_staff_member(email, str(form.get("password", ""))[:1024], role, staff_session.staff,
                                           ip=client_ip(request))
    except StaffError as exc:
        return _home(request, staff_session, status_code=422, create_error=str(exc).capitalize() + ".",
                     email=email, role=role)
    return render(request, "staff/admin/staff_created.html", {
        "title": "Staff member created", "staff_session": staff_session, "active": "admin",
        "member": created.member, "secret": created.member.totp_secret, "uri": created.uri, "svg": created.svg,
    }, headers={"Cache-Control": "no-store"})


@staff_form(admin=True)
def staff_deactivate(request: Request, form: FormData, staff_session) -> Response:
    member = console.staff_member(request.path_params["id"])
    if member is None:
        return not_found(request, staff_session)
    if not console.deactivate(member, staff_session.staff, ip=client_ip(request)):
        return redirect("/staff/admin?error=self")
    return redirect("/staff/admin")


@staff_form(admin=True)
def staff_unlock(request: Request, form: FormData, staff_session) -> Response:
    member = console.staff_member(request.path_params["id"])
    if member is None:
        return not_found(request, staff_session)
    console.unlock(member, staff_session.staff, ip=client_ip(request))
    return redirect("/staff/admin")


routes = [
    Route("/staff/admin", admin_home),
    Route("/staff/admin/groups", group_create, methods=["POST"]),
    Route("/staff/admin/new-group", group_new, methods=["GET"]),
    Route("/staff/admin/groups/{code}", group_edit, methods=["GET"]),
    Route("/staff/admin/groups/{code}", group_save, methods=["POST"]),
    Route("/staff/admin/staff", staff_create, methods=["POST"]),
    Route("/staff/admin/staff/{id:int}/deactivate", staff_deactivate, methods=["POST"]),
    Route("/staff/admin/staff/{id:int}/unlock", staff_unlock, methods=["POST"]),
]
