"""Answers that report progress: NDJSON lines while the work advances, then the answer as the last line."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Unpack

from aiohttp import web

from backend.server.adapters.failures import ServiceFailure
from backend.server.http.errors import ApiError
from backend.util.progress import Progress, ProgressFields

# A progress line names the path being worked on `path`, as the API documents it; a job's row says `current`.
_LINE_NAMES = {"current": "path"}


async def respond(
    request: web.Request, progress: bool, work: Callable[[Progress | None], Awaitable[dict[str, Any]]]
) -> web.StreamResponse:
    """The answer as JSON; with progress, as NDJSON progress lines followed by the answer."""
    if not progress:
        return web.json_response(await work(None))
    stream = ProgressStream(request)
    try:
        body = await work(stream.report)
    except (ApiError, ServiceFailure) as exc:
        if not stream.started:
            raise  # nothing sent yet: an ordinary error response with its status
        body = {"error": {"code": exc.code, "message": exc.message}}
    return await stream.finish(body)


class ProgressStream:
    """NDJSON: a {"progress": {...}} line as work advances, then one final line, the answer or an error.

    The response starts with the first progress line, so that errors found before any work
    (a bad path, a missing file) still get their own HTTP status.
    """

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        self.started = False

    async def report(self, **fields: Unpack[ProgressFields]) -> None:
        await self._line({"progress": {_LINE_NAMES.get(name, name): value for name, value in fields.items()}})

    async def finish(self, body: dict[str, Any]) -> web.StreamResponse:
        await self._line(body)
        await self._response.write_eof()
        return self._response

    async def _line(self, body: dict[str, Any]) -> None:
        if not self.started:
            await self._response.prepare(self._request)
            self.started = True
        await self._response.write(json.dumps(body).encode() + b"\n")
