"""A hash job long enough to renew its leases many times runs to its end: its own locking never stops it."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp.test_utils import TestClient

from backend.database import queue_queries
from services.hasher.server import build_service as build_hasher
from tests.integration.conftest import Stack
from tests.integration.jobs_helpers import finished

FILES = 4000


async def test_a_job_renewing_its_leases_many_times_promotes_every_file(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    # Dev-mode shadow files are answered without a read: thousands of promotions in a few seconds, while a
    # lease of 0.3 s is renewed every 0.1 s over the rows still being promoted (the whole-library job's case).
    hasher = build_hasher(stack.config(MODELVAULT_DEV="1"))
    await hasher.start()
    try:
        gateway: TestClient = await aiohttp_client(stack.app(
            MODELVAULT_DEV="1", MODELVAULT_HASHER_TARGET=f"127.0.0.1:{hasher.port}", MODELVAULT_LEASE_S="0.3"))
        folder = stack.model_root / "shadows"
        folder.mkdir()
        for index in range(FILES):
            (folder / f"shadow_{index:05d}.safetensors").touch()
        assert (await (await gateway.post("/api/models/scan", json={})).json())["registered"] == FILES

        started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
        done = await finished(gateway, started["id"], timeout_s=300)
    finally:
        await hasher.stop(grace=0)
    assert (done["state"], done["error"], done["files_done"], done["errors"]) == ("done", None, FILES, 0)
    assert await db.fetchval("SELECT count(*) FROM models") == FILES
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0


async def test_a_row_whose_lease_ran_out_is_not_taken_again_by_the_job_that_holds_it(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    """A job slowed past its lease still holds its rows (hashing them twice counted "4,768 of 4,000 files");
    another job may take them, as it takes a dead job's."""
    for index in range(3):
        (stack.model_root / f"model_{index}.safetensors").write_bytes(b"x" * (index + 1))
    assert (await (await gateway.post("/api/models/scan", json={})).json())["registered"] == 3
    assert len(await queue_queries.claim_batch(db, 101, 10, 0.01)) == 3
    await asyncio.sleep(0.05)
    assert await queue_queries.claim_batch(db, 101, 10, 60) == []
    assert sorted(row["name"] for row in await queue_queries.claim_batch(db, 102, 10, 60)) == [
        "model_0", "model_1", "model_2"]
