"""Reading request parameters from a JSON body or the query string, with clear 400s."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from backend.server.http.errors import ApiError
from backend.server.http.json_limits import check_shape

MAX_PAGE = 1000
# PostgreSQL's bigint: a larger offset or count could never match and would overflow the query.
MAX_INTEGER = 2**63 - 1


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query parameters, overridden by the JSON body's (the guard has refused any other content type)."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    raw = await request.read()
    if not raw.strip():
        return params
    check_shape(raw)  # before parsing: a body of a million tiny arrays would take a gigabyte to parse
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "malformed_json", "the JSON body is nested too deeply") from None
    except ValueError as exc:  # also UnicodeDecodeError, and an integer too long to convert
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the JSON body must be an object")
    params.update(body)
    return params


def text(value: Any, name: str) -> str:
    """A string that is text: a lone surrogate is valid JSON but no protobuf or PostgreSQL string holds it."""
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name!r} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800") is valid JSON but no text: no file name and no protobuf string holds it.
        raise ApiError(400, "invalid_parameter", f"{name!r} is not valid Unicode text") from None
    return value


def required_text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, "missing_parameter", f"{name!r} is required")
    return text(value, name)


def optional_text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    return text(value, name)


def choice(params: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise ApiError(400, "invalid_parameter", f"{name!r} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.lower() in ("1", "true", "yes")
    raise ApiError(400, "invalid_parameter", f"{name!r} must be true or false; got {value!r}")


def known_query(request: web.Request, allowed: tuple[str, ...]) -> None:
    """An unknown query parameter is a 400, as an unknown body field is: a misspelt filter is never ignored."""
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        choices = f"allowed: {', '.join(allowed)}" if allowed else "this request takes none"
        raise ApiError(400, "invalid_parameter",
                       f"unknown parameter(s) {', '.join(map(repr, unknown))}; {choices}")


def page(request: web.Request) -> tuple[int, int]:
    """limit (1..1000, default 100) and offset (>= 0) from the query string."""
    return (integer(request.query, "limit", 100, 1, MAX_PAGE), integer(request.query, "offset", 0, 0, None))


def _shown(raw: Any) -> str:
    """A value for an error message, cut short: a 5,000-digit number is not worth repeating."""
    text = repr(raw)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    """An integer parameter within [low, high] (high: at most a bigint), given as a JSON number or as text."""
    high = MAX_INTEGER if high is None else min(high, MAX_INTEGER)
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ApiError(400, "invalid_parameter", f"{name!r} must be an integer; got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name!r} must be an integer; got {_shown(raw)}") from None
    if value < low or value > high:
        raise ApiError(400, "invalid_parameter",
                       f"{name!r} must be at least {low} and at most {high}; got {_shown(raw)}")
    return value
