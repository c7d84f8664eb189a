"""The library's read side over HTTP: the model list (filters, orders, cursor paging) and duplicate files."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import ApiError
from backend.server.http.params import MAX_INTEGER, MAX_PAGE, choice, flag, integer, known_query, optional_text, page
from backend.server.http.replies import json_reply, raw_json
from backend.server.http.request_paths import checked_path
from backend.server.http.shapes import listed_json, model_json, pending_json
from backend.server.library.folders import folder_tree, root_of
from backend.server.library.hash_text import parse_hash_text
from backend.server.library.service import SORTS, UNKNOWN, Count, ModelQuery
from backend.util.model_files import MODEL_SUFFIXES
from backend.util.model_paths import normal_path
from backend.util.sha256_text import is_sha256

_TYPES = tuple(sorted(suffix.lstrip(".") for suffix in MODEL_SUFFIXES))
_MAX_QUERY = 200
_MAX_FILTER = 100
_KIND = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts, and what the first page counted: pages after it are not counted again."""

    sort_key: Any
    path: str
    matches: Count


def _filter_id(request: web.Request) -> str:
    """Ties a cursor to its filters and order: continuing another listing with it would skip rows."""
    fields = [request.query.get(name, "") for name in ("sort", "order", "q", "folder", "type", "model_type",
                                                         "base_model", "favourite")]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:12]


def encode_cursor(request: web.Request, cursor: Cursor) -> str:
    raw = json.dumps([_filter_id(request), cursor.sort_key, cursor.path, cursor.matches.total, cursor.matches.exact],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _fits(value: Any, kind: type) -> bool:
    """A cursor's part as the database takes it: a bigint, or text without NUL (a forged cursor may hold either)."""
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")  # a lone surrogate is valid JSON, but no text
    except UnicodeEncodeError:
        return False
    return True


def decode_cursor(request: web.Request, text: str, sort: str) -> Cursor:
    """400 when it is not one of ours or was made for another order or other filters."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        made_for, sort_key, path, total, exact = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ApiError(400, "invalid_parameter", "'cursor' is not a cursor this server gave out") from None
    if made_for != _filter_id(request):
        raise ApiError(400, "invalid_parameter",
                       "'cursor' belongs to another listing: ask with the sort, order and filters it was made for")
    key_type = int if sort in ("size", "date") else str
    if not (_fits(sort_key, key_type) and _fits(path, str) and _fits(total, int)
            and isinstance(exact, bool)):
        raise ApiError(400, "invalid_parameter", "'cursor' is not a cursor this server gave out")
    return Cursor(sort_key, path, Count(total, exact))


def _no_nul(params: Mapping[str, str], name: str) -> str | None:
    """PostgreSQL text cannot hold NUL: a query with one would fail in the database, not match nothing."""
    value = optional_text(params, name)
    if value is not None and "\x00" in value:
        raise ApiError(400, "invalid_parameter", f"{name!r} must not contain NUL")
    return value


_LIST_PARAMETERS = ("limit", "offset", "cursor", "sort", "order", "q", "folder", "type", "model_type", "base_model",
                    "favourite")


def _model_query(request: web.Request) -> tuple[ModelQuery, Cursor | None]:
    params = request.query
    known_query(request, _LIST_PARAMETERS)
    limit, offset = page(request)
    sort = choice(params, "sort", SORTS, "path")
    order = choice(params, "order", ("asc", "desc"), "asc")
    cursor = optional_text(params, "cursor")
    if cursor is not None and offset:
        raise ApiError(400, "invalid_parameter", "give either 'cursor' or 'offset', not both")
    search = _no_nul(params, "q")
    if search is not None and len(search) > _MAX_QUERY:
        raise ApiError(400, "invalid_parameter", f"'q' is at most {_MAX_QUERY} characters")
    folder = _no_nul(params, "folder")
    if folder is not None:
        if not folder.startswith("/"):
            raise ApiError(400, "invalid_parameter", f"'folder' must be an absolute path; got {folder!r}")
        folder = normal_path(checked_path(folder, "folder"))
    ext = optional_text(params, "type")
    if ext is not None:
        ext = choice({"type": ext.lower().lstrip(".")}, "type", _TYPES, "")
    kind = _short_text(params, "model_type", _KIND)
    base_model = _short_text(params, "base_model", None)
    after = decode_cursor(request, cursor, sort) if cursor is not None else None
    keyset = (after.sort_key, after.path) if after is not None else None
    return ModelQuery(limit, offset, sort, order == "desc", keyset, search, folder, ext,
                      kind.lower() if kind else None, base_model, flag(params, "favourite")), after


def _short_text(params: Mapping[str, str], name: str, pattern: re.Pattern[str] | None) -> str | None:
    """A filter's value: a model type is a word, a base model any short text ("unknown" for none known)."""
    value = _no_nul(params, name)
    if value is None:
        return None
    if len(value) > _MAX_FILTER or (pattern is not None and not pattern.fullmatch(value)):
        raise ApiError(400, "invalid_parameter",
                       f"{name!r} is a model type such as lora, checkpoint or unknown (at most {_MAX_FILTER} "
                       f"letters, digits or _); got {value[:_MAX_FILTER]!r}" if pattern is not None else
                       f"{name!r} is at most {_MAX_FILTER} characters")
    return value


async def list_models(request: web.Request) -> web.Response:
    """A page of active models. `total` is counted for a page asked for without a cursor (a text search's up
    to a bound: `total_exact` false says there are at least that many); a page reached by cursor repeats what
    the first page counted, so paging deep into the library never counts it again."""
    query, after = _model_query(request)
    found = await request.app[keys.LIBRARY].models(query, after.matches if after is not None else None)
    rows = found.rows
    next_cursor = (encode_cursor(request, Cursor(rows[-1]["sort_key"], rows[-1]["path"], found.matches))
                   if found.more else None)
    roots = [str(root) for root in request.app[keys.CONFIG].model_roots]
    items = [listed_json(r, root_of(r["path"], roots)) for r in rows]
    return json_reply({"items": items, "total": found.matches.total, "total_exact": found.matches.exact,
                       "limit": query.limit, "offset": query.offset, "next_cursor": next_cursor})


async def facets(request: web.Request) -> web.Response:
    """What the library's filters offer, with counts: the folder tree, the model types and the base models."""
    known_query(request, ())
    found = await request.app[keys.LIBRARY].facets()
    roots = [str(root) for root in request.app[keys.CONFIG].model_roots]
    folders = folder_tree(((r["value"], r["count"]) for r in found["folders"]), roots)

    def values(rows: list) -> list[dict[str, Any]]:
        return [{"value": r["value"] or UNKNOWN, "count": r["count"]} for r in rows]

    return json_reply({"roots": roots, "folders": folders, "model_types": values(found["model_types"]),
                       "base_models": values(found["base_models"])})


async def duplicates(request: web.Request) -> web.Response:
    known_query(request, ("limit", "offset"))
    limit = integer(request.query, "limit", 50, 1, MAX_PAGE)
    offset = integer(request.query, "offset", 0, 0, None)
    found = await request.app[keys.LIBRARY].duplicates(limit, offset)
    by_hash: dict[str, list[dict[str, Any]]] = {}
    for row in found.files:
        by_hash.setdefault(row["sha256"], []).append({**model_json(row), "metadata": raw_json(row["metadata"])})
    body = [{"sha256": g["sha256"], "size": g["size"], "count": g["count"], "files": by_hash.get(g["sha256"], []),
             "wasted_bytes": g["wasted_bytes"]} for g in found.groups]
    return json_reply({"groups": body, "total_groups": found.total_groups, "wasted_bytes": found.wasted_bytes})


async def models_by_hash(request: web.Request) -> web.Response:
    known_query(request, ())
    sha256 = request.match_info["sha256"]
    if not is_sha256(sha256):
        raise ApiError(400, "invalid_parameter", "a SHA-256 is 64 hexadecimal digits")
    sha256 = sha256.lower()
    library = request.app[keys.LIBRARY]
    rows, metadata = await library.content(sha256)
    if not rows:
        raise ApiError(404, "not_found", f"no model has SHA-256 {sha256}")
    return web.json_response({"sha256": sha256, "files": [model_json(r) for r in rows], "metadata": metadata,
                              "hashes": await library.hashes(sha256),
                              "hub": await library.hub_lookup(sha256),
                              "own_preview": await library.own_preview(sha256)})


async def models_by_any_hash(request: web.Request) -> web.Response:
    """Every content a hash names (short ones collide): 404 when none of the hashes given matches."""
    wanted = parse_hash_text(request.match_info["hash"])
    results = await request.app[keys.LIBRARY].find_by_hashes(wanted)
    if not any(result["matches"] for result in results):
        shown = ", ".join(item.hash for item in wanted)
        raise ApiError(404, "not_found", f"no catalogued model has the hash {shown}")
    return web.json_response({"results": results,
                              "ambiguous": any(len(result["matches"]) > 1 for result in results)})


async def list_pending(request: web.Request) -> web.Response:
    known_query(request, ("limit", "offset"))
    limit, offset = page(request)
    rows, total = await request.app[keys.LIBRARY].pending(limit, offset)
    images_dir = request.app[keys.CONFIG].images_dir
    return web.json_response(
        {"items": [pending_json(r, images_dir) for r in rows], "total": total, "limit": limit, "offset": offset}
    )
