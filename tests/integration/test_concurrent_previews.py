"""Registrations whose previews compress slowly: the database stays free for others, and nothing is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient
from PIL import Image

from services.process_pool import ProcessPool
from tests.eventually import eventually
from tests.integration.conftest import Stack

REGISTRATIONS = 30  # more than the gateway's pool of 20 connections


@contextlib.asynccontextmanager
async def image_workers_stopped(stack: Stack) -> AsyncIterator[ProcessPool]:
    """Every image worker frozen (SIGSTOP): a compression takes as long as the test wants, like a huge image."""
    pool = stack.images.servicer.pool
    # Workers start on demand; two jobs at once start both.
    for started in [pool.submit(time.sleep, 0.2) for _ in range(pool.workers)]:
        await pool.result(started)
    pids = pool.worker_pids()
    assert len(pids) == pool.workers
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield pool
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def jobs_waiting(pool: ProcessPool) -> int:
    # The stdlib pool's own bookkeeping: the one way to see that compressions have reached the workers.
    return len(pool._executor._pending_work_items)  # noqa: SLF001


def models(stack: Stack, count: int) -> tuple[list[Path], Path]:
    preview = stack.model_root / "preview.png"
    Image.new("RGB", (64, 48), "red").save(preview)
    files = []
    for i in range(count):
        files.append(stack.model_root / f"m{i}.safetensors")
        files[-1].write_bytes(b"weights %d" % i)
    return files, preview


def store(stack: Stack) -> set[str]:
    folder = stack.data_dir / "images"
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


async def test_slow_previews_hold_no_connection_and_each_lands_under_its_row(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    files, preview = models(stack, REGISTRATIONS)
    async with image_workers_stopped(stack) as pool:
        registrations = [asyncio.create_task(gateway.post(
            "/api/models/pending", json={"path": str(f), "preview_path": str(preview)})) for f in files]
        await eventually(lambda: jobs_waiting(pool) >= pool.workers, what="compressions at the workers")
        health = await gateway.get("/api/health")
        assert (health.status, (await health.json())["database"]) == (200, "ok")
        listing = await gateway.get("/api/models/pending")
        assert listing.status == 200
    replies = await asyncio.gather(*registrations)
    assert [r.status for r in replies] == [201] * REGISTRATIONS
    keys = {(await r.json())["image_key"] for r in replies}
    # Each row's preview under its own key, and no staged file left over.
    assert store(stack) == keys
    assert await db.fetchval("SELECT count(*) FROM pending_models") == REGISTRATIONS


async def test_a_registration_that_times_out_leaves_no_row_and_no_preview(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_RPC_TIMEOUT_S="1"))
    [model], preview = models(stack, 1)
    async with image_workers_stopped(stack) as pool:
        reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
        assert reply.status == 504
    # The thawed worker goes on to write the preview nobody will claim: once it is done, nothing may be left.
    await eventually(lambda: jobs_waiting(pool) == 0 and store(stack) == set(), what="no preview in the store")
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
