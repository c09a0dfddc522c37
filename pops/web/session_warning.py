"""What the idle-session warning on portal pages shows (a template global, registered in render)."""
from __future__ import annotations

from starlette.requests import Request

from .. import sessions
from ..models import PatientSession
from .htmx import htmx


def warning_context(request: Request, session: PatientSession | None) -> dict:
    """Whether to warn, when to ask again, and where to come back to after extending."""
    if session is None:
        return {"session_ended": True}
    remaining = sessions.remaining(session)
    warn = sessions.should_warn(session)
    # ask again when the warning is due, or (warning shown) when the session would end
    poll = remaining if warn else remaining - sessions.WARN_BEFORE
    details = htmx(request)
    page = (details.current_path or "/home") if details.request else request.url.path
    return {
        "session_ended": False,
        "group": session.group,
        "session_warn": warn,
        "session_poll": max(5, min(int(poll.total_seconds()) + 1, 120)),
        "session_minutes": session.group.session_idle_timeout,
        "next": page,
    }
