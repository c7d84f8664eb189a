"""One middleware turns every failure into {"error": {"code", "message"}} with the right status."""

from __future__ import annotations

import errno
import logging

import asyncpg
import grpc
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from backend.util.status_reasons import DISK_FULL, REASON_KEY

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A failure the client should see as it is."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# As googleapis google/rpc/code.proto maps them; ABORTED here means "the file changed while hashing".
# RESOURCE_EXHAUSTED is not here: it is a 507 only when the image service says its disk is full (says_disk_full);
# otherwise gRPC refused a message or its metadata as too large, a failure of the service or of this gateway.
_GRPC_TO_HTTP: dict[grpc.StatusCode, tuple[int, str]] = {
    # One code per mistake: a relative path the hasher refuses is the same mistake as a bad parameter here.
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_parameter"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "failed_precondition"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "out_of_range"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission_denied"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already_exists"),
    grpc.StatusCode.ABORTED: (409, "aborted"),
    grpc.StatusCode.CANCELLED: (499, "cancelled"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "deadline_exceeded"),
}

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


# What a client reads for a service's failure: gRPC's own details name internal addresses and sockets.
_OUTAGE_MESSAGES = {
    503: "the {service} service is unavailable",
    504: "the {service} service did not answer in time",
    502: "the {service} service failed",
}


def says_disk_full(exc: grpc.aio.AioRpcError, service: str) -> bool:
    """The image service's word that its disk is full: the one service that writes, and the reason it attaches."""
    if service != "images" or exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    return any(key == REASON_KEY and value == DISK_FULL for key, value in exc.trailing_metadata() or ())


def from_rpc_error(exc: grpc.aio.AioRpcError, service: str) -> ApiError:
    """A service's status as the client should see it; outages name the service that is down, nothing more."""
    return from_status(exc.code(), exc.details(), service, disk_full=says_disk_full(exc, service))


def from_status(grpc_code: grpc.StatusCode, details: str | None, service: str, *, disk_full: bool = False) -> ApiError:
    if grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return _exhausted(details, service, disk_full)
    status, code = _GRPC_TO_HTTP.get(grpc_code, (502, "bad_gateway"))
    message = details or grpc_code.name
    if status in _OUTAGE_MESSAGES:
        log.warning("%s service: %s: %s", service, grpc_code.name, message)
        message = _OUTAGE_MESSAGES[status].format(service=service)
    elif status >= 500:
        message = f"{service} service: {message}"
    return ApiError(status, code, message)


def _exhausted(details: str | None, service: str, disk_full: bool) -> ApiError:
    if disk_full:
        return ApiError(507, "insufficient_storage", f"{service} service: {details}")
    # Requests are checked for size before any call (request_paths.py): what is left is the service's or ours.
    log.warning("%s service: RESOURCE_EXHAUSTED: %s", service, details)
    return ApiError(502, "bad_gateway",
                    f"the {service} service's answer, or the call to it, was over gRPC's size limits")


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
