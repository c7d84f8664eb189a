"""The job kinds this package runs, scan and hash, with the strict reading of their parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.server.http.errors import ApiError
from backend.server.http.params import integer
from backend.server.http.request_paths import read_folder
from backend.server.jobs.context import JobContext
from backend.server.jobs.runner import JobKind
from backend.server.legacy import LegacyServices
from backend.server.queue import service as pending_queue
from backend.server.queue.service import QueueServices
from backend.server.scan import service as scan

# A hash job without a limit takes the whole queue.
MAX_LIMIT = 10_000_000


def only_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid_parameter",
                       f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: kind, {', '.join(allowed)}")


def strict_flag(body: dict[str, Any], name: str) -> bool:
    """A JSON boolean, never a string: a job's body is JSON, not a query string."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_parameter", f"{name!r} must be true or false; got {value!r}")
    return value


def scan_kind(services: LegacyServices, roots: Sequence[Path], settle_s: float) -> JobKind:
    def validate(body: dict[str, Any]) -> dict[str, Any]:
        only_fields(body, ("folder", "prune"))
        return {"folder": read_folder(body, roots), "prune": strict_flag(body, "prune")}

    async def run(ctx: JobContext) -> dict[str, Any]:
        report = await scan.scan(services, ctx.params["folder"], ctx.on_progress,
                                 prune=ctx.params.get("prune", False), settle_s=settle_s)
        ctx.progress(errors=len(report.errors))
        return dataclasses.asdict(report)

    return JobKind(run=run, validate=validate)


def hash_kind(services: QueueServices, roots: Sequence[Path]) -> JobKind:
    def validate(body: dict[str, Any]) -> dict[str, Any]:
        only_fields(body, ("folder", "limit"))
        return {"folder": read_folder(body, roots), "limit": integer(body, "limit", MAX_LIMIT, 1, MAX_LIMIT)}

    async def run(ctx: JobContext) -> dict[str, Any]:
        report = await pending_queue.hash_pending(
            services, ctx.job_id, ctx.params["limit"], ctx.on_progress, ctx.params["folder"])
        return dataclasses.asdict(report)

    return JobKind(run=run, validate=validate)
