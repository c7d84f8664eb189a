"""Which web UI folders an import may read: those inside the model roots or MODELVAULT_IMPORT_ROOTS."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from backend.server.http.errors import ApiError
from backend.server.http.params import text
from backend.server.http.request_paths import checked_path
from backend.util.config import Config
from backend.util.model_paths import normal_path

MAX_A1111_ROOTS = 16


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
        checked_path(text(raw, "a1111_root"), "a1111_root")
        if "\x00" in raw or not raw.startswith("/"):
            raise ApiError(400, "invalid_parameter", f"'a1111_root' must be absolute paths: {raw!r}")
        root = PurePosixPath(normal_path(raw))
        if not any(root == place or root.is_relative_to(place) for place in allowed):
            raise ApiError(403, "permission_denied",
                           f"{raw!r} is outside the model roots and MODELVAULT_IMPORT_ROOTS")
        roots.append(str(root))
    return roots
