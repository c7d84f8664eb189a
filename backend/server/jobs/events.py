"""GET /api/jobs/{id}/events: Server-Sent Events, the current state first, progress at most 4 times a second."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.jobs.context import FLUSH_INTERVAL_S
from backend.server.jobs.model import is_live, job_json
from backend.server.jobs.views import job_id_of


def _event(name: str, body: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(body)}\n\n".encode()


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


async def job_events(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    jobs = request.app[keys.JOBS]
    row = await jobs.get(job_id)  # a 404 before the stream starts
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    # The row changes at most every FLUSH_INTERVAL_S, from whichever gateway runs the job: reading it at
    # that pace sends every change, and never more than 4 events a second.
    seen: tuple | None = None
    try:
        while is_live(row):
            state = tuple(value for name, value in row.items() if name != "observed_at")
            if state != seen:
                await response.write(_event("progress", job_json(row)))
                seen = state
            await asyncio.sleep(FLUSH_INTERVAL_S)
            if _gone(request):
                return response
            row = await jobs.get(job_id)
        if seen is None:
            await response.write(_event("progress", job_json(row)))
        await response.write(_event("done", job_json(row)))
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing more to send, and the job goes on
    return response
