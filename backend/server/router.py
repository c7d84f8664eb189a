"""Every route of the gateway, in one place."""

from __future__ import annotations

from aiohttp import web

from backend.server.catalogue import views as catalogue
from backend.server.events import views as events
from backend.server.health import views as health
from backend.server.http import images, openapi, page
from backend.server.hub_pictures import views as hub_pictures
from backend.server.jobs import events as job_events
from backend.server.jobs import views as jobs
from backend.server.legacy import views as legacy
from backend.server.library import views as library
from backend.server.personal import views as personal
from backend.server.previews import views as previews
from backend.server.queue import views as queue
from backend.server.scan import views as scan
from backend.server.session import views as session
from backend.server.session.cookie import SESSION_PATH


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/models/sha256", catalogue.hash_model)
    app.router.add_post("/api/models/pending", catalogue.register_pending)
    app.router.add_post("/api/models/pending/hash", queue.hash_pending_models)
    app.router.add_post("/api/models/scan", scan.scan_models)
    app.router.add_post("/api/models/import", legacy.import_models)
    app.router.add_get("/api/models/pending", library.list_pending)
    app.router.add_get("/api/models", library.list_models)
    # Before /api/models/{sha256}, which would take "duplicates" for a (malformed) hash.
    app.router.add_get("/api/models/duplicates", library.duplicates)
    app.router.add_get("/api/models/facets", library.facets)
    # Any characters: A1111's `Lora hashes: "name: hash"` may name a LoRA with a slash in it.
    app.router.add_get("/api/models/by-hash/{hash:.+}", library.models_by_any_hash)
    # Not the POST-only names beside it: a GET there is a 405 (wrong method), not a malformed hash.
    app.router.add_get("/api/models/{sha256:(?!(?:sha256|scan|import)$)[^/]+}", library.models_by_hash)
    app.router.add_put("/api/models/{sha256}/notes", personal.update_notes)
    app.router.add_put("/api/models/{sha256}/preview", previews.set_preview)
    app.router.add_delete("/api/models/{sha256}/preview", previews.remove_preview)
    app.router.add_get("/api/models/{sha256}/hub-pictures", hub_pictures.list_hub_pictures)
    app.router.add_get("/api/models/{sha256}/hub-pictures/{index}/thumbnail", hub_pictures.hub_picture_thumbnail)
    app.router.add_post("/api/jobs", jobs.start_job)
    app.router.add_get("/api/jobs", jobs.list_jobs)
    app.router.add_get("/api/jobs/{id}", jobs.show_job)
    app.router.add_get("/api/jobs/{id}/events", job_events.job_events)
    app.router.add_post("/api/jobs/{id}/cancel", jobs.cancel_job)
    app.router.add_get("/api/events", events.catalogue_events)
    app.router.add_get("/api/health", health.health)
    app.router.add_post(SESSION_PATH, session.sign_in)
    app.router.add_get("/api/openapi.json", openapi.document)
    app.router.add_get("/images/{key:.+}", images.image)
    app.router.add_get("/", page.index)
    app.router.add_get("/static/{name:.+}", page.static_file)
