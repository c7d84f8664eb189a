"""What a legacy source says about one model file (a claim), and the checks every reader shares."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from backend.util.sha256_text import is_sha256
from backend.util.sidecar_files import MAX_SIDECAR_BYTES

_BOM = b"\xef\xbb\xbf"

SOURCES = ("a1111", "a1111_user_metadata", "civitai_helper", "lora_manager", "stability_matrix")
# The fields the catalogue keeps; each reader fills what its source has.
METADATA_FIELDS = ("model_name", "version_name", "model_type", "base_model", "trained_words",
                   "civitai_model_id", "civitai_version_id", "preferred_weight", "negative_prompt", "notes",
                   "description")


class LegacyFormatError(ValueError):
    """The source's data is malformed or unusable; the message says why, for the import report."""


@dataclass(frozen=True)
class Claim:
    """One source's statement: this file's SHA-256 is sha256, and the file looked like this when it said so.

    A source that describes the file without naming its hash (A1111's own notes) has sha256 None: its
    metadata belongs to whatever hash the file has.
    """

    source: str
    sha256: str | None
    # Bytes, when the source recorded the size; with tolerance, how far off the record may be (KB rounding).
    size: int | None = None
    size_tolerance: int = 0
    # A1111 only: the file's mtime in seconds when the web UI hashed it.
    mtime_s: float | None = None
    # Why the claim's record of the file cannot be checked (a size field of the wrong type): never trusted.
    unverifiable: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def parse_json(raw: bytes, limit: int = MAX_SIDECAR_BYTES) -> Any:
    """JSON from bytes as tools write them: UTF-8, maybe with a BOM (Windows tools add one)."""
    if len(raw) > limit:
        raise LegacyFormatError(f"larger than {limit // (1024 * 1024)} MiB: not a side-car file")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LegacyFormatError(f"not UTF-8 text: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise LegacyFormatError(f"malformed JSON: {exc.msg} at line {exc.lineno}") from None


def json_object(raw: bytes) -> dict[str, Any]:
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise LegacyFormatError(f"expected a JSON object, found {type(data).__name__}")
    return data


def sha256_of(value: Any, where: str) -> str:
    """A hash as 64 lowercase hex digits; tools write upper case (Civitai) or lower case."""
    if not isinstance(value, str) or not is_sha256(value.strip()):
        raise LegacyFormatError(f"{where} is not a SHA-256 (64 hex digits): {str(value)[:80]!r}")
    return value.strip().lower()


def text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


# What tools write where they know nothing: stored as knowledge, these would hide what another source knows.
_PLACEHOLDERS = frozenset({"unknown", "none", "null", "n/a", "other"})


def known_text(value: Any, *, placeholder: str | None = None) -> str | None:
    """Text that says something: not empty, not a tool's "Unknown", not the given placeholder (a file name)."""
    found = text(value)
    if found is None or found.lower() in _PLACEHOLDERS or found == placeholder:
        return None
    return found


def hub_id(value: Any) -> int | None:
    """A Civitai id: a positive integer, sometimes written as a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    # isdigit() alone takes "²", which int() refuses: ASCII decimal digits only.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal() and int(value) > 0:
        return int(value)
    return None


def words(value: Any) -> list[str] | None:
    """Trigger words: a list of strings (a stray non-string is dropped), or one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return None
    found = [w.strip() for w in value if isinstance(w, str) and w.strip()]
    return found or None


def metadata(**fields: Any) -> dict[str, Any]:
    """Only the fields that carry a value: an absent field never overwrites a known one."""
    return {name: value for name, value in fields.items() if value is not None}


def file_name_of(path: str) -> str:
    """The last part of a path written on Windows or POSIX (tools store both)."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]
