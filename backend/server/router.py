"""Every route of the gateway, in one place."""

from __future__ import annotations

from aiohttp import web

from backend.server import legacy_views, library_views, openapi, page, session_views, views
from backend.server.jobs import events as job_events
from backend.server.jobs import views as jobs
from backend.server.session import SESSION_PATH


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/models/sha256", views.hash_model)
    app.router.add_post("/api/models/pending", views.register_pending)
    app.router.add_post("/api/models/pending/hash", views.hash_pending_models)
    app.router.add_post("/api/models/scan", views.scan_models)
    app.router.add_post("/api/models/import", legacy_views.import_models)
    app.router.add_get("/api/models/pending", views.list_pending)
    app.router.add_get("/api/models", library_views.list_models)
    # Before /api/models/{sha256}, which would take "duplicates" for a (malformed) hash.
    app.router.add_get("/api/models/duplicates", library_views.duplicates)
    # Not the POST-only names beside it: a GET there is a 405 (wrong method), not a malformed hash.
    app.router.add_get("/api/models/{sha256:(?!(?:sha256|scan|import)$)[^/]+}", views.models_by_hash)
    app.router.add_post("/api/jobs", jobs.start_job)
    app.router.add_get("/api/jobs", jobs.list_jobs)
    app.router.add_get("/api/jobs/{id}", jobs.show_job)
    app.router.add_get("/api/jobs/{id}/events", job_events.job_events)
    app.router.add_post("/api/jobs/{id}/cancel", jobs.cancel_job)
    app.router.add_get("/api/health", views.health)
    app.router.add_post(SESSION_PATH, session_views.sign_in)
    app.router.add_get("/api/openapi.json", openapi.document)
    app.router.add_get("/images/{key:.+}", views.image)
    app.router.add_get("/", page.index)
    app.router.add_get("/static/{name:.+}", page.static_file)
