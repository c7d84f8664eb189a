"""The "headers" job kind: what catalogued files say about themselves (type, architecture, training facts)."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg

from backend.server import model_headers
from backend.server.clients import HasherClient, ImagesClient
from backend.server.jobs.context import JobContext
from backend.server.jobs.kinds import only_fields, read_folder, strict_flag
from backend.server.jobs.runner import JobKind


def validate_headers(body: dict[str, Any]) -> dict[str, Any]:
    only_fields(body, ("folder", "refresh"))
    return {"folder": read_folder(body), "refresh": strict_flag(body, "refresh")}


def headers_kind(pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient) -> JobKind:
    async def run(ctx: JobContext) -> dict[str, Any]:
        report = await model_headers.read_headers(pool, hasher, images, ctx.params["folder"],
                                                  ctx.params.get("refresh", False), ctx.progress)
        return dataclasses.asdict(report)

    return JobKind(run=run, validate=validate_headers)
