"""A gateway killed in the middle of a job: the next one finds the job, marks it interrupted, and frees its rows."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import asyncpg

from tests.integration.conftest import Stack
from tests.integration.gateway_process import hash_job_reading, healthy, start_gateway, stop_gateway
from tests.integration.jobs_helpers import MiB, sparse_model, until
from tests.stack_process import free_port, stack_env


async def test_a_gateway_killed_mid_job_leaves_an_interrupted_job_and_gives_its_rows_back(
    stack: Stack, db: asyncpg.Connection, tmp_path: Path
) -> None:
    models = [sparse_model(stack.model_root, f"big{i}.safetensors", 8 * 1024 * MiB) for i in range(3)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack_env(stack.model_root, stack.data_dir, port, **stack.env, MODELVAULT_JOB_STALE_S="2")
    log = tmp_path / "gateway.log"
    gateway = await start_gateway(env, log)
    async with aiohttp.ClientSession() as session:
        try:
            await until(lambda: healthy(session, base), what="the gateway to start")
            job_id = await hash_job_reading(session, base, models, stack.hasher)
            assert await db.fetchval("SELECT count(*) FROM pending_models WHERE claimed_by = $1", job_id) == 3
            gateway.kill()
            await gateway.wait()
            assert await db.fetchval("SELECT state FROM jobs WHERE id = $1", job_id) == "running"

            gateway = await start_gateway(env, log)
            await until(lambda: healthy(session, base), what="the gateway to start again")

            async def interrupted() -> dict | None:
                async with session.get(f"{base}/api/jobs/{job_id}") as reply:
                    body = await reply.json()
                return body if body["state"] == "interrupted" else None
            job = await until(interrupted, what="the job to be found interrupted")
            assert job["finished_at"] and job["error"]["code"] == "interrupted" and job["files_done"] == 0
            free = await db.fetchval(
                "SELECT count(*) FROM pending_models WHERE claimed_by IS NULL AND claimed_until IS NULL")
            assert free == 3, "the dead job's leased rows are back in the queue"
        finally:
            await stop_gateway(gateway)
