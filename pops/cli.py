"""The `pops` command line (also `python -m pops`)."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Sequence

from . import clock, migrate
from .db import bind
from .settings import Settings, SettingsError


def _fail(message: str, code: int = 2) -> int:
    print(f"pops: {message}", file=sys.stderr)
    return code


def _open(settings: Settings, *, upgrade: bool = False):
    db = bind(settings.database_url)
    db.connect(reuse_if_open=True)
    if upgrade:
        for name in migrate.upgrade(db):
            print(f"applied migration {name}")
    else:
        migrate.require_current(db)
    return db


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    import uvicorn

    from . import serving
    from .app import create_app

    db = _open(settings)
    db.close()
    # X-Forwarded-For and -Proto count only from the trusted proxies (the app's HSTS rule follows the same list).
    proxies = settings.trusted_proxies
    if workers > 1:
        # Each worker process builds its own app from the environment (pops.app.app_from_env); this one serves none.
        os.environ["POPS_BASE_URL"] = settings.base_url
        served = "pops.app:app_from_env"
    else:
        served = create_app(settings, jobs=True)  # its lifespan runs the jobs (sending, settling)
    options = dict(host=host, port=port, proxy_headers=bool(proxies), log_level="info", server_header=False,
                   forwarded_allow_ips="*" if "*" in proxies else ",".join(proxies), access_log=settings.access_log)
    if workers > 1 and serving.SPREADS:  # Linux: a socket each, the kernel spreads the connections evenly
        try:
            return serving.Workers(uvicorn.Config(served, factory=True, workers=workers, **options), workers).run()
        except serving.AddressInUse as exc:
            return _fail(f"serve: {exc}", 1)
    uvicorn.run(served, factory=workers > 1, workers=workers if workers > 1 else None, **options)
    return 0


def _served_at(settings: Settings, host: str, port: int) -> Settings:
    """Without POPS_BASE_URL, links and origin checks use the address being served."""
    if "POPS_BASE_URL" in os.environ:
        return settings
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    return dataclasses.replace(settings, base_url=f"http://{shown}:{port}")


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _served_at(Settings.from_env().with_secret(), args.host, args.port)
    return _serve(settings, args.host, args.port, args.workers)


def cmd_payments_settle(args: argparse.Namespace) -> int:
    import datetime as dt

    from . import notify, payments
    from .gateways import from_settings

    settings = Settings.from_env().with_secret()
    gateway = from_settings(settings, serving=False)
    db = _open(settings)
    counts = payments.settle_pending(gateway,
                                     older_than=dt.timedelta(minutes=args.older_than))
    notify.deliver(settings)
    db.close()
    print(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())) or "nothing to settle")
    return 0


def cmd_plans_charge(args: argparse.Namespace) -> int:
    """Once, what the plans job does: reminders, the instalments due today, autopay (with POPS_NOW, a rehearsal)."""
    from . import notify
    from .gateways import from_settings
    from .plans import charging

    settings = Settings.from_env().with_secret()
    gateway = from_settings(settings, serving=False)
    db = _open(settings)
    counts = charging.charge_due(gateway, settings.base_url)
    notify.deliver(settings)
    db.close()
    print(", ".join(f"{outcome}: {n}" for outcome, n in sorted(counts.items())) or "nothing due")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from .jobs import listing

    settings = Settings.from_env()
    db = _open(settings)
    try:
        print(listing.text(limit=args.limit))
    finally:
        db.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .jobs import worker

    settings = Settings.from_env().with_secret()
    if settings.database_url.startswith("sqlite"):
        return _fail("pops worker needs PostgreSQL. With SQLite, pops serve runs the jobs itself "
                     "(one process at a time); start nothing else.")
    db = _open(settings)
    db.close()
    return worker.run(settings, concurrency=args.concurrency, wait=not args.until_idle)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    db = _open(settings, upgrade=True)
    db.close()
    print("database is up to date")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .importer import ImportRefused, format_problems, import_file

    settings = Settings.from_env()
    db = _open(settings)
    try:
        result = import_file(args.file)
    except ImportRefused as refused:
        print(f"pops import: {args.file} was refused; nothing was written.", file=sys.stderr)
        print(format_problems(refused.problems), file=sys.stderr)
        return 1
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror or exc}")
    finally:
        db.close()
    print(result.summary())
    return 0


def cmd_link_create(args: argparse.Namespace) -> int:
    from . import links
    from .models import Guarantor

    settings = Settings.from_env().with_secret()
    if args.uses is not None and args.uses < 1:
        return _fail("--uses must be at least 1")
    if args.days is not None and args.days < 1:
        return _fail("--days must be at least 1")
    db = _open(settings)
    try:
        guarantor = Guarantor.get_or_none(Guarantor.account == args.account)
        if guarantor is None:
            return _fail(f"no guarantor with account {args.account!r}", 1)
        code, _ = links.mint(guarantor, args.purpose, settings.secret_key, max_uses=args.uses, days=args.days)
    finally:
        db.close()
    print(links.url(settings.base_url, code))
    return 0


def cmd_link_revoke(args: argparse.Namespace) -> int:
    from . import links
    from .models import Guarantor

    db = _open(Settings.from_env())
    try:
        # An account number names one guarantor in POPS, whatever the group (a unique column): no --group needed.
        guarantor = Guarantor.get_or_none(Guarantor.account == args.account)
        if guarantor is None:
            return _fail(f"no guarantor with account {args.account!r}; nothing was revoked", 1)
        count = links.revoke_all(guarantor)
    finally:
        db.close()
    print(f"{count} {'link' if count == 1 else 'links'} revoked for account {guarantor.account}")
    return 0


def cmd_staff_create(args: argparse.Namespace) -> int:
    import getpass

    from .staff import StaffError, create_staff, provisioning_uri

    settings = Settings.from_env()
    password = os.environ.get("POPS_STAFF_PASSWORD")
    if password is None:
        password = getpass.getpass("Password for %s: " % args.email)
        if getpass.getpass("Again: ") != password:
            return _fail("the passwords differ; nothing was created")
    db = _open(settings)
    try:
        staff = create_staff(args.email, password, args.role)
    except StaffError as exc:
        return _fail(str(exc), 1)
    finally:
        db.close()
    print(f"created {staff.role} {staff.email}")
    print(f"TOTP secret: {staff.totp_secret}")
    print(f"otpauth URI: {provisioning_uri(staff)}")
    return 0


def cmd_statements_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import reports, statements
    from .models import Group

    settings = Settings.from_env().with_secret()
    db = _open(settings)
    out = Path(args.out or f"statements-{reports.practice_today().isoformat()}.html")
    try:
        groups = list(Group.select().order_by(Group.code))
        if args.group is not None:
            groups = [g for g in groups if g.code == args.group]
            if not groups:
                known = ", ".join(g.code for g in Group.select().order_by(Group.code)) or "none"
                return _fail(f"no group with code {args.group!r} (groups: {known}); nothing was printed", 1)
        # The file is written inside the transaction: if it cannot be, no link is minted.
        with db.atomic(), open(out, "w", encoding="utf-8") as fh:
            run = statements.run(groups, settings.secret_key, settings.base_url, fh)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}; nothing was minted", 1)
    finally:
        db.close()
    print(f"{len(run.statements)} statements ({run.links_minted} with a QR code) written to {out}")
    return 0


DEMO_STAFF = {"email": "admin@demo.pops.example", "password": "demo-password-2026"}


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo, links, notify
    from .importer import import_document
    from .jobs import queue
    from .models import Group, Guarantor, Staff
    from .schema import TABLES
    from .staff import create_staff

    settings = Settings.from_env()
    if "POPS_ENV" not in os.environ:  # a demo is not production: the sandbox takes its payments unless told
        settings = dataclasses.replace(settings, environment="development", gateway=settings.gateway or "sandbox")
    settings = _served_at(settings.with_secret(), args.host, args.port)
    db = _open(settings, upgrade=True)
    document = demo.build_document(clock.now().date())
    try:
        stale = demo.stale_demo_data(document)
    except demo.DemoRefused as exc:
        print(f"pops demo: {exc}", file=sys.stderr)
        return 1
    if stale:
        # Demo data from another day: start again rather than pile today's ledger on top of it.
        db.drop_tables(TABLES)
        db.execute_sql("DROP TABLE IF EXISTS schema_migration")
        queue.forget_all_jobs()  # the old ledger's jobs go with it (PostgreSQL)
        migrate.upgrade(db)
        print("The demo data were built for another day; the demo database was rebuilt for today.")
    with db.atomic():
        result = import_document(document)
        patients = []  # (guarantor, its QuickPay code, what it shows off), in demo.DEMO_PATIENTS order
        for role, story in demo.DEMO_PATIENTS.items():
            guarantor = Guarantor.select(Guarantor, Group).join(Group).where(
                Guarantor.account == demo.DEMO_ACCOUNTS[role]).get()
            patients.append((guarantor, links.mint(guarantor, "sms", settings.secret_key)[0], story))
        staff = Staff.get_or_none(Staff.email == DEMO_STAFF["email"])
        if staff is None:
            staff = create_staff(DEMO_STAFF["email"], DEMO_STAFF["password"], "admin")
    print(result.summary())
    base = settings.base_url
    print()
    print(f"POPS demo is ready. {len(patients)} demo patients, each with a QuickPay link and a sign-in"
          " (the one-time code is printed here, and in the staff Outbox):")
    for n, (guarantor, code, story) in enumerate(patients, 1):
        group: Group = guarantor.group
        print(f"  {n}. {guarantor.legal_name}, {group.name} (account {guarantor.account}): {story}")
        print(f"     QuickPay link: {links.url(base, code)}")
        print(f"     Sign in at {base}/login?group={group.code} with first name {guarantor.first_name},"
              f" last name {guarantor.last_name}, date of birth {guarantor.date_of_birth:%m/%d/%Y}")
    print(f"  Staff console: {base}/staff")
    print(f"    email {staff.email}, password {DEMO_STAFF['password']}, TOTP secret {staff.totp_secret}")
    db.close()
    if args.no_serve:
        return 0
    print(f"  Serving on http://{args.host}:{args.port}/  (Ctrl+C to stop)")
    notify.ECHO = True
    return _serve(settings, args.host, args.port)


# --- exports: reference batches and contact changes (docs/export-v1.md) ----------------------

def _write_text(text: str, out: str | None) -> None:
    """CSV to a file (exact bytes, UTF-8) or to standard output."""
    if out:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def cmd_batches_export(args: argparse.Namespace) -> int:
    from . import batches
    from .models import ReferenceBatch

    db = _open(Settings.from_env())
    try:
        batch = ReferenceBatch.get_or_none(ReferenceBatch.id == args.batch)
        if batch is None:
            return _fail(f"no reference batch {args.batch}", 1)
        text = batches.export_csv(batch)
    finally:
        db.close()
    try:
        _write_text(text, args.out)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}")
    return 0


def cmd_contacts_export(args: argparse.Namespace) -> int:
    from . import reports

    db = _open(Settings.from_env())
    try:
        text = reports.contacts_csv(reports.contact_changes(include_cleared=args.all))
    finally:
        db.close()
    try:
        _write_text(text, args.out)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}")
    return 0


def _add_export_commands(sub) -> None:
    batches = sub.add_parser("batches", help="reference batches").add_subparsers(dest="batches_command", required=True)
    export = batches.add_parser("export", help="a reference batch as CSV (docs/export-v1.md)")
    export.add_argument("batch", type=int, help="the batch number")
    export.add_argument("--out", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_batches_export)

    contacts = sub.add_parser("contacts", help="contact changes made in the portal").add_subparsers(
        dest="contacts_command", required=True)
    cexport = contacts.add_parser("export", help="contact changes as CSV: account, field, old, new, changed_at")
    cexport.add_argument("--out", help="write to this file instead of standard output")
    cexport.add_argument("--all", action="store_true", help="include changes the PM system already carries")
    cexport.set_defaults(func=cmd_contacts_export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pops", description="POPS: Patient Online Payments")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes (default 1); each pools its own POPS_DB_POOL database connections")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="seed demo data into the configured database and serve")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="seed and print, then exit")
    demo.set_defaults(func=cmd_demo)

    imp = sub.add_parser("import", help="import a ledger document (docs/import-v1.md)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)

    link = sub.add_parser("link", help="QuickPay links").add_subparsers(dest="link_command", required=True)
    create = link.add_parser("create", help="mint a QuickPay link for an account and print its URL")
    create.add_argument("--account", required=True)
    create.add_argument("--uses", type=int, default=None, help="maximum accesses (default: the group's)")
    create.add_argument("--days", type=int, default=None, help="lifetime in days (default: the group's)")
    create.add_argument("--purpose", choices=["sms", "email", "statement"], default="sms")
    create.set_defaults(func=cmd_link_create)
    revoke = link.add_parser("revoke", help="revoke every live QuickPay link of an account and print how many")
    revoke.add_argument("--account", required=True)
    revoke.set_defaults(func=cmd_link_revoke)

    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(dest="staff_command", required=True)
    screate = staff.add_parser("create", help="create a staff member (password from POPS_STAFF_PASSWORD or a prompt)")
    screate.add_argument("email")
    screate.add_argument("--role", choices=["admin", "staff"], default="staff")
    screate.set_defaults(func=cmd_staff_create)

    stmts = sub.add_parser("statements", help="paper statements").add_subparsers(dest="statements_command", required=True)
    srun = stmts.add_parser("run", help="mint a statement-QR link for each statement due and write one printable HTML file")
    srun.add_argument("--group", default=None, help="only this group's statements (its code)")
    srun.add_argument("--out", default=None, help="the HTML file to write (default: statements-YYYY-MM-DD.html)")
    srun.set_defaults(func=cmd_statements_run)

    pay = sub.add_parser("payments", help="payments").add_subparsers(dest="payments_command", required=True)
    settle = pay.add_parser("settle", help="look up unfinished payments at the gateway by their keys and settle them")
    settle.add_argument("--older-than", type=int, default=2, metavar="MINUTES",
                        help="only attempts untouched for this long (default 2; the jobs `pops serve` runs do this every minute)")
    settle.set_defaults(func=cmd_payments_settle)

    plans = sub.add_parser("plans", help="payment plans and autopay").add_subparsers(dest="plans_command", required=True)
    charge = plans.add_parser("charge", help="charge what plans and autopay have due today, once (the job does this every minute)")
    charge.set_defaults(func=cmd_plans_charge)

    jobs = sub.add_parser("jobs", help="the jobs' work: messages not sent yet (due, waiting, failed) and open payments")
    jobs.add_argument("--limit", type=int, default=50, help="at most this many rows of each kind (default 50)")
    jobs.set_defaults(func=cmd_jobs)

    worker = sub.add_parser("worker", help="run the jobs (PostgreSQL; any number of workers share the database)")
    worker.add_argument("--concurrency", type=int, default=4,
                        help="jobs run at once in this worker, each in its own thread (default 4)")
    worker.add_argument("--until-idle", action="store_true",
                        help="stop once no job is due (for scripts and tests) instead of waiting for more")
    worker.set_defaults(func=cmd_worker)

    mig = sub.add_parser("migrate", help="create or upgrade the database schema")
    mig.set_defaults(func=cmd_migrate)
    _add_export_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rehearsal = Settings.from_env().now
        if rehearsal is not None:  # POPS_NOW: every command, the server and its jobs run from that instant
            clock.set_now(rehearsal)
        return args.func(args)
    except SettingsError as exc:
        return _fail(str(exc))
    except migrate.MigrationNeeded as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
