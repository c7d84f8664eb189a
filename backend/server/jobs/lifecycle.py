"""The job engine's life in the gateway: built, its dead predecessors' jobs interrupted, closed before the pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from backend.database import jobs_queries
from backend.database.migration.promotion import Promotions
from backend.server import keys
from backend.server.hub.limits import RateLimit
from backend.server.hub.lookups import HubLookups
from backend.server.hub.preview_download import HubPreviews
from backend.server.jobs.control import Jobs
from backend.server.jobs.data_dir_lock import DataDirLock
from backend.server.jobs.headers_kind import headers_kind
from backend.server.jobs.hub_auto import then_hub
from backend.server.jobs.hub_kind import hub_kind
from backend.server.jobs.import_kind import import_kind
from backend.server.jobs.kinds import hash_kind, scan_kind
from backend.server.jobs.runner import JobRunner
from backend.server.queue.service import QueueServices

log = logging.getLogger(__name__)


def queue_services(app: web.Application) -> QueueServices:
    config = app[keys.CONFIG]
    return QueueServices(
        pool=app[keys.POOL],
        hasher=app[keys.HASHER],
        promotions=Promotions(app[keys.POOL], app[keys.IMAGES], config.images_dir),
        lease_s=config.jobs.lease_s,
        dev=config.dev,
        settle_s=config.jobs.settle_s,
    )


async def job_engine(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: the runner and its heartbeat live exactly as long as the pool they write to."""
    config = app[keys.CONFIG]
    # Only a gateway on its own embedded PostgreSQL may own its data folder. On DATABASE_URL gateways share
    # the database (compose, scaled out) and a job whose heartbeat is fresh may be alive on another machine:
    # there only the heartbeat tells the dead.
    lock = DataDirLock(config.data_dir) if config.gateway.database_url is None else None
    owned = lock is not None and lock.acquire()
    runner = JobRunner(app[keys.POOL], config.jobs.stale_s, str(config.data_dir) if owned else None,
                       config.model_roots)
    runner.register("scan", scan_kind(app[keys.SERVICES], config.model_roots, config.jobs.settle_s))
    hashing = hash_kind(queue_services(app), config.model_roots)
    runner.register("hash", then_hub(hashing, runner) if config.hub.auto else hashing)
    runner.register("import", import_kind(app[keys.LEGACY_IMPORT], config))
    runner.register("headers", headers_kind(app[keys.POOL], app[keys.HASHER], app[keys.IMAGES], config.model_roots))
    previews = HubPreviews(app[keys.POOL], app[keys.IMAGES], config.hub)
    # One rate for every hub job of this gateway: two jobs over two folders never ask twice as fast.
    rate = RateLimit(config.hub.requests_per_s)
    runner.register("hub", hub_kind(HubLookups(app[keys.POOL], config.hub, rate, previews.fetch), config.model_roots))
    app[keys.JOB_RUNNER] = runner
    jobs = app[keys.JOBS] = Jobs(runner, app[keys.POOL], config.gateway.max_event_streams)
    async with app[keys.POOL].acquire() as conn:
        if runner.data_dir is not None:
            for job_id in await jobs_queries.interrupt_predecessors(conn, runner.data_dir, runner.owner):
                log.warning("job %d was interrupted: the gateway before us on %s stopped", job_id, runner.data_dir)
        await jobs_queries.interrupt_stale(conn, config.jobs.stale_s)
    heartbeat = asyncio.create_task(runner.heartbeat_forever())
    try:
        yield
    finally:
        await jobs.close()
        await runner.close()
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        if lock is not None:
            lock.release()
