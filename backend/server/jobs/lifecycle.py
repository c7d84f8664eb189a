"""The job engine's life in the gateway: built, its dead predecessors' jobs interrupted, closed before the pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from backend.database import jobs_queries
from backend.server import keys
from backend.server.events.lifecycle import hook_jobs
from backend.server.jobs.control import Jobs
from backend.server.jobs.data_dir_lock import DataDirLock
from backend.server.jobs.runner import JobRunner

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def job_engine(app: web.Application, register_kinds: Callable[[JobRunner], None]) -> AsyncIterator[None]:
    """The runner and its heartbeat live exactly as long as the pool they write to; register_kinds (the
    composition root's) gives it the job kinds, built over what the gateway built once."""
    config = app[keys.CONFIG]
    # Only a gateway on its own embedded PostgreSQL may own its data folder. On DATABASE_URL gateways share
    # the database (compose, scaled out) and a job whose heartbeat is fresh may be alive on another machine:
    # there only the heartbeat tells the dead.
    lock = DataDirLock(config.data_dir) if config.gateway.database_url is None else None
    owned = lock is not None and lock.acquire()
    runner = JobRunner(app[keys.POOL], config.jobs.stale_s, str(config.data_dir) if owned else None,
                       config.model_roots)
    register_kinds(runner)
    app[keys.JOB_RUNNER] = runner
    jobs = app[keys.JOBS] = Jobs(runner, app[keys.POOL], config.gateway.max_event_streams)
    hook_jobs(app)
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
