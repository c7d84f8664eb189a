"""What a job's row says when its work raised: the database gone is named as such; anything else names the
operation that failed and the exception, never a bare "internal error"."""

from __future__ import annotations

import os
from types import TracebackType

from backend.server.adapters.failures import ServiceFailure
from backend.server.http.errors import ApiError, database_gone, shown

# A row's error stays a line a person reads, whatever the exception carried.
MESSAGE_LIMIT = 500


def job_error(exc: BaseException) -> ApiError:
    """The code and message a job that raised exc ends with."""
    while isinstance(exc, BaseExceptionGroup):  # a kind's own task group: its first failure is the cause
        exc = exc.exceptions[0]
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ServiceFailure):
        return shown(exc)
    if database_gone(exc):
        return ApiError(503, "database_unavailable", f"PostgreSQL stopped answering: {reason(exc, outage=True)}")
    return ApiError(500, "internal", f"{operation(exc.__traceback__)} failed: {reason(exc)}")


def operation(trace: TracebackType | None) -> str:
    """The project's function deepest in the traceback, as `module.function` (`queue_queries.promote_batch`): where
    our code called what raised, which a person can find, whatever library raised it below."""
    deepest = "the job"
    while trace is not None:
        code, module = trace.tb_frame.f_code, trace.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("backend.", "services.")):
            deepest = f"{module.rsplit('.', 1)[-1]}.{code.co_qualname}"
        trace = trace.tb_next
    return deepest


def reason(exc: BaseException, *, outage: bool = False) -> str:
    """The exception's class and message; for an outage's failed connection only the system's words for its
    errno, as errors.py answers outages: the database's address or socket path (in asyncio's message) stays
    in the log."""
    if outage and isinstance(exc, OSError):
        text = os.strerror(exc.errno) if exc.errno else ""
    else:
        text = str(exc)
    said = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return said if len(said) <= MESSAGE_LIMIT else said[:MESSAGE_LIMIT - 1] + "…"
