"""Every route of the gateway, in one place."""

from __future__ import annotations

from aiohttp import web

from backend.server import page, views


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/models/sha256", views.hash_model)
    app.router.add_post("/api/models/pending", views.register_pending)
    app.router.add_post("/api/models/pending/hash", views.hash_pending_models)
    app.router.add_post("/api/models/scan", views.scan_models)
    app.router.add_get("/api/models/pending", views.list_pending)
    app.router.add_get("/api/models", views.list_models)
    app.router.add_get("/api/models/{sha256}", views.models_by_hash)
    app.router.add_get("/api/health", views.health)
    app.router.add_get("/images/{key:.+}", views.image)
    app.router.add_get("/", page.index)
    app.router.add_get("/static/{name:.+}", page.static_file)
