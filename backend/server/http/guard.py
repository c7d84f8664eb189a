"""Who may drive the gateway: known Host names only, no cross-site writes, JSON only as JSON, a token if set."""

from __future__ import annotations

import hmac
import re

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from backend.server import keys
from backend.server.http.errors import ApiError, error_response
from backend.server.session.cookie import SESSION_PATH, carries_session

# Requests a web page can send to another origin without asking first (no CORS preflight).
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
_PROTECTED_PREFIXES = ("/api/", "/images/")


def host_name(host: str) -> str:
    """The Host header without its port, lower case: "[::1]:8080" -> "[::1]", "Localhost:80" -> "localhost"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _check_host(request: web.Request, allowed: tuple[str, ...]) -> str:
    # A DNS-rebinding page reaches us under its own name: the Host header is the one thing it cannot fake.
    host = request.headers.get(hdrs.HOST, "")
    if host_name(host) not in allowed:
        raise ApiError(
            403, "host_not_allowed",
            f"Host {host!r} is not a name of this gateway; add it to MODELVAULT_ALLOWED_HOSTS to allow it",
        )
    return host


def _check_origin(request: web.Request, host: str) -> None:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and origin.split("://", 1)[-1].lower() != host.strip().lower():
        raise ApiError(403, "cross_origin", f"requests from {origin!r} may not change this catalogue")
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    if site in _FOREIGN_FETCH_SITES:
        raise ApiError(403, "cross_origin", f"{site} requests may not change this catalogue")


# Where a body is a picture: a PUT (which no form sends) whose image type a page of another site could send
# only after a CORS preflight, which this gateway never answers.
_IMAGE_BODY_PATH = re.compile(r"/api/models/[^/]+/preview")
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


def _takes_image(request: web.Request) -> bool:
    return (request.method == "PUT" and request.content_type in _IMAGE_TYPES
            and _IMAGE_BODY_PATH.fullmatch(request.path) is not None)


def _check_content_type(request: web.Request) -> None:
    # A form or text/plain post needs no CORS preflight: reading it as JSON would let any page send one.
    if request.body_exists and request.content_type != "application/json" and not _takes_image(request):
        raise ApiError(
            415, "unsupported_media_type",
            f"the body must be JSON sent with Content-Type: application/json; got {request.content_type!r}",
        )


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = _check_host(request, request.app[keys.CONFIG].gateway.allowed_hosts)
    if request.method in _STATE_CHANGING:
        _check_origin(request, host)
        _check_content_type(request)
    return await handler(request)


def _authorised(request: web.Request, expected: str) -> bool:
    """The token as a Bearer header (the command line, scripts), or the session cookie the page signed in for."""
    scheme, _, credentials = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return hmac.compare_digest(credentials.strip().encode(), expected.encode())
    return carries_session(request.cookies, request.app[keys.CONFIG])


@web.middleware
async def token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With MODELVAULT_API_TOKEN set, /api and /images need it; the page's own files and its sign-in do not."""
    expected = request.app[keys.CONFIG].gateway.api_token
    if expected is None or not request.path.startswith(_PROTECTED_PREFIXES) or request.path == SESSION_PATH:
        return await handler(request)
    if not _authorised(request, expected):
        reply = error_response(
            401, "unauthorized",
            "this gateway needs its token: send 'Authorization: Bearer <token>', or sign in at POST /api/session",
        )
        reply.headers[hdrs.WWW_AUTHENTICATE] = "Bearer"
        return reply
    return await handler(request)
