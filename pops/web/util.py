"""Small pieces every web module shares."""
from __future__ import annotations

import functools
from typing import Callable

from starlette.requests import Request
from starlette.responses import Response

from ..db import database


def with_db(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Run a (synchronous) endpoint inside one database connection scope."""

    @functools.wraps(endpoint)
    def wrapper(request: Request) -> Response:
        with database.connection_context():
            return endpoint(request)

    return wrapper


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
