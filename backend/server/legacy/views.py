"""HTTP for legacy migration: POST /api/models/import."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.http.params import flag, read_params
from backend.server.http.progress import respond
from backend.server.http.request_paths import read_folder
from backend.server.legacy.roots import a1111_roots_param
from backend.util.progress import Progress


async def import_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    app = request.app
    folder = read_folder(params, app[keys.CONFIG].model_roots)
    a1111_roots = a1111_roots_param(params.get("a1111_root"), app[keys.CONFIG])
    dry_run, verify = flag(params, "dry_run"), flag(params, "verify")
    legacy = app[keys.LEGACY_IMPORT]

    async def work(on_progress: Progress | None) -> dict[str, Any]:
        return await legacy.run(folder=folder, a1111_roots=a1111_roots, dry_run=dry_run, verify=verify,
                                on_progress=on_progress)

    return await respond(request, flag(params, "progress"), work)
