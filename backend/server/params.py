"""Reading request parameters from a JSON body or the query string, with clear 400s."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from backend.server.errors import ApiError

MAX_PAGE = 1000


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query parameters, overridden by the JSON body's (the guard has refused any other content type)."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    raw = await request.read()
    if not raw.strip():
        return params
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the JSON body must be an object")
    params.update(body)
    return params


def required_text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, "missing_parameter", f"{name!r} is required")
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name!r} must be a string")
    return value


def optional_text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name!r} must be a string")
    return value


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


def page(request: web.Request) -> tuple[int, int]:
    """limit (1..1000, default 100) and offset (>= 0) from the query string."""
    return (integer(request.query, "limit", 100, 1, MAX_PAGE), integer(request.query, "offset", 0, 0, None))


def integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int | None) -> int:
    """An integer parameter within [low, high], given as a JSON number or as text."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ApiError(400, "invalid_parameter", f"{name!r} must be an integer; got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name!r} must be an integer; got {raw!r}") from None
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise ApiError(400, "invalid_parameter", f"{name!r} must be at least {low}{upper}; got {value}")
    return value
