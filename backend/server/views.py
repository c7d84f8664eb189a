"""Request handlers: read parameters, call the use cases the app holds, shape the JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.catalogue import PendingPolicy
from backend.server.errors import ApiError
from backend.server.jobs.kinds import read_folder
from backend.server.params import choice, flag, integer, optional_text, page, read_params, required_text
from backend.server.progress import Report, respond
from backend.server.shapes import model_json, pending_json
from backend.util.image_keys import PENDING_DIR, InvalidKeyError
from backend.util.image_store import resolve_key
from backend.util.sha256_text import is_sha256


async def hash_model(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    path = required_text(params, "path")
    pending = PendingPolicy(choice(params, "pending_status", ("pending", "ignore"), "pending"))
    force = flag(params, "force")
    catalogue = request.app[keys.CATALOGUE]

    async def work(report: Report | None) -> dict[str, Any]:
        on_progress = None if report is None else (lambda done, total: report(bytes_done=done, bytes_total=total))
        outcome = await catalogue.hash_model(path, pending=pending, force=force, on_progress=on_progress)
        return dataclasses.asdict(outcome)

    return await respond(request, flag(params, "progress"), work)


async def scan_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    folder = read_folder({"folder": optional_text(params, "folder") or ""})
    prune = flag(params, "prune")
    jobs = request.app[keys.JOBS]

    async def work(report: Report | None) -> dict[str, Any]:
        return await jobs.run_attached("scan", {"folder": folder, "prune": prune}, report)

    return await respond(request, flag(params, "progress"), work)


async def hash_pending_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    job = {"folder": "", "limit": integer(params, "limit", 100, 1, 100_000)}
    jobs = request.app[keys.JOBS]

    async def work(report: Report | None) -> dict[str, Any]:
        return await jobs.run_attached("hash", job, report)

    return await respond(request, flag(params, "progress"), work)


async def register_pending(request: web.Request) -> web.Response:
    params = await read_params(request)
    row, created = await request.app[keys.CATALOGUE].register_pending(
        required_text(params, "path"), optional_text(params, "preview_path")
    )
    return web.json_response(pending_json(row, request.app[keys.CONFIG].images_dir), status=201 if created else 200)


async def models_by_hash(request: web.Request) -> web.Response:
    sha256 = request.match_info["sha256"]
    if not is_sha256(sha256):
        raise ApiError(400, "invalid_parameter", "a SHA-256 is 64 hexadecimal digits")
    sha256 = sha256.lower()
    library = request.app[keys.LIBRARY]
    rows, metadata = await library.content(sha256)
    if not rows:
        raise ApiError(404, "not_found", f"no model has SHA-256 {sha256}")
    return web.json_response({"sha256": sha256, "files": [model_json(r) for r in rows], "metadata": metadata,
                              "hub": await library.hub_lookup(sha256)})


async def list_pending(request: web.Request) -> web.Response:
    limit, offset = page(request)
    rows, total = await request.app[keys.LIBRARY].pending(limit, offset)
    images_dir = request.app[keys.CONFIG].images_dir
    return web.json_response(
        {"items": [pending_json(r, images_dir) for r in rows], "total": total, "limit": limit, "offset": offset}
    )


async def image(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    try:
        path = resolve_key(request.app[keys.CONFIG].images_dir, key)
    except InvalidKeyError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    if not path.is_file():
        raise ApiError(404, "not_found", f"no image {key!r}")
    # A hash-named preview never changes for its name; a pending one is replaced when re-registered.
    cache = "public, max-age=31536000, immutable" if not key.startswith(PENDING_DIR + "/") else "no-cache"
    return web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": "image/webp"})


async def health(request: web.Request) -> web.Response:
    parts = await request.app[keys.HEALTH].check()
    body = {"status": "ok" if all(parts.values()) else "degraded"}
    body.update({name: "ok" if ok else "unavailable" for name, ok in parts.items()})
    return web.json_response(body, status=200 if all(parts.values()) else 503)
