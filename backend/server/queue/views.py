"""POST /api/models/pending/hash: a hash job over the queue, waited for in the request."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.http.params import flag, integer, read_params
from backend.server.http.progress import respond
from backend.util.progress import Progress


async def hash_pending_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    job = {"folder": "", "limit": integer(params, "limit", 100, 1, 100_000)}
    jobs = request.app[keys.JOBS]

    async def work(on_progress: Progress | None) -> dict[str, Any]:
        return await jobs.run_attached("hash", job, on_progress)

    return await respond(request, flag(params, "progress"), work)
