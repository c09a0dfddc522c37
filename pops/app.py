"""create_app(settings): the route table in one place."""
from __future__ import annotations

import contextlib

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import clock, crash, db
from .gateways import from_settings
from .gateways.sandbox import MOUNT as SANDBOX_MOUNT
from .gateways.sandbox import hosted_page_app
from .jobs import Runner
from .payments import receipt_email
from .settings import STATIC_DIR, Settings
from .web import language, public, quickpay, signin, sms, staff, stripe_webhook
from .web.portal import pages as portal_pages
from .web.portal import pay, plans, profile, receipts
from .web.security import SecurityMiddleware
from .web.validity import ValidityMiddleware
from .web.worker import WorkerMiddleware, page_thread_count


@contextlib.asynccontextmanager
async def _running_jobs(app: Starlette):
    """The lifespan of an app that runs the jobs itself (`pops serve` on SQLite): the runner starts and stops with it.

    On PostgreSQL the jobs are queued and `pops worker` runs them: the server only records.
    """
    if db.is_postgres():
        yield
        return
    runner = Runner(app.state.settings, app.state.gateway)
    runner.start()
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(runner.stop)


def create_app(settings: Settings, *, jobs: bool = False) -> Starlette:
    """The POPS web application for these settings (binds the models to their database).

    With `jobs`, its lifespan also runs the job runner (sending, settling); tests leave it off.
    """
    db.bind(settings.database_url, settings.db_pool)
    crash.arm(settings.crash_at if settings.environment == "test" else None)  # the crash tests' kill switch
    gateway = from_settings(settings)  # POPS_GATEWAY; a SettingsError says what is missing
    sandbox = gateway.name == "sandbox"
    routes = [
        *public.routes,
        *language.routes,
        *quickpay.routes,
        *signin.routes,
        *portal_pages.routes, *receipts.routes, *plans.routes, *pay.routes, *profile.routes,
        *([Mount(SANDBOX_MOUNT, app=hosted_page_app(gateway), name="sandbox-gateway")] if sandbox
          else stripe_webhook.routes),
        *sms.routes,
        *staff.routes,
        # Static files are compressed; pages are not (BREACH: they carry the form token).
        Mount("/static", app=GZipMiddleware(StaticFiles(directory=str(STATIC_DIR)), minimum_size=500), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: public.not_found},
        lifespan=_running_jobs if jobs else None,
        middleware=[
            Middleware(WorkerMiddleware, threads=settings.db_pool, name_worker=settings.environment == "test"),
            Middleware(SecurityMiddleware, base_url=settings.base_url, trusted_proxies=settings.trusted_proxies,
                       form_targets=getattr(gateway, "form_targets", ())),
            Middleware(ValidityMiddleware),  # inside: its refusals carry the security headers
        ],
    )
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.test_mode = sandbox and settings.environment == "production"  # chosen explicitly: every page says so
    receipt_email.say_test_mode(app.state.test_mode)  # and every emailed receipt
    app.state.request_scope = db.request_scope  # what the guards open around every handler
    app.state.page_threads = page_thread_count(db.is_postgres(), settings.db_pool)  # pops.web.worker
    # SQLite: a patient's page runs on the event loop itself (a thread costs it more than the page; see
    # pops.web.guards), back on a thread when the database is busy. PostgreSQL: threads, which wait on the server.
    app.state.on_the_loop = None if db.is_postgres() else db.without_waiting
    return app


def app_from_env() -> Starlette:
    """The app each process of `pops serve --workers N` builds (uvicorn's factory): settings from the environment.

    A worker is a fresh interpreter: what `pops` did for the parent (POPS_NOW's clock) it does again here.
    """
    settings = Settings.from_env().with_secret()
    if settings.now is not None:
        clock.set_now(settings.now)
    return create_app(settings, jobs=True)  # the lease row: one process runs them
