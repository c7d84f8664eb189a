"""A job's event streams: every stream of a job follows one feed, and there are only so many of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from backend.database import jobs_queries
from backend.server import keys
from backend.server.instance import HANDLER_CANCELLATION
from backend.server.jobs.context import JobContext
from backend.server.jobs.runner import JobKind
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.jobs_helpers import MiB, job, register, sparse_model


@pytest.fixture
async def capped_gateway(stack: Stack) -> AsyncIterator[str]:
    """A gateway on a real port, run as `python -m backend.server` runs it, that keeps two streams open at most."""
    runner = web.AppRunner(stack.app(MODELVAULT_MAX_EVENT_STREAMS="2"), handler_cancellation=HANDLER_CANCELLATION)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _first_event(reply: aiohttp.ClientResponse) -> tuple[str, dict]:
    block = (await reply.content.readuntil(b"\n\n")).decode()
    lines = dict(line.split(": ", 1) for line in block.strip().splitlines())
    return lines["event"], json.loads(lines["data"])


async def _all_events(reply: aiohttp.ClientResponse) -> list[tuple[str, dict]]:
    events = []
    for block in (await reply.text()).strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_streams_beyond_the_cap_get_503_until_one_closes(stack: Stack, capped_gateway: str) -> None:
    base = capped_gateway
    async with aiohttp.ClientSession() as session:
        # Sparse: minutes of reading if nobody stopped it, and no disk used.
        models = [sparse_model(stack.model_root, f"big{i}.safetensors", 8192 * MiB) for i in range(3)]
        for model in models:
            async with session.post(f"{base}/api/models/pending", json={"path": str(model)}) as reply:
                assert reply.status == 201
        async with session.post(f"{base}/api/jobs", json={"kind": "hash"}) as reply:
            job_id = (await reply.json())["id"]
        events = f"{base}/api/jobs/{job_id}/events"
        first, second = await session.get(events), await session.get(events)
        for stream in (first, second):
            assert stream.status == 200 and (await _first_event(stream))[0] == "progress"

        async with session.get(events) as refused:
            assert refused.status == 503
            assert refused.headers["Retry-After"].isdigit()
            body = await refused.json()
        assert body["error"]["code"] == "too_many_streams" and "2 event streams" in body["error"]["message"]

        first.close()  # its slot is free as soon as the gateway sees the connection go

        async def a_stream_opens() -> aiohttp.ClientResponse | None:
            reply = await session.get(events)
            if reply.status == 200:
                return reply
            reply.release()
            return None

        third = await eventually(a_stream_opens, what="a free stream slot")
        assert (await _first_event(third))[0] == "progress"
        async with session.post(f"{base}/api/jobs/{job_id}/cancel") as reply:
            assert (await reply.json())["state"] == "cancelled"
        # Both open streams end with the job, as cancelled.
        for stream in (second, third):
            names = [name for name, _ in await _all_events(stream)]
            assert names[-1] == "done"
        async with session.get(events) as after:
            assert [name for name, _ in await _all_events(after)] == ["progress", "done"]


async def test_a_stream_shows_a_running_jobs_progress_then_its_end(stack: Stack, gateway: TestClient) -> None:
    size = 2048 * MiB
    await register(gateway, [sparse_model(stack.model_root, "big.safetensors", size)])
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    reply = await gateway.get(f"/api/jobs/{started['id']}/events")
    events = await _all_events(reply)
    assert [name for name, _ in events][-1] == "done"
    running = [body for name, body in events if name == "progress" and body["state"] == "running"]
    # The bytes as they are read, pushed from the job itself, not only its start and its end.
    assert any(0 < body["bytes_done"] < size for body in running), [body["bytes_done"] for body in running]
    assert events[-1][1] == await job(gateway, started["id"])
    assert events[-1][1]["state"] == "done" and events[-1][1]["bytes_done"] == size


async def test_a_stream_on_another_gateway_follows_the_job_to_its_end(
    stack: Stack, gateway: TestClient, aiohttp_client
) -> None:
    other = await aiohttp_client(stack.app())
    await register(gateway, [sparse_model(stack.model_root, f"m{i}.safetensors", 256 * MiB) for i in range(3)])
    started = await (await gateway.post("/api/jobs", json={"kind": "hash"})).json()
    # The job runs in `gateway`; `other` reads its row for its streams.
    events = await _all_events(await other.get(f"/api/jobs/{started['id']}/events"))
    names = [name for name, _ in events]
    assert names[0] == "progress" and names[-1] == "done"
    final = events[-1][1]
    assert final["state"] == "done" and final["files_done"] == 3
    assert final == await job(gateway, started["id"])


async def test_many_streams_of_a_job_cost_one_read_per_change_and_none_while_it_is_idle(
    gateway: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A job kind of this test's own, run by the gateway's real runner: it moves only when the test says.
    step, finish = asyncio.Event(), asyncio.Event()

    async def run(ctx: JobContext) -> dict[str, Any]:
        await step.wait()
        ctx.progress(files_done=1, files_total=2)
        await finish.wait()
        return {"waited": True}

    gateway.app[keys.JOB_RUNNER].register("wait", JobKind(run=run, validate=lambda body: {}))
    started = await (await gateway.post("/api/jobs", json={"kind": "wait"})).json()
    await eventually(lambda: _state(gateway, started["id"], "running"), what="the job running")
    reads = []
    real_get_job = jobs_queries.get_job

    async def counted(conn, job_id: int):
        reads.append(job_id)
        return await real_get_job(conn, job_id)

    monkeypatch.setattr(jobs_queries, "get_job", counted)
    streams = [await gateway.get(f"/api/jobs/{started['id']}/events") for _ in range(50)]
    for stream in streams:
        name, body = await _first_event(stream)
        assert (name, body["state"], body["files_done"]) == ("progress", "running", 0)
    reads.clear()
    await asyncio.sleep(1.0)  # four ticks of the old polling: 200 reads of the row by 50 streams
    assert reads == []

    step.set()
    for stream in streams:
        name, body = await _first_event(stream)
        assert (name, body["files_done"], body["files_total"]) == ("progress", 1, 2)
    assert reads == [started["id"]]  # one read of the row for the 50 streams

    finish.set()
    for stream in streams:
        name, body = (await _all_events(stream))[-1]
        assert (name, body["state"], body["result"]) == ("done", "done", {"waited": True})


async def _state(gateway: TestClient, job_id: int, state: str) -> bool:
    return (await job(gateway, job_id))["state"] == state
