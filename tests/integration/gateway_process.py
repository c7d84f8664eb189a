"""The gateway as its own process (`python -m backend.server`), for tests that kill it or its database."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from services.hasher.server import HasherService
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.stack_process import PROJECT, stack_env


async def start_gateway(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Started with env; its output is appended to log."""
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.server", env=env, cwd=PROJECT, stdout=output, stderr=output)


def embedded_env(stack: Stack, port: int, **extra: str) -> dict[str, str]:
    """A gateway as `make run` starts one: on the embedded PostgreSQL of the stack's data folder (started by the
    gateway, see the own_database fixture), with the stack's services."""
    services = {name: value for name, value in stack.env.items() if name != "DATABASE_URL"}
    return stack_env(stack.model_root, stack.data_dir, port, **services, **extra)


async def healthy(session: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with session.get(f"{base}/api/health") as reply:
            return reply.status == 200
    except aiohttp.ClientError:
        return False


async def stop_gateway(gateway: asyncio.subprocess.Process) -> None:
    """SIGTERM, as `make run` stops it: it closes its jobs and stops an embedded database it started."""
    if gateway.returncode is None:
        gateway.terminate()
        await gateway.wait()


async def hash_job_reading(session: aiohttp.ClientSession, base: str, models: list[Path], hasher: HasherService) -> int:
    """Register the models, start a hash job over them and return its id once the hasher reads one of them."""
    for model in models:
        async with session.post(f"{base}/api/models/pending", json={"path": str(model)}) as reply:
            assert reply.status == 201, await reply.text()
    async with session.post(f"{base}/api/jobs", json={"kind": "hash"}) as reply:
        assert reply.status == 202, await reply.text()
        job_id = (await reply.json())["id"]
    await eventually(lambda: hasher.servicer.reads_in_flight > 0, timeout=60, what="a read in flight")
    return job_id
