"""One middleware turns every failure into {"error": {"code", "message"}} with the right status."""

from __future__ import annotations

import errno
import logging

import asyncpg
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from backend.server.adapters.failures import (
    AccessDenied,
    BadArgument,
    CallCancelled,
    DeadlineExceeded,
    DiskFull,
    FileChanged,
    FileMissing,
    ServiceDown,
    ServiceFailure,
)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A failure the client should see as it is."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Each failure of a service call (adapters/failures.py) as HTTP, the way googleapis google/rpc/code.proto maps the
# status it came from; ABORTED here means "the file changed while hashing". The first class that matches wins.
_FAILURE_STATUS: tuple[tuple[type[ServiceFailure], int], ...] = (
    (BadArgument, 400),
    (AccessDenied, 403),
    (FileMissing, 404),
    (FileChanged, 409),
    (CallCancelled, 499),
    (ServiceDown, 503),
    (DeadlineExceeded, 504),
    (DiskFull, 507),
    (ServiceFailure, 502),
)

# The errors that mean "the database is not there", as opposed to a bug in a query. An OSError means it
# only when asyncpg raised it (connecting); elsewhere it is a file or a disk, and says so.
_DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    # Seen when the server vanished while a pooled connection was being re-established.
    asyncpg.exceptions.InternalClientError,
)


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def shown(exc: ServiceFailure) -> ApiError:
    """A service call's failure as the client sees it."""
    status = next(status for kind, status in _FAILURE_STATUS if isinstance(exc, kind))
    return ApiError(status, exc.code, exc.message)


def _from_asyncpg(exc: BaseException) -> bool:
    """Whether asyncpg raised it: an OSError from connecting to the database, not from a file."""
    frame = exc.__traceback__
    while frame is not None:
        if "/asyncpg/" in frame.tb_frame.f_code.co_filename:
            return True
        frame = frame.tb_next
    return False


def database_gone(exc: BaseException) -> bool:
    """Whether exc says the database is not there (stopped, unreachable), as opposed to a bug in a query."""
    return isinstance(exc, _DATABASE_DOWN) or (isinstance(exc, OSError) and _from_asyncpg(exc))


def _os_error(request: web.Request, exc: OSError) -> web.Response:
    if database_gone(exc):
        return error_response(503, "unavailable", "database unavailable")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return error_response(507, "insufficient_storage", "no space left on the gateway's disk")
    log.exception("system error on %s %s", request.method, request.path)
    return error_response(500, "internal", "internal error")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        # One line per refused request at info; the requests that went well are debug (web_log.py).
        log.info("%s %s: %d %s: %s", request.method, request.path, exc.status, exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message)
    except ServiceFailure as exc:
        answer = shown(exc)
        return error_response(answer.status, answer.code, answer.message)
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(413, "body_too_large", exc.text or "request body too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reply = error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        if hdrs.ALLOW in exc.headers:  # a 405 names the methods the route has (RFC 9110)
            reply.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
        return reply
    except asyncpg.PostgresError as exc:
        if isinstance(exc, _DATABASE_DOWN):
            return error_response(503, "unavailable", "database unavailable")
        log.exception("database error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error")
    except _DATABASE_DOWN:
        return error_response(503, "unavailable", "database unavailable")
    except OSError as exc:
        return _os_error(request, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error")
