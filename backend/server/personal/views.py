"""PUT /api/models/{sha256}/notes: a person's notes, tags and favourite flag, each optional."""

from __future__ import annotations

import unicodedata
from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import ApiError
from backend.server.http.params import read_params, text
from backend.server.personal.service import FIELDS
from backend.util.sha256_text import is_sha256

MAX_NOTES_CHARS = 10_000
MAX_TAGS = 50
MAX_TAG_CHARS = 64


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", message)


def _notes(value: Any) -> str | None:
    notes = text(value, "notes").strip()
    if len(notes) > MAX_NOTES_CHARS:
        raise _invalid(f"'notes' may hold at most {MAX_NOTES_CHARS:,} characters; got {len(notes):,}")
    return notes or None


def _tags(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        raise _invalid("'tags' must be a list of strings")
    if len(value) > MAX_TAGS:
        raise _invalid(f"'tags' may hold at most {MAX_TAGS} tags; got {len(value)}")
    kept: dict[str, str] = {}
    for tag in value:
        tag = text(tag, "a tag").strip()
        if not tag or len(tag) > MAX_TAG_CHARS:
            raise _invalid(f"a tag has 1 to {MAX_TAG_CHARS} characters; got {tag!r}")
        if any(unicodedata.category(char).startswith("C") for char in tag):
            raise _invalid(f"a tag holds no control or invisible characters; got {tag!r}")
        kept.setdefault(tag.casefold(), tag)  # "Anime" and "anime" are one tag: the first spelling stays
    return list(kept.values()) or None


def _favourite(value: Any) -> bool | None:
    if not isinstance(value, bool):
        raise _invalid(f"'favourite' must be true or false; got {value!r}")
    return value or None


_READERS = {"notes": _notes, "tags": _tags, "favourite": _favourite}


def read_values(body: dict[str, Any]) -> dict[str, Any]:
    """field -> value to keep, or None to clear it (an empty text, an empty list, false)."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _invalid(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(FIELDS)}")
    if not body:
        raise ApiError(400, "missing_parameter", f"give at least one of {', '.join(FIELDS)}")
    return {field: _READERS[field](value) for field, value in body.items()}


async def update_notes(request: web.Request) -> web.Response:
    sha256 = request.match_info["sha256"]
    if not is_sha256(sha256):
        raise _invalid("a SHA-256 is 64 hexadecimal digits")
    values = read_values(await read_params(request))
    kept = await request.app[keys.PERSONAL].update(sha256.lower(), values)
    if kept is None:
        raise ApiError(404, "not_found", f"no model has SHA-256 {sha256.lower()}")
    return web.json_response({"sha256": sha256.lower(), "yours": kept})
