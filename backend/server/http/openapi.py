"""GET /api/openapi.json: the OpenAPI 3 description of every route, a static file kept beside the routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from backend.server.http.params import known_query

# Beside the routes it describes (backend/server/), not beside this handler.
DOCUMENT = Path(__file__).resolve().parents[1] / "openapi.json"


async def document(request: web.Request) -> web.FileResponse:
    known_query(request, ())
    return web.FileResponse(DOCUMENT, headers={"Content-Type": "application/json"})
