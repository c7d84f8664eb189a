"""Requests too malformed to reach the app (an over-long URL or header, broken HTTP) get JSON errors too.

aiohttp answers those itself, in plain text, before any middleware runs, and offers no hook for it
(aio-libs/aiohttp#3287): the one way is its request handler class, which we replace with a subclass.
"""

from __future__ import annotations

from aiohttp import http_exceptions, web_protocol, web_server
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from backend.server.http.errors import error_response

_CODES = {400: "bad_request", 413: "body_too_large", 500: "internal", 504: "deadline_exceeded"}


def _message(status: int, exc: BaseException | None) -> str:
    if isinstance(exc, http_exceptions.LineTooLong):
        return "the request line or a header is too long"
    if isinstance(exc, http_exceptions.BadHttpMessage):
        return "malformed HTTP request"
    return "internal error" if status >= 500 else "bad request"


class JsonErrorRequestHandler(web_protocol.RequestHandler):
    """aiohttp's handler, answering its own errors as {"error": {"code", "message"}}."""

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> StreamResponse:
        # The parent logs and refuses when a response was already under way; its plain-text body we replace.
        super().handle_error(request, status, exc, message)
        reply = error_response(status, _CODES.get(status, "bad_request"), _message(status, exc))
        reply.force_close()
        return reply


def install() -> None:
    """Every aiohttp server of this process answers its own errors in JSON (idempotent)."""
    web_server.RequestHandler = JsonErrorRequestHandler  # type: ignore[misc]
