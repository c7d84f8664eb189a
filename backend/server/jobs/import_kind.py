"""The "import" job kind: legacy migration (other tools' hashes, names and previews) as a job with progress."""

from __future__ import annotations

from typing import Any

from backend.server.http.request_paths import read_folder
from backend.server.jobs.context import JobContext
from backend.server.jobs.kinds import only_fields, strict_flag
from backend.server.jobs.runner import JobKind
from backend.server.legacy import LegacyImport
from backend.server.legacy.roots import a1111_roots_param
from backend.util.config import Config


def import_kind(legacy: LegacyImport, config: Config) -> JobKind:
    def validate(body: dict[str, Any]) -> dict[str, Any]:
        only_fields(body, ("folder", "a1111_root", "dry_run", "verify"))
        return {"folder": read_folder(body, config.model_roots),
                "a1111_root": a1111_roots_param(body.get("a1111_root"), config),
                "dry_run": strict_flag(body, "dry_run"), "verify": strict_flag(body, "verify")}

    async def run(ctx: JobContext) -> dict[str, Any]:
        params = ctx.params
        result = await legacy.run(folder=params["folder"], a1111_roots=params["a1111_root"],
                                  dry_run=params["dry_run"], verify=params["verify"], on_progress=ctx.on_progress)
        ctx.progress(errors=len(result["skipped"]))
        return result

    return JobKind(run=run, validate=validate)
