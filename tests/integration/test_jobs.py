"""The jobs API as a client sees it: start, follow, list, cancel, and refuse what makes no sense."""

from __future__ import annotations

import hashlib
import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, write_model
from tests.integration.jobs_helpers import MiB, finished, job, register, sparse_model


async def test_a_hash_job_runs_in_the_background_and_reports_what_it_did(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    models = [write_model(stack.model_root, f"m{i}.safetensors", f"model {i}".encode()) for i in range(5)]
    await register(gateway, models)

    reply = await gateway.post("/api/jobs", json={"kind": "hash"})
    assert reply.status == 202, await reply.text()
    started = await reply.json()
    assert started["kind"] == "hash" and started["state"] in ("queued", "running")
    done = await finished(gateway, started["id"])
    assert done["state"] == "done" and done["error"] is None
    assert (done["files_done"], done["files_total"], done["errors"]) == (5, 5, 0)
    assert done["files_per_s"] > 0 and done["started_at"] and done["finished_at"]
    assert (done["result"]["remaining"], done["result"]["leased_elsewhere"], done["result"]["set_aside"]) == (0, 0, 0)
    assert sorted(h["sha256"] for h in done["result"]["hashed"]) == sorted(
        hashlib.sha256(f"model {i}".encode()).hexdigest() for i in range(5))
    assert await db.fetchval("SELECT count(*) FROM models") == 5


async def test_a_job_that_fails_inside_says_which_operation_failed_and_how(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    """Not a bare "internal error": the operation, the exception's class and its message, in the job's row."""
    models = [write_model(stack.model_root, f"m{i}.safetensors", f"model {i}".encode()) for i in range(2)]
    await register(gateway, models)
    # A real failure of a real statement: the table now refuses every new row.
    await db.execute("ALTER TABLE models ADD CONSTRAINT refuses_all CHECK (false) NOT VALID")
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    done = await finished(gateway, started["id"])
    assert done["state"] == "failed" and done["error"]["code"] == "internal", done["error"]
    where, _, what = done["error"]["message"].partition(" failed: ")
    assert where.startswith("queue_queries.") and "promote" in where, done["error"]
    assert what.startswith("CheckViolationError: ") and '"refuses_all"' in what, done["error"]
    assert await db.fetchval("SELECT count(*) FROM pending_models WHERE claimed_by IS NULL") == 2


async def test_jobs_are_listed_newest_first_and_paged(stack: Stack, gateway: TestClient) -> None:
    ids = []
    for _ in range(3):
        reply = await gateway.post("/api/jobs", json={"kind": "scan"})
        ids.append((await reply.json())["id"])
        await finished(gateway, ids[-1])
    listed = await (await gateway.get("/api/jobs?limit=2")).json()
    assert listed["total"] == 3 and [j["id"] for j in listed["items"]] == ids[::-1][:2]
    rest = await (await gateway.get("/api/jobs?limit=2&offset=2")).json()
    assert [j["id"] for j in rest["items"]] == ids[:1]


@pytest.mark.parametrize("body, fragment", [
    ({"kind": "defragment"}, "'kind' must be one of"),
    ({}, "'kind' must be one of"),
    ({"kind": ["scan"]}, "'kind' must be one of"),  # found by the schema fuzzer: a 500 (unhashable)
    ({"kind": "scan", "folder": 7}, "'folder' must be a string"),
    ({"kind": "scan", "folder": "models"}, "absolute path"),
    ({"kind": "hash", "limit": 0}, "'limit' must be at least 1"),
    ({"kind": "hash", "limit": True}, "'limit' must be an integer"),
    ({"kind": "scan", "limit": 5}, "unknown field(s) 'limit'"),
    ({"kind": "hash", "turbo": True}, "unknown field(s) 'turbo'"),
    # Found by the schema fuzzer: a lone surrogate reached PostgreSQL and failed there (a 500).
    ({"kind": "scan", "folder": "/\ud800"}, "'folder' is not valid Unicode text"),
])
async def test_a_bad_job_is_refused_with_a_clear_message_and_nothing_starts(
    gateway: TestClient, db: asyncpg.Connection, body: dict, fragment: str
) -> None:
    reply = await gateway.post("/api/jobs", json=body)
    assert await error_of(reply) == (400, "invalid_parameter")
    assert fragment in (await reply.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0


async def test_unknown_and_malformed_job_ids(gateway: TestClient) -> None:
    assert await error_of(await gateway.get("/api/jobs/999")) == (404, "not_found")
    assert await error_of(await gateway.get("/api/jobs/abc")) == (400, "invalid_parameter")
    # "²" is a digit to str.isdigit, not to int(): it was a 500.
    assert await error_of(await gateway.get("/api/jobs/\u00b2")) == (400, "invalid_parameter")
    assert await error_of(await gateway.post("/api/jobs/\u00b2/cancel")) == (400, "invalid_parameter")
    assert await error_of(await gateway.get("/api/jobs/\u00b2/events")) == (400, "invalid_parameter")
    assert await error_of(await gateway.post("/api/jobs/999/cancel")) == (404, "not_found")
    assert await error_of(await gateway.get("/api/jobs/999/events")) == (404, "not_found")


async def test_a_second_job_over_the_same_folder_gets_409_with_the_running_ones_id(
    stack: Stack, gateway: TestClient
) -> None:
    await register(gateway, [sparse_model(stack.model_root, f"big{i}.safetensors", 1024 * MiB) for i in range(4)])
    first = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    reply = await gateway.post("/api/jobs", json={"kind": "hash", "folder": None})
    body = await reply.json()
    assert reply.status == 409 and body["error"]["code"] == "job_running" and body["error"]["job_id"] == first["id"]
    other_folder = await gateway.post("/api/jobs", json={"kind": "scan"})
    assert other_folder.status == 202  # another kind is another job
    cancelled = await (await gateway.post(f"/api/jobs/{first['id']}/cancel")).json()
    assert cancelled["state"] == "cancelled"
    again = await gateway.post("/api/jobs", json={"kind": "hash"})
    assert again.status == 202
    await gateway.post(f"/api/jobs/{(await again.json())['id']}/cancel")


async def test_cancel_stops_the_reads_and_leaves_the_rest_pending(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    models = [sparse_model(stack.model_root, f"big{i}.safetensors", 2048 * MiB) for i in range(4)]
    await register(gateway, models)
    servicer = stack.hasher.servicer
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    await eventually(lambda: servicer.reads_in_flight > 0, timeout=60, what="a read in flight")

    reply = await gateway.post(f"/api/jobs/{started['id']}/cancel")
    assert reply.status == 200 and (await reply.json())["state"] == "cancelled"
    await eventually(lambda: servicer.reads_in_flight == 0, timeout=60, what="the hasher to stop reading")
    assert servicer.pool.cancellations >= 1
    hashed = await db.fetchval("SELECT count(*) FROM models")
    leftover = await (await gateway.get("/api/models/pending")).json()
    assert leftover["total"] == 4 - hashed >= 2
    # The job's leases were given back at once: every row left is waiting for a worker, none is leased.
    assert await db.fetchval("SELECT count(*) FROM pending_models WHERE claimed_by IS NULL"
                             " AND claimed_until IS NULL") == 4 - hashed


async def _events(gateway: TestClient, job_id: int) -> list[tuple[str, dict]]:
    reply = await gateway.get(f"/api/jobs/{job_id}/events")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for block in (await reply.text()).strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_events_stream_progress_then_the_whole_job_and_a_late_client_gets_the_state_first(
    stack: Stack, gateway: TestClient
) -> None:
    await register(gateway, [sparse_model(stack.model_root, f"m{i}.safetensors", 64 * MiB) for i in range(4)])
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    events = await _events(gateway, started["id"])
    names = [name for name, _ in events]
    assert names[0] == "progress" and names[-1] == "done" and set(names[:-1]) == {"progress"}
    final = events[-1][1]
    assert final["state"] == "done" and final["files_done"] == 4 and final["result"]["remaining"] == 0
    done_counts = [body["files_done"] for _, body in events]
    assert done_counts == sorted(done_counts)

    late = await _events(gateway, started["id"])
    assert [name for name, _ in late] == ["progress", "done"]
    assert late[0][1] == late[1][1] == final == await job(gateway, started["id"])


async def test_a_client_that_leaves_the_event_stream_leaves_the_job_running(stack: Stack, gateway: TestClient) -> None:
    await register(gateway, [sparse_model(stack.model_root, f"big{i}.safetensors", 2048 * MiB) for i in range(3)])
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    reply = await gateway.get(f"/api/jobs/{started['id']}/events")
    first = await reply.content.readuntil(b"\n\n")
    assert first.startswith(b"event: progress\ndata: ")
    reply.close()
    assert (await job(gateway, started["id"]))["state"] in ("queued", "running")
    assert (await (await gateway.post(f"/api/jobs/{started['id']}/cancel")).json())["state"] == "cancelled"
