"""Registering a file while it is hashed: the two exclude each other, so no path is ever both pending and active."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from tests.integration.conftest import Stack
from tests.invariants import assert_no_path_both_pending_and_active

ROUNDS = 6
FILES_PER_ROUND = 12


async def _register(gateway: TestClient, path: Path) -> int:
    reply = await gateway.post("/api/models/pending", json={"path": str(path)})
    return reply.status


async def _hash(gateway: TestClient, path: Path) -> int:
    reply = await gateway.post("/api/models/sha256", json={"path": str(path)})
    return reply.status


async def test_registrations_racing_hashes_never_leave_a_path_both_pending_and_active(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    for round_no in range(ROUNDS):
        files = []
        for i in range(FILES_PER_ROUND):
            path = stack.model_root / f"r{round_no}" / f"m{i}.safetensors"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(f"model {round_no}/{i}".encode() * 4096)
            files.append(path)
        # Each file is hashed and registered at once, the registration sometimes first, sometimes second.
        calls = []
        for i, path in enumerate(files):
            pair = [_hash(gateway, path), _register(gateway, path)]
            calls.extend(pair if i % 2 else reversed(pair))
        statuses = await asyncio.gather(*calls)
        # A registration that lost the race to the hash is told the file is active already.
        assert set(statuses) <= {200, 201, 409}, statuses
        await assert_no_path_both_pending_and_active(db)
    # Every file ended up in the catalogue one way or the other, and asking again settles each as active.
    for path in stack.model_root.rglob("*.safetensors"):
        assert await _hash(gateway, path) == 200
    await assert_no_path_both_pending_and_active(db)
    assert await db.fetchval("SELECT count(*) FROM models") == ROUNDS * FILES_PER_ROUND
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0


async def test_registrations_racing_the_hash_queue_never_leave_a_path_both_pending_and_active(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    files = []
    for i in range(40):
        files.append(stack.model_root / f"q{i}.safetensors")
        files[-1].write_bytes(f"queued model {i}".encode() * 4096)
        assert await _register(gateway, files[-1]) == 201
    queue = asyncio.create_task(gateway.post("/api/models/pending/hash", json={"limit": 1000}))
    # Registered again and again while the queue promotes them in batches.
    while not queue.done():
        statuses = await asyncio.gather(*(_register(gateway, path) for path in files))
        assert set(statuses) <= {200, 409}, statuses
        await assert_no_path_both_pending_and_active(db)
    assert (await queue).status == 200
    await assert_no_path_both_pending_and_active(db)
