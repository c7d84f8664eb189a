"""The job engine's life in the gateway: built, its dead predecessors' jobs interrupted, closed before the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from backend.database import jobs_db
from backend.database.migration.promotion import Promotions
from backend.server import keys
from backend.server.hub.limits import RateLimit
from backend.server.hub.lookups import HubLookups
from backend.server.hub.preview_download import HubPreviews
from backend.server.jobs.control import Jobs
from backend.server.jobs.hub_auto import then_hub
from backend.server.jobs.hub_kind import hub_kind
from backend.server.jobs.import_kind import import_kind
from backend.server.jobs.kinds import hash_kind, scan_kind
from backend.server.jobs.runner import JobRunner
from backend.server.pending_queue import QueueServices


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
    runner = JobRunner(app[keys.POOL], config.jobs.stale_s)
    runner.register("scan", scan_kind(app[keys.POOL], app[keys.HASHER], app[keys.CATALOGUE], config.jobs.settle_s))
    hashing = hash_kind(queue_services(app))
    runner.register("hash", then_hub(hashing, runner) if config.hub.auto else hashing)
    runner.register("import", import_kind(app[keys.LEGACY_IMPORT], config))
    previews = HubPreviews(app[keys.POOL], app[keys.IMAGES], config.hub)
    # One rate for every hub job of this gateway: two jobs over two folders never ask twice as fast.
    rate = RateLimit(config.hub.requests_per_s)
    runner.register("hub", hub_kind(HubLookups(app[keys.POOL], config.hub, rate, previews.fetch)))
    app[keys.JOB_RUNNER] = runner
    app[keys.JOBS] = Jobs(runner, app[keys.POOL])
    async with app[keys.POOL].acquire() as conn:
        await jobs_db.interrupt_stale(conn, config.jobs.stale_s)
    heartbeat = asyncio.create_task(runner.heartbeat_forever())
    try:
        yield
    finally:
        await runner.close()
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
