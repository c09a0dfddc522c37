"""What one server process needs of its own: its thread pool capped, and in tests its name on each answer."""
from __future__ import annotations

import os

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = b"x-pops-worker"


class WorkerMiddleware:
    """Caps this process's request threads at `threads` (as many as its database connections) on
    startup; with `name_worker` (POPS_ENV=test), every response carries `X-POPS-Worker: PID`."""

    def __init__(self, app: ASGIApp, threads: int, name_worker: bool = False) -> None:
        self.app, self.threads, self.name_worker = app, threads, name_worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            to_thread.current_default_thread_limiter().total_tokens = self.threads
        if scope["type"] != "http" or not self.name_worker:
            await self.app(scope, receive, send)
            return
        pid = str(os.getpid()).encode()

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (WORKER_HEADER, pid)]}
            await send(message)

        await self.app(scope, receive, named)
