"""A gateway killed in the middle of a job: the next one finds the job, marks it interrupted, and frees its rows
(at its start when it owns the data folder, as under `make run`; otherwise once the heartbeat has aged)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import asyncpg

from backend.database.embedded import EmbeddedPostgres
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_process import embedded_env, hash_job_reading, healthy, start_gateway, stop_gateway
from tests.integration.jobs_helpers import MiB, sparse_model
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
            await eventually(lambda: healthy(session, base), timeout=60, what="the gateway to start")
            job_id = await hash_job_reading(session, base, models, stack.hasher)
            assert await db.fetchval("SELECT count(*) FROM pending_models WHERE claimed_by = $1", job_id) == 3
            gateway.kill()
            await gateway.wait()
            assert await db.fetchval("SELECT state FROM jobs WHERE id = $1", job_id) == "running"

            gateway = await start_gateway(env, log)
            await eventually(lambda: healthy(session, base), timeout=60, what="the gateway to start again")

            async def interrupted() -> dict | None:
                async with session.get(f"{base}/api/jobs/{job_id}") as reply:
                    body = await reply.json()
                return body if body["state"] == "interrupted" else None
            job = await eventually(interrupted, timeout=60, what="the job to be found interrupted")
            assert job["finished_at"] and job["error"]["code"] == "interrupted" and job["files_done"] == 0
            free = await db.fetchval(
                "SELECT count(*) FROM pending_models WHERE claimed_by IS NULL AND claimed_until IS NULL")
            assert free == 3, "the dead job's leased rows are back in the queue"
        finally:
            await stop_gateway(gateway)


async def _job_and_held_rows(server: EmbeddedPostgres, job_id: int) -> tuple[str, int]:
    conn = await asyncpg.connect(server.dsn)
    try:
        state = await conn.fetchval("SELECT state FROM jobs WHERE id = $1", job_id)
        held = await conn.fetchval(
            "SELECT count(*) FROM pending_models WHERE claimed_by IS NOT NULL OR claimed_until IS NOT NULL")
        return state, held
    finally:
        await conn.close()


async def test_a_gateway_restarted_on_its_data_folder_interrupts_its_predecessors_job_at_start(
    stack: Stack, own_database: EmbeddedPostgres, tmp_path: Path
) -> None:
    """As under `make run`: one gateway owns the data folder and its embedded PostgreSQL. Its successor knows
    at start that a job left running there is dead: no wait for the heartbeat (600 s here) or the lease."""
    models = [sparse_model(stack.model_root, f"big{i}.safetensors", 2 * 1024 * MiB) for i in range(3)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = embedded_env(stack, port, MODELVAULT_JOB_STALE_S="600")
    log = tmp_path / "gateway.log"
    gateway = await start_gateway(env, log)
    async with aiohttp.ClientSession() as session:
        try:
            await eventually(lambda: healthy(session, base), timeout=120, what="the gateway and its database")
            job_id = await hash_job_reading(session, base, models, stack.hasher)
            gateway.kill()
            await gateway.wait()
            assert await _job_and_held_rows(own_database, job_id) == ("running", 3)

            gateway = await start_gateway(env, log)
            await eventually(lambda: healthy(session, base), timeout=120, what="the gateway to start again")
            # Healthy means started: the job and its rows were dealt with before the gateway listened.
            async with session.get(f"{base}/api/jobs/{job_id}") as reply:
                job = await reply.json()
            assert job["state"] == "interrupted" and job["finished_at"], job
            assert job["error"] == {"code": "interrupted",
                                    "message": "the gateway running this job stopped (restarted)"}
            assert await _job_and_held_rows(own_database, job_id) == ("interrupted", 0)
            async with session.post(f"{base}/api/models/pending/hash", json={"limit": 1}) as reply:
                answer = await reply.json()
            assert reply.status == 200 and answer["hashed_count"] == 1, answer
        finally:
            await stop_gateway(gateway)


async def test_a_second_gateway_on_a_living_gateways_data_folder_leaves_its_jobs_alone(
    stack: Stack, own_database: EmbeddedPostgres, tmp_path: Path
) -> None:
    """The folder's lock is the first gateway's while it lives: the second does not take its jobs for dead."""
    models = [sparse_model(stack.model_root, f"big{i}.safetensors", 32 * 1024 * MiB) for i in range(3)]
    first_port, second_port = free_port(), free_port()
    first_base, second_base = f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{second_port}"
    first = await start_gateway(embedded_env(stack, first_port, MODELVAULT_JOB_STALE_S="600"), tmp_path / "1.log")
    second = None
    async with aiohttp.ClientSession() as session:
        try:
            await eventually(lambda: healthy(session, first_base), timeout=120, what="the first gateway")
            job_id = await hash_job_reading(session, first_base, models, stack.hasher)
            second = await start_gateway(embedded_env(stack, second_port, MODELVAULT_JOB_STALE_S="600"),
                                         tmp_path / "2.log")
            await eventually(lambda: healthy(session, second_base), timeout=120, what="the second gateway")
            async with session.get(f"{second_base}/api/jobs/{job_id}") as reply:
                assert (await reply.json())["state"] == "running"
            assert stack.hasher.servicer.reads_in_flight > 0, "the first gateway's job still reads"
            async with session.post(f"{first_base}/api/jobs/{job_id}/cancel") as reply:
                assert (await reply.json())["state"] == "cancelled"
        finally:
            if second is not None:
                await stop_gateway(second)
            await stop_gateway(first)
