"""The "hub" job kind: look the catalogue's contents up on the hub by SHA-256 (nothing else is sent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.server.http.errors import ApiError
from backend.server.http.params import optional_text
from backend.server.http.request_paths import read_folder
from backend.server.hub.lookups import HubLookups
from backend.server.jobs.context import JobContext
from backend.server.jobs.kinds import only_fields, strict_flag
from backend.server.jobs.runner import JobKind
from backend.util.sha256_text import is_sha256


def validate_hub(body: dict[str, Any], roots: Sequence[Path]) -> dict[str, Any]:
    """A folder (or every root), or one content by its SHA-256 (the model view's button: always asked again)."""
    only_fields(body, ("folder", "refresh", "sha256"))
    params = {"folder": read_folder(body, roots), "refresh": strict_flag(body, "refresh")}
    sha256 = optional_text(body, "sha256")
    if sha256 is not None:
        if not is_sha256(sha256):
            raise ApiError(400, "invalid_parameter", "'sha256' must be 64 hexadecimal digits")
        if params["folder"]:
            raise ApiError(400, "invalid_parameter", "give 'folder' or 'sha256', not both")
        params["sha256"] = sha256.lower()
    return params


def hub_kind(lookups: HubLookups, roots: Sequence[Path]) -> JobKind:
    async def run(ctx: JobContext) -> dict[str, Any]:
        params = ctx.params
        report = await lookups.run(params["folder"], params["refresh"], ctx.on_progress, params.get("sha256"))
        ctx.progress(errors=len(report.errors))
        return dataclasses.asdict(report)

    return JobKind(run=run, validate=lambda body: validate_hub(body, roots))
