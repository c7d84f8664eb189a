"""The catalogue's handlers: a model file's hash (promoting its pending record), and registering a file."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.catalogue.service import PendingPolicy
from backend.server.http.params import choice, flag, read_params
from backend.server.http.progress import respond
from backend.server.http.request_paths import optional_path, required_path
from backend.server.http.shapes import pending_json
from backend.util.progress import Progress


async def hash_model(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    path = required_path(params, "path")
    pending = PendingPolicy(choice(params, "pending_status", ("pending", "ignore"), "pending"))
    force = flag(params, "force")
    catalogue = request.app[keys.CATALOGUE]

    async def work(on_progress: Progress | None) -> dict[str, Any]:
        outcome = await catalogue.hash_model(path, pending=pending, force=force, on_progress=on_progress)
        return dataclasses.asdict(outcome)

    return await respond(request, flag(params, "progress"), work)


async def register_pending(request: web.Request) -> web.Response:
    params = await read_params(request)
    row, created = await request.app[keys.CATALOGUE].register_pending(
        required_path(params, "path"), optional_path(params, "preview_path")
    )
    return web.json_response(pending_json(row, request.app[keys.CONFIG].images_dir), status=201 if created else 200)
