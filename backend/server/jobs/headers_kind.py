"""The "headers" job kind: what catalogued files say about themselves (type, architecture, training facts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.headers import service as model_headers
from backend.server.http.request_paths import read_folder
from backend.server.jobs.context import JobContext
from backend.server.jobs.kinds import only_fields, strict_flag
from backend.server.jobs.runner import JobKind


def headers_kind(pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient, roots: Sequence[Path]) -> JobKind:
    def validate_headers(body: dict[str, Any]) -> dict[str, Any]:
        only_fields(body, ("folder", "refresh"))
        return {"folder": read_folder(body, roots), "refresh": strict_flag(body, "refresh")}

    async def run(ctx: JobContext) -> dict[str, Any]:
        report = await model_headers.read_headers(pool, hasher, images, ctx.params["folder"],
                                                  ctx.params.get("refresh", False), ctx.on_progress)
        return dataclasses.asdict(report)

    return JobKind(run=run, validate=validate_headers)
