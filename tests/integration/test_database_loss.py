"""PostgreSQL killed under a hash job, as `make run` keeps it: the gateway starts it again, and the job ends
`failed` naming the database (written once it is back), its rows free and its folder open to a new job."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp
import asyncpg

from backend.database.embedded import EmbeddedPostgres
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_process import embedded_env, hash_job_reading, healthy, start_gateway, stop_gateway
from tests.integration.jobs_helpers import MiB, sparse_model
from tests.stack_process import free_port


def kill_postgres(server: EmbeddedPostgres) -> None:
    """SIGKILL to the postmaster and its backends (pg_ctl gave them a process group of their own)."""
    pid = int((server.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    group = os.getpgid(pid)
    assert group not in (os.getpgid(0), 0), "the server's group must be its own"
    os.killpg(group, signal.SIGKILL)


async def test_a_database_killed_under_a_hash_job_fails_it_naming_the_database(
    stack: Stack, own_database: EmbeddedPostgres, tmp_path: Path
) -> None:
    models = [sparse_model(stack.model_root, f"big{i}.safetensors", 16 * 1024 * MiB) for i in range(2)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # A stale limit far beyond the test: the job's end must come from the gateway that ran it, not a timeout.
    env = embedded_env(stack, port, MODELVAULT_JOB_STALE_S="600")
    gateway = await start_gateway(env, tmp_path / "gateway.log")
    async with aiohttp.ClientSession() as session:
        try:
            await eventually(lambda: healthy(session, base), timeout=120, what="the gateway and its database")
            job_id = await hash_job_reading(session, base, models, stack.hasher)

            kill_postgres(own_database)

            async def ended() -> dict | None:
                async with session.get(f"{base}/api/jobs/{job_id}") as reply:
                    if reply.status != 200:  # 503 while the database is down
                        return None
                    body = await reply.json()
                return body if body["state"] not in ("queued", "running") else None
            job = await eventually(ended, timeout=120, what="the job's end to be written")
            assert job["state"] == "failed" and job["finished_at"], job
            assert job["error"]["code"] == "database_unavailable", job["error"]
            assert job["error"]["message"].startswith("PostgreSQL stopped answering: "), job["error"]

            conn = await asyncpg.connect(own_database.dsn)
            try:
                held = await conn.fetchval("SELECT count(*) FROM pending_models WHERE claimed_by IS NOT NULL")
            finally:
                await conn.close()
            assert held == 0, "the failed job's leased rows are back in the queue"
            async with session.post(f"{base}/api/jobs", json={"kind": "hash"}) as reply:
                assert reply.status == 202, await reply.text()  # no 409: the folder is free again
                again = (await reply.json())["id"]
            async with session.post(f"{base}/api/jobs/{again}/cancel") as reply:
                assert reply.status == 200
        finally:
            await stop_gateway(gateway)
