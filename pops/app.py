"""create_app(settings): the route table in one place."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from . import db
from .settings import STATIC_DIR, Settings
from .web import pages, quickpay
from .web import staff_auth
from .web.security import SecurityMiddleware


def create_app(settings: Settings) -> Starlette:
    """The POPS web application for these settings (binds the models to their database)."""
    db.bind(settings.database_url)
    routes = [
        *pages.routes,
        *quickpay.routes,
        *staff_auth.routes,
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, base_url=settings.base_url)],
    )
    app.state.settings = settings
    return app
