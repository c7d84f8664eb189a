"""HTTP for legacy migration: POST /api/models/import and its a1111_root parameter."""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.errors import ApiError
from backend.server.params import flag, optional_text, read_params, text
from backend.server.progress import Report, respond
from backend.util.config import Config

MAX_A1111_ROOTS = 16


async def import_models(request: web.Request) -> web.StreamResponse:
    params = await read_params(request)
    app = request.app
    folder = optional_text(params, "folder") or ""
    a1111_roots = a1111_roots_param(params.get("a1111_root"), app[keys.CONFIG])
    dry_run, verify = flag(params, "dry_run"), flag(params, "verify")
    legacy = app[keys.LEGACY_IMPORT]

    async def work(report: Report | None) -> dict[str, Any]:
        on_progress = None if report is None else (
            lambda done, total, path: report(files_done=done, files_total=total, path=path))
        return await legacy.run(folder=folder, a1111_roots=a1111_roots, dry_run=dry_run, verify=verify,
                                on_progress=on_progress)

    return await respond(request, flag(params, "progress"), work)


def a1111_roots_param(value: Any, config: Config) -> list[str]:
    """Web UI folders, each inside the model roots or MODELVAULT_IMPORT_ROOTS (the hasher checks again)."""
    if value is None or value == "":
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ApiError(400, "invalid_parameter", "'a1111_root' must be a list of folder paths")
    if len(values) > MAX_A1111_ROOTS:
        raise ApiError(400, "invalid_parameter", f"'a1111_root' takes at most {MAX_A1111_ROOTS} folders")
    allowed = [PurePosixPath(root) for root in (*config.model_roots, *config.import_roots)]
    roots = []
    for raw in values:
        text(raw, "a1111_root")
        if "\x00" in raw or not raw.startswith("/"):
            raise ApiError(400, "invalid_parameter", f"'a1111_root' must be absolute paths: {raw!r}")
        root = PurePosixPath(os.path.normpath(raw))
        if not any(root == a or root.is_relative_to(a) for a in allowed):
            raise ApiError(403, "permission_denied",
                           f"{raw!r} is outside the model roots and MODELVAULT_IMPORT_ROOTS")
        roots.append(str(root))
    return roots
