"""GET /api/health: each dependency's state, 503 when one is down."""

from __future__ import annotations

from aiohttp import web

from backend.server import keys
from backend.server.http.params import known_query


async def health(request: web.Request) -> web.Response:
    known_query(request, ())
    parts = await request.app[keys.HEALTH].check()
    body = {"status": "ok" if all(parts.values()) else "degraded"}
    body.update({name: "ok" if ok else "unavailable" for name, ok in parts.items()})
    return web.json_response(body, status=200 if all(parts.values()) else 503)
