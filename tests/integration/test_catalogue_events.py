"""GET /api/events: one stream of catalogue changes from every gateway on the database, coalesced, bounded."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json

from aiohttp.test_utils import TestClient
from PIL import Image

from backend.server import keys
from backend.server.events.bus import STREAM_QUEUE, Subscription
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_model
from tests.integration.jobs_helpers import finished


class Stream:
    """An open /api/events stream, read event by event."""

    def __init__(self, reply) -> None:
        self.reply = reply

    async def next(self, timeout: float = 20.0) -> tuple[str, dict]:
        name, data = "", ""
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.reply.content.readline()).decode()
                if line == "":
                    raise EOFError("the stream ended")
                line = line.rstrip("\n")
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    data = line[len("data: "):]
                elif line == "" and name:
                    return name, json.loads(data)

    async def events_until(self, done, timeout: float = 30.0) -> list[dict]:
        """Every change event until done(events) holds."""
        seen: list[dict] = []
        async with asyncio.timeout(timeout):
            while not done(seen):
                name, batch = await self.next(timeout)
                assert name == "changes"
                seen.extend(batch["events"])
        return seen


async def open_stream(client: TestClient) -> Stream:
    reply = await client.get("/api/events")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/event-stream")
    stream = Stream(reply)
    assert (await stream.next())[0] == "ready"
    return stream


async def test_a_job_started_on_another_gateway_and_the_models_it_added_reach_an_open_stream(
    stack: Stack, aiohttp_client
) -> None:
    page_side = await aiohttp_client(stack.app())
    cli_side = await aiohttp_client(stack.app())  # a second gateway on the same database
    stream = await open_stream(page_side)
    write_model(stack.model_root, "loras/a.safetensors", b"a")

    reply = await cli_side.post("/api/jobs", json={"kind": "scan"}, headers={"X-ModelVault-Started-By": "cli"})
    job = await finished(cli_side, (await reply.json())["id"])
    events = await stream.events_until(
        lambda seen: any(e["type"] == "job" and e["state"] == "done" for e in seen))
    jobs = [e for e in events if e["type"] == "job"]
    assert jobs[0] == {"type": "job", "id": job["id"], "kind": "scan", "state": "queued", "started_by": "cli"}
    assert jobs[-1] == {"type": "job", "id": job["id"], "kind": "scan", "state": "done"}

    reply = await cli_side.post("/api/jobs", json={"kind": "hash"})
    await finished(cli_side, (await reply.json())["id"])
    events = await stream.events_until(lambda seen: any(e["type"] == "models" for e in seen))
    assert [e for e in events if e["type"] == "models"][0]["added"] == 1


async def test_a_preview_a_person_sets_is_told_to_open_streams(stack: Stack, gateway: TestClient) -> None:
    write_model(stack.model_root, "v.safetensors", b"v")
    for kind in ("scan", "hash"):
        await finished(gateway, (await (await gateway.post("/api/jobs", json={"kind": kind})).json())["id"])
    stream = await open_stream(gateway)
    sha = hashlib.sha256(b"v").hexdigest()
    picture = io.BytesIO()
    Image.new("RGB", (9, 9), "red").save(picture, "PNG")
    put = await gateway.put(f"/api/models/{sha}/preview", data=picture.getvalue(),
                            headers={"Content-Type": "image/png"})
    assert put.status == 200
    events = await stream.events_until(lambda seen: any(e["type"] == "preview" for e in seen))
    assert {"type": "preview", "sha256": sha, "image_key": f"{sha}.webp"} in events


async def test_a_burst_of_ten_thousand_changes_is_one_batch_of_counts_with_a_reload_hint(
    stack: Stack, aiohttp_client
) -> None:
    app = stack.app()
    client = await aiohttp_client(app)
    stream = await open_stream(client)
    for i in range(10_000):
        app[keys.CHANGE_BUS].publish({"type": "preview", "sha256": f"{i:064x}", "image_key": None})
    name, batch = await stream.next()
    assert (name, batch) == ("changes", {"events": [], "reload": True, "counts": {"preview": 10_000}})


async def test_streams_are_capped_together_with_the_job_streams(stack: Stack, aiohttp_client) -> None:
    client = await aiohttp_client(stack.app(MODELVAULT_MAX_EVENT_STREAMS="2"))
    first, second = await open_stream(client), await open_stream(client)
    refused = await client.get("/api/events")
    assert refused.status == 503 and (await refused.json())["error"]["code"] == "too_many_streams"
    assert refused.headers["Retry-After"]
    job = await (await client.post("/api/jobs", json={"kind": "scan"})).json()
    assert (await client.get(f"/api/jobs/{job['id']}/events")).status == 503
    first.reply.close()
    second.reply.close()


def test_a_stream_that_falls_behind_is_dropped_not_buffered() -> None:
    subscription = Subscription()
    for i in range(STREAM_QUEUE * 4):
        subscription.offer(f'{{"n": {i}}}')
    assert subscription.dropped
    queued = [subscription.queue.get_nowait() for _ in range(subscription.queue.qsize())]
    assert len(queued) == STREAM_QUEUE + 1 and queued[-1] is None  # its batches, then the end


async def test_a_model_one_request_hashes_and_promotes_is_told_to_open_streams(stack: Stack, gateway: TestClient
                                                                             ) -> None:
    model = write_model(stack.model_root, "one.safetensors", b"one")
    assert (await gateway.post("/api/models/pending", json={"path": str(model)})).status == 201
    stream = await open_stream(gateway)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model)})
    assert reply.status == 200 and (await reply.json())["migrated"] is True
    events = await stream.events_until(lambda seen: any(e["type"] == "models" for e in seen))
    assert {"type": "models", "sha256": hashlib.sha256(b"one").hexdigest(), "path": str(model), "added": 1} in events
