"""What a job's row says when its work raised: the database gone is named as such, never a bare "internal error"."""

from __future__ import annotations

from backend.server.errors import ApiError, database_gone

# A row's error stays a line a person reads, whatever the exception carried.
MESSAGE_LIMIT = 500


def job_error(exc: BaseException) -> ApiError:
    """The code and message a job that raised exc ends with."""
    while isinstance(exc, BaseExceptionGroup):  # a kind's own task group: its first failure is the cause
        exc = exc.exceptions[0]
    if isinstance(exc, ApiError):
        return exc
    if database_gone(exc):
        return ApiError(503, "database_unavailable", f"PostgreSQL stopped answering: {reason(exc)}")
    return ApiError(500, "internal", "internal error")


def reason(exc: BaseException) -> str:
    """The exception's class and message; for a failed connection only the system's words for it, as errors.py
    answers outages: the socket's path or the server's address stay in the log."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    said = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return said if len(said) <= MESSAGE_LIMIT else said[:MESSAGE_LIMIT - 1] + "…"
