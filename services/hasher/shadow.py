"""Dev mode: zero-byte shadow_*.safetensors files are answered without reading, from a known or a path hash."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase

from backend.util.model_paths import ModelFile
from backend.util.sha256_text import is_sha256
from services.hasher.errors import BadKnownHashError

SHADOW_PATTERN = "shadow_*.safetensors"


def parse_known_sha256(value: str) -> str | None:
    """The caller's known hash, lowercased; '' means none. Checked in every mode: a bad one is a caller bug."""
    if not value:
        return None
    if not is_sha256(value):
        raise BadKnownHashError(f"known_sha256 must be 64 hex digits, got {value[:80]!r}")
    return value.lower()


def is_shadow(file: ModelFile, dev: bool) -> bool:
    # Only an empty file: a real model that happens to be named shadow_* is always really hashed.
    return dev and file.size == 0 and fnmatchcase(file.resolved_path.name, SHADOW_PATTERN)


def shadow_sha256(file: ModelFile, known: str | None) -> str:
    """The database's hash if the caller has one, else a deterministic hash of the path inside its root."""
    return known or hashlib.sha256(file.relative_path.encode("utf-8")).hexdigest()
