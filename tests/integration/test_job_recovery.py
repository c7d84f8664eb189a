"""A gateway killed in the middle of a job: the next one finds the job, marks it interrupted, and frees its rows."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import asyncpg

from tests.integration.conftest import Stack
from tests.integration.jobs_helpers import MiB, sparse_model, until
from tests.stack_process import PROJECT, free_port, stack_env


async def _start_gateway(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.server", env=env, cwd=PROJECT, stdout=output, stderr=output)


async def _healthy(session: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with session.get(f"{base}/api/health") as reply:
            return reply.status == 200
    except aiohttp.ClientError:
        return False


async def test_a_gateway_killed_mid_job_leaves_an_interrupted_job_and_gives_its_rows_back(
    stack: Stack, db: asyncpg.Connection, tmp_path: Path
) -> None:
    models = [sparse_model(stack.model_root, f"big{i}.safetensors", 8 * 1024 * MiB) for i in range(3)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack_env(stack.model_root, stack.data_dir, port, **stack.env, MODELVAULT_JOB_STALE_S="2")
    log = tmp_path / "gateway.log"
    gateway = await _start_gateway(env, log)
    async with aiohttp.ClientSession() as session:
        try:
            await until(lambda: _healthy(session, base), what="the gateway to start")
            for model in models:
                async with session.post(f"{base}/api/models/pending", json={"path": str(model)}) as reply:
                    assert reply.status == 201
            async with session.post(f"{base}/api/jobs", json={"kind": "hash"}) as reply:
                job_id = (await reply.json())["id"]
            await until(lambda: stack.hasher.servicer.reads_in_flight > 0, what="a read in flight")
            assert await db.fetchval("SELECT count(*) FROM pending_models WHERE claimed_by = $1", job_id) == 3
            gateway.kill()
            await gateway.wait()
            assert await db.fetchval("SELECT state FROM jobs WHERE id = $1", job_id) == "running"

            gateway = await _start_gateway(env, log)
            await until(lambda: _healthy(session, base), what="the gateway to start again")

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
            if gateway.returncode is None:
                gateway.terminate()
                await gateway.wait()
