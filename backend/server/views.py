"""Request handlers: read parameters, call the catalogue or the database, shape the JSON."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from aiohttp import web
from asyncpg import Record

from backend.database import db
from backend.server import keys, legacy_views
from backend.server.catalogue import PendingPolicy
from backend.server.clients import is_serving
from backend.server.errors import ApiError
from backend.server.jobs.attached import run_attached
from backend.server.jobs.kinds import read_folder
from backend.server.params import choice, flag, integer, optional_text, page, read_params, required_text
from backend.server.progress import Report, respond
from backend.util.image_store import InvalidKeyError, resolve_key
from backend.util.sha256_text import is_sha256

_HEALTH_TIMEOUT_S = 2.0


def _image_url(key: str | None) -> str | None:
    return f"/images/{key}" if key else None


def model_json(row: Record) -> dict[str, Any]:
    # String operations, not PurePosixPath: a page of the library shapes a hundred of these per request.
    folder, _, file_name = row["path"].rpartition("/")
    dot = file_name.rfind(".")
    return {
        "path": row["path"],
        "name": file_name[:dot] if dot > 0 else file_name,
        "folder": folder or "/",
        "sha256": row["sha256"],
        "size": row["size"],
        "mtime_ns": row["mtime_ns"],
        "image_key": row["image_key"],
        "image_url": _image_url(row["image_key"]),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "metadata": {},
    }


def pending_json(row: Record, images_dir: Path) -> dict[str, Any]:
    has_image = (images_dir / row["image_key"]).is_file()
    return {
        "path": row["path"],
        "name": row["name"],
        "image_key": row["image_key"],
        "image_url": _image_url(row["image_key"]) if has_image else None,
        "discovered_at": row["discovered_at"].isoformat(),
        "last_error": row["last_error"],
    }


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
    runner = request.app[keys.JOBS]

    async def work(report: Report | None) -> dict[str, Any]:
        return await run_attached(runner, "scan", {"folder": folder, "prune": prune}, report)

    return await respond(request, flag(params, "progress"), work)


async def hash_pending_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    job = {"folder": "", "limit": integer(params, "limit", 100, 1, 100_000)}
    runner = request.app[keys.JOBS]

    async def work(report: Report | None) -> dict[str, Any]:
        return await run_attached(runner, "hash", job, report)

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
    async with request.app[keys.POOL].acquire() as conn:
        rows = await db.models_with_hash(conn, sha256)
        metadata = await legacy_views.sourced_metadata(conn, sha256)
    if not rows:
        raise ApiError(404, "not_found", f"no model has SHA-256 {sha256}")
    return web.json_response({"sha256": sha256, "files": [model_json(r) for r in rows], "metadata": metadata})


async def list_pending(request: web.Request) -> web.Response:
    limit, offset = page(request)
    async with request.app[keys.POOL].acquire() as conn:
        rows, total = await db.list_pending(conn, limit, offset)
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
    cache = "public, max-age=31536000, immutable" if not key.startswith("pending/") else "no-cache"
    return web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": "image/webp"})


async def _database_ok(app: web.Application) -> bool:
    try:
        async with asyncio.timeout(_HEALTH_TIMEOUT_S):
            async with app[keys.POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not healthy", which is the answer
        return False
    return True


async def health(request: web.Request) -> web.Response:
    app = request.app
    database, hasher, images = await asyncio.gather(
        _database_ok(app),
        is_serving(app[keys.HASHER_CHANNEL], _HEALTH_TIMEOUT_S),
        is_serving(app[keys.IMAGES_CHANNEL], _HEALTH_TIMEOUT_S),
    )
    parts = {"database": database, "hasher": hasher, "images": images}
    body = {"status": "ok" if all(parts.values()) else "degraded"}
    body.update({name: "ok" if ok else "unavailable" for name, ok in parts.items()})
    return web.json_response(body, status=200 if all(parts.values()) else 503)
