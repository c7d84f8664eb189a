"""The pending queue as a hash job: every worker busy, one reader per spinning disk, a bad file set aside."""

from __future__ import annotations

import os

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from backend.server.adapters import clients
from backend.server.adapters.clients import HasherClient, open_channel
from backend.server.adapters.failures import ServiceFailure
from backend.server.queue.service import CALLS_PER_WORKER, SMALL_BELOW_BYTES
from services.hasher.pool import QUEUED_PER_WORKER
from services.hasher.server import build_service as build_hasher
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_model
from tests.integration.hasher_support import frozen
from tests.integration.jobs_helpers import MiB, finished, job, register, sparse_model


async def _hash_job(client: TestClient, **body) -> dict:
    reply = await client.post("/api/jobs", json={"kind": "hash", **body})
    assert reply.status == 202, await reply.text()
    return await finished(client, (await reply.json())["id"])


# 2 workers here: each had a file (and at most the next one waiting); one file at a time from a spinning disk.
# How many arrived at one moment beyond that depends on timing, so only bounds are asserted.
@pytest.mark.parametrize("rotational, fewest, most", [("none", 2, 2 * QUEUED_PER_WORKER), ("all", 1, 1)])
async def test_the_queue_fills_every_worker_but_reads_one_file_at_a_time_from_a_spinning_disk(
    stack: Stack, aiohttp_client, rotational: str, fewest: int, most: int
) -> None:
    hasher = build_hasher(stack.config(MODELVAULT_ROTATIONAL_DEVICES=rotational))
    await hasher.start()
    try:
        gateway = await aiohttp_client(stack.app(MODELVAULT_HASHER_TARGET=f"127.0.0.1:{hasher.port}"))
        # 256 MiB each (sparse: no disk): long enough that every call is in the hasher before one ends.
        await register(gateway, [sparse_model(stack.model_root, f"m{i}.safetensors", 256 * MiB) for i in range(6)])
        done = await _hash_job(gateway)
    finally:
        await hasher.stop(grace=0)
    assert done["state"] == "done" and done["files_done"] == 6
    assert (done["bytes_done"], done["bytes_total"]) == (6 * 256 * MiB, 6 * 256 * MiB)
    # Counted by the hasher: the files handed to its workers (being read or next in line) at one moment.
    assert fewest <= hasher.servicer.pool.most_files_in_pool <= most
    # The gateway asked for several files at once, and never more than its calls per worker allow.
    assert 2 <= hasher.servicer.reads_high_water <= 2 * CALLS_PER_WORKER


async def test_small_files_go_to_the_hasher_many_per_call(stack: Stack, gateway: TestClient) -> None:
    small = SMALL_BELOW_BYTES - MiB  # a LoRA's size; sparse, so it takes no disk
    await register(gateway, [sparse_model(stack.model_root, f"lora{i}.safetensors", small) for i in range(16)])
    done = await _hash_job(gateway)
    assert (done["state"], done["files_done"], done["errors"]) == ("done", 16, 0)
    assert (done["bytes_done"], done["bytes_total"]) == (16 * small, 16 * small)
    # Calls of several files: the hasher held more files at once than one call per file would give it.
    assert stack.hasher.servicer.reads_high_water > 2 * CALLS_PER_WORKER
    assert 2 <= stack.hasher.servicer.pool.most_files_in_pool <= 2 * QUEUED_PER_WORKER


async def test_a_hash_job_knows_the_bytes_ahead_of_it_from_its_start(stack: Stack, gateway: TestClient) -> None:
    sizes = [3 * MiB, 96 * MiB, 200 * MiB]  # hashed without progress messages, and with them
    await register(gateway, [sparse_model(stack.model_root, f"s{i}.safetensors", n) for i, n in enumerate(sizes)])
    # Stopped workers: whatever the job shows now, it knew before reading a byte.
    with frozen(stack.hasher.servicer.pool.worker_pids()):
        job_id = (await (await gateway.post("/api/jobs", json={"kind": "hash"})).json())["id"]

        async def started() -> dict | None:
            body = await job(gateway, job_id)
            return body if body["files_total"] == 3 else None
        first = await eventually(started, timeout=60, what="the job's first progress")
        assert (first["bytes_total"], first["files_done"], first["bytes_done"]) == (sum(sizes), 0, 0)
    done = await finished(gateway, job_id)
    assert (done["state"], done["files_done"]) == ("done", 3)
    assert (done["bytes_done"], done["bytes_total"]) == (sum(sizes), sum(sizes))


async def test_a_scan_records_each_pending_files_size(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    paths = [write_model(stack.model_root, f"sized{i}.safetensors", b"x" * 1000 * (i + 1)) for i in range(3)]
    reply = await gateway.post("/api/models/scan", json={})
    assert reply.status == 200, await reply.text()
    sizes = dict(await db.fetch("SELECT path, size FROM pending_models"))
    assert [sizes[str(path)] for path in paths] == [1000, 2000, 3000]
    listed = {item["path"]: item["size"] for item in (await (await gateway.get("/api/models/pending")).json())["items"]}
    assert [listed[str(path)] for path in paths] == [1000, 2000, 3000]
    registered = await (await gateway.post("/api/models/pending", json={"path": str(paths[0])})).json()
    assert registered["size"] == 1000


async def test_an_unreadable_or_missing_file_is_set_aside_and_the_batch_goes_on(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    gone = write_model(stack.model_root, "gone.safetensors", b"soon deleted")
    locked = write_model(stack.model_root, "locked.safetensors", b"nobody may read this")
    fine = [write_model(stack.model_root, f"fine{i}.safetensors", f"fine {i}".encode()) for i in range(3)]
    await register(gateway, [gone, locked, *fine])
    gone.unlink()
    locked.chmod(0)

    done = await _hash_job(gateway)
    assert done["state"] == "done" and done["files_done"] == 5
    hashed = {h["path"] for h in done["result"]["hashed"]}
    assert {str(p) for p in fine} <= hashed
    errors = {e["path"]: e["code"] for e in done["result"]["errors"]}
    assert errors[str(gone)] == "not_found"
    last_error = await db.fetchval("SELECT last_error FROM pending_models WHERE path = $1", str(gone))
    assert last_error.startswith("not_found:")
    if os.geteuid() == 0:
        # root reads a file whatever its mode: the permission case cannot happen here, so it is hashed.
        assert str(locked) in hashed
    else:
        assert errors[str(locked)] == "permission_denied" and done["errors"] == 2
        assert await db.fetchval("SELECT last_error FROM pending_models WHERE path = $1", str(locked))


async def test_a_service_down_stops_the_job_which_says_which_and_nothing_is_lost(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    models = [write_model(stack.model_root, f"m{i}.safetensors", f"m {i}".encode()) for i in range(3)]
    await register(gateway, models)
    await stack.hasher.stop(grace=0)
    done = await _hash_job(gateway)
    assert done["state"] == "failed" and done["error"]["code"] == "unavailable"
    assert done["error"]["message"].startswith("the hasher service")
    rows = await db.fetch("SELECT claimed_by, claimed_until, last_error FROM pending_models")
    assert len(rows) == 3 and all(tuple(r) == (None, None, None) for r in rows)


async def test_remaining_counts_every_row_left_and_says_how_many_another_job_holds(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    models = [write_model(stack.model_root, f"m{i}.safetensors", f"m {i}".encode()) for i in range(4)]
    await register(gateway, models)
    # Another gateway's job holds one row.
    await db.execute("UPDATE pending_models SET claimed_by = 424242, claimed_until = now() + interval '1 minute'"
                     " WHERE path = $1", str(models[0]))
    answer = await (await gateway.post("/api/models/pending/hash", json={"limit": 2})).json()
    assert len(answer["hashed"]) == 2
    assert (answer["remaining"], answer["leased_elsewhere"], answer["set_aside"]) == (2, 1, 0)


async def test_rows_leased_by_a_dead_gateway_are_remaining_not_zero(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    """A crashed gateway's job still holds every row (its lease runs for a minute): nothing is hashed now,
    and the answer says the rows are there and who holds them, not `remaining: 0`."""
    models = [write_model(stack.model_root, f"m{i}.safetensors", f"m {i}".encode()) for i in range(3)]
    await register(gateway, models)
    await db.execute("UPDATE pending_models SET claimed_by = 424242, claimed_until = now() + interval '1 minute'")
    reply = await gateway.post("/api/models/pending/hash", json={})
    answer = await reply.json()
    assert reply.status == 200 and answer["hashed_count"] == 0, answer
    assert answer["remaining"] == 3, "three files wait: the answer must not say none is left"
    assert (answer["leased_elsewhere"], answer["set_aside"]) == (3, 0)


async def test_leases_are_renewed_while_a_file_is_read(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_LEASE_S="1"))
    big = sparse_model(stack.model_root, "huge.safetensors", 16 * 1024 * MiB)
    await register(gateway, [big])
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()

    async def three_leases_in() -> bool:
        return await db.fetchval("SELECT now() - started_at > interval '3 seconds' FROM jobs WHERE id = $1",
                                 started["id"])
    await eventually(three_leases_in, timeout=60, what="three lease periods")
    assert stack.hasher.servicer.reads_in_flight == 1, "the file was read faster than the test assumes"
    assert await db.fetchval("SELECT claimed_until > now() FROM pending_models WHERE path = $1", str(big))
    await gateway.post(f"/api/jobs/{started['id']}/cancel")


async def test_capacity_is_summed_over_the_replicas_a_channel_reaches(stack: Stack) -> None:
    second = build_hasher(stack.config(MODELVAULT_HASHER_WORKERS="3", MODELVAULT_HASHER_LISTEN="127.0.0.1:0"))
    await second.start()
    try:
        target = f"ipv4:127.0.0.1:{stack.hasher.port},127.0.0.1:{second.port}"
        async with open_channel(target) as channel:
            assert await HasherClient(channel, 10, 10).capacity() == 2 + 3
        async with open_channel(f"127.0.0.1:{second.port}") as channel:
            assert await HasherClient(channel, 10, 10).capacity() == 3
    finally:
        await second.stop(grace=0)


async def test_the_worker_count_is_kept_for_its_time_to_live_then_asked_again(stack: Stack, monkeypatch) -> None:
    hasher = build_hasher(stack.config(MODELVAULT_HASHER_WORKERS="3"))
    await hasher.start()
    async with open_channel(f"127.0.0.1:{hasher.port}") as channel:
        client = HasherClient(channel, 2, 2)
        assert await client.capacity() == 3
        await hasher.stop(grace=0)
        assert await client.capacity() == 3  # no call: the count is fresh
        monkeypatch.setattr(clients, "CAPACITY_TTL_S", 0.0)
        with pytest.raises(ServiceFailure):  # asked again: the service is gone (down, or its deadline passed)
            await client.capacity()


async def test_dev_mode_shadow_files_are_answered_many_per_call_without_a_read(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    hasher = build_hasher(stack.config(MODELVAULT_DEV="1"))
    await hasher.start()
    try:
        target = f"127.0.0.1:{hasher.port}"
        gateway = await aiohttp_client(stack.app(MODELVAULT_DEV="1", MODELVAULT_HASHER_TARGET=target))
        (stack.model_root / "shadows").mkdir()
        for index in range(150):
            (stack.model_root / "shadows" / f"shadow_{index:03d}.safetensors").touch()
        gone = stack.model_root / "shadows" / "shadow_gone.safetensors"
        gone.touch()
        assert (await (await gateway.post("/api/models/scan", json={})).json())["registered"] == 151
        gone.unlink()

        done = await _hash_job(gateway)
        assert (done["state"], done["files_done"], done["errors"]) == ("done", 151, 1)
        assert done["result"]["hashed_count"] == 150 and done["result"]["errors"][0]["code"] == "not_found"
        assert await db.fetchval("SELECT count(*) FROM models") == 150
        assert await db.fetchval("SELECT last_error FROM pending_models WHERE path = $1", str(gone))
        assert hasher.servicer.pool.submissions == 0  # not one file was read
    finally:
        await hasher.stop(grace=0)
