"""POST /api/models/scan: a scan job, waited for in the request."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.http.params import flag, read_params
from backend.server.http.progress import respond
from backend.server.http.request_paths import read_folder
from backend.util.progress import Progress


async def scan_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    folder = read_folder(params, request.app[keys.CONFIG].model_roots)
    prune = flag(params, "prune")
    jobs = request.app[keys.JOBS]

    async def work(on_progress: Progress | None) -> dict[str, Any]:
        return await jobs.run_attached("scan", {"folder": folder, "prune": prune}, on_progress)

    return await respond(request, flag(params, "progress"), work)
