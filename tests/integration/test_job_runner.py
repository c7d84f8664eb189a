"""The engine itself over a real database: a job's row always ends, however early it is stopped."""

from __future__ import annotations

import asyncio

import asyncpg

from backend.database.db import create_pool
from backend.server.jobs.runner import JobKind, JobRunner


def _forever() -> JobKind:
    async def run(ctx) -> dict:
        ctx.progress(files_total=1)
        await asyncio.Event().wait()
        return {}
    return JobKind(run=run, validate=dict)


async def test_a_job_cancelled_before_its_first_step_and_one_stopped_with_the_gateway_both_end(
    database_url: str, db: asyncpg.Connection
) -> None:
    pool = await create_pool(database_url)
    try:
        runner = JobRunner(pool, stale_s=30)
        runner.register("wait", _forever())
        early = await runner.start("wait", {})
        await runner.cancel(early["id"])  # its task has not run one step yet
        running = await runner.start("wait", {"folder": "/x"})
        await runner.close()
        states = dict(await db.fetch("SELECT id, state FROM jobs"))
        assert states == {early["id"]: "cancelled", running["id"]: "interrupted"}
        assert await db.fetchval("SELECT count(*) FROM jobs WHERE finished_at IS NULL") == 0
    finally:
        await pool.close()
