"""GET /api/openapi.json: the OpenAPI 3 description of every route, a static file kept beside the routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

# Beside the routes it describes (backend/server/), not beside this handler.
DOCUMENT = Path(__file__).resolve().parents[1] / "openapi.json"


async def document(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DOCUMENT, headers={"Content-Type": "application/json"})
