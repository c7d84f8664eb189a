"""The JSON a model file and a pending file are shown as, on every route that answers with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asyncpg import Record

from backend.server.http.replies import raw_json


def _image_url(key: str | None) -> str | None:
    return f"/images/{key}" if key else None


def _active_image_url(row: Record) -> str | None:
    """A hash-named preview is cached as immutable: one that changed gets another address."""
    url, changed = _image_url(row["image_key"]), row["preview_at"]
    return f"{url}?v={int(changed.timestamp() * 1000)}" if url and changed is not None else url


def model_json(row: Record) -> dict[str, Any]:
    # String operations, not PurePosixPath: a page of the library shapes a hundred of these per request.
    folder, _, file_name = row["path"].rpartition("/")
    dot = file_name.rfind(".")
    changed = row["changed_at"] is not None
    return {
        "path": row["path"],
        "name": file_name[:dot] if dot > 0 else file_name,
        "folder": folder or "/",
        # A changed file is being hashed again: its record's hash is only the previous one, never shown as its own.
        "state": "changed" if changed else "active",
        "sha256": None if changed else row["sha256"],
        "previous_sha256": row["sha256"] if changed else None,
        "size": row["size"],
        "mtime_ns": row["mtime_ns"],
        "image_key": row["image_key"],
        "image_url": _active_image_url(row),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "changed_at": row["changed_at"].isoformat() if changed else None,
        "metadata": {},
    }


def listed_json(row: Record, root: str | None) -> dict[str, Any]:
    """A model as the library lists it: with its content's metadata, what the catalogue makes of it, and the
    model root it lies in (a card shows its folder from there)."""
    return {**model_json(row), "metadata": raw_json(row["metadata"]),
            "model_type": row["kind"] or "unknown", "base_model": row["base_model"], "root": root}


def pending_json(row: Record, images_dir: Path) -> dict[str, Any]:
    has_image = (images_dir / row["image_key"]).is_file()
    return {
        "path": row["path"],
        "name": row["name"],
        "image_key": row["image_key"],
        "image_url": _image_url(row["image_key"]) if has_image else None,
        "size": row["size"],
        "discovered_at": row["discovered_at"].isoformat(),
        "last_error": row["last_error"],
    }
