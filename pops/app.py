"""create_app(settings): the route table in one place."""
from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

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


def _lifespan(jobs: bool, loop_connections: int):
    """What starts and stops with the app: on PostgreSQL, the connections its pages await on the event loop
    (db.LoopStatements); with `jobs` on SQLite, the job runner (`pops serve` runs the jobs itself there).

    On PostgreSQL the jobs are queued and `pops worker` runs them: the server only records.
    """
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        async with contextlib.AsyncExitStack() as stack:
            if loop_connections:
                await stack.enter_async_context(
                    _awaiting_on_this_loop(app, app.state.settings.database_url, loop_connections))
            if jobs and not db.is_postgres():
                runner = Runner(app.state.settings, app.state.gateway)
                runner.start()
                stack.push_async_callback(anyio.to_thread.run_sync, runner.stop)
            yield

    return lifespan


@contextlib.asynccontextmanager
async def _awaiting_on_this_loop(app: Starlette, url: str, connections: int) -> AsyncIterator[None]:
    """`connections` to `url` for the pages on the running loop (pops.web.worker.loop_statements), closed after."""
    by_loop = app.state.loop_statements
    loop = asyncio.get_running_loop()
    statements = by_loop[loop] = await db.LoopStatements(url, connections).open()
    try:
        yield
    finally:
        del by_loop[loop]
        await statements.close()


def loop_connections(settings: Settings) -> int:
    """Of POPS_DB_POOL, the PostgreSQL connections a process keeps for its pages' statements on the event loop
    (db.LOOP_CONNECTIONS, when the pool has 4 or more); the rest are the threads' (Peewee's pool)."""
    postgres = db.is_postgres_url(settings.database_url)
    return db.LOOP_CONNECTIONS if postgres and settings.db_pool >= 2 * db.LOOP_CONNECTIONS else 0


def create_app(settings: Settings, *, jobs: bool = False) -> Starlette:
    """The POPS web application for these settings (binds the models to their database).

    With `jobs`, its lifespan also runs the job runner (sending, settling); tests leave it off.
    """
    on_loop = loop_connections(settings)
    threads = settings.db_pool - on_loop  # as many as Peewee's pooled connections
    db.bind(settings.database_url, threads)
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
        lifespan=_lifespan(jobs, on_loop),
        middleware=[
            Middleware(WorkerMiddleware, threads=threads, name_worker=settings.environment == "test"),
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
    app.state.page_threads = page_thread_count(db.is_postgres(), threads)  # pops.web.worker
    # A patient's page runs on the event loop itself (a thread costs it more than the page; see pops.web.guards).
    # SQLite: back on a thread when the database is busy. PostgreSQL: its session's read and touch awaited there
    # (set while the lifespan runs), back on a thread for any other statement, which would wait on the server.
    app.state.loop_statements = weakref.WeakKeyDictionary()  # event loop -> LoopStatements (pops.web.worker)
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
