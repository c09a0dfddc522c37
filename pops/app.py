"""create_app(settings): the route table in one place."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import db
from .gateways.sandbox import MOUNT as SANDBOX_MOUNT
from .gateways.sandbox import SandboxGateway, hosted_page_app
from .settings import STATIC_DIR, Settings
from .web import pay
from .web import pages, portal, quickpay
from .web import staff
from .web import profile, signin
from .web.security import SecurityMiddleware


def create_app(settings: Settings) -> Starlette:
    """The POPS web application for these settings (binds the models to their database)."""
    db.bind(settings.database_url)
    gateway = SandboxGateway(settings.secret_key, settings.base_url)
    routes = [
        *pages.routes,
        *quickpay.routes,
        *signin.routes, *profile.routes,
        *pay.routes,
        Mount(SANDBOX_MOUNT, app=hosted_page_app(gateway), name="sandbox-gateway"),
        *portal.routes,
        *staff.routes,
        # Static files are compressed; pages are not (BREACH: they carry the form token).
        Mount("/static", app=GZipMiddleware(StaticFiles(directory=str(STATIC_DIR)), minimum_size=500), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: pages.not_found},
        middleware=[Middleware(SecurityMiddleware, base_url=settings.base_url)],
    )
    app.state.settings = settings
    app.state.gateway = gateway
    return app
