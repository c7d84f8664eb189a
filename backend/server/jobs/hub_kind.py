"""The "hub" job kind: look the catalogue's contents up on the hub by SHA-256 (nothing else is sent)."""

from __future__ import annotations

import dataclasses
from typing import Any

from backend.server.hub.lookups import HubLookups
from backend.server.jobs.context import JobContext
from backend.server.jobs.kinds import only_fields, read_folder, strict_flag
from backend.server.jobs.runner import JobKind


def validate_hub(body: dict[str, Any]) -> dict[str, Any]:
    only_fields(body, ("folder", "refresh"))
    return {"folder": read_folder(body), "refresh": strict_flag(body, "refresh")}


def hub_kind(lookups: HubLookups) -> JobKind:
    async def run(ctx: JobContext) -> dict[str, Any]:
        def on_progress(done: int, total: int, path: str) -> None:
            ctx.progress(files_done=done, files_total=total, current=path)

        report = await lookups.run(ctx.params["folder"], ctx.params["refresh"], on_progress)
        ctx.progress(errors=len(report.errors))
        return dataclasses.asdict(report)

    return JobKind(run=run, validate=validate_hub)
