"""A job a person can read: who started it, when, how long it took, what it did in words, each problem with its
file and reason."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_model
from tests.integration.jobs_helpers import finished


async def _started(gateway: TestClient, headers: dict[str, str] | None = None, **body) -> dict:
    reply = await gateway.post("/api/jobs", json={"kind": "scan", **body}, headers=headers or {})
    assert reply.status == 202, await reply.text()
    return await finished(gateway, (await reply.json())["id"])


async def test_a_job_says_who_started_it_what_it_did_and_each_problem_with_its_file(
    stack: Stack, gateway: TestClient
) -> None:
    write_model(stack.model_root, "loras/a.safetensors", b"a")
    write_model(stack.model_root, "loras/b.safetensors", b"b")
    broken = stack.model_root / "loras/b.preview.png"
    broken.write_bytes(b"this is no picture")

    job = await _started(gateway, {"X-ModelVault-Started-By": "page"})
    assert (job["started_by"], job["started_by_words"]) == ("page", "the page")
    assert job["summary"] == "Found 2 files, 2 new, 1 problem."
    assert [p["path"] for p in job["problems"]] == [str(broken)]
    assert job["problems"][0]["reason"]  # the image service's own words
    assert isinstance(job["duration_s"], float) and job["duration_s"] >= 0
    assert job["created_at"] and job["started_at"] and job["finished_at"]

    again = await _started(gateway)
    assert again["started_by"] == "api" and again["summary"].startswith("Found 2 files")
    listed = (await (await gateway.get("/api/jobs")).json())["items"]
    assert [(j["id"], j["started_by"]) for j in listed] == [(again["id"], "api"), (job["id"], "page")]


async def test_a_client_cannot_claim_to_be_the_watcher_and_starts_nothing(gateway: TestClient) -> None:
    reply = await gateway.post("/api/jobs", json={"kind": "scan"}, headers={"X-ModelVault-Started-By": "watcher"})
    assert reply.status == 400 and (await reply.json())["error"]["code"] == "invalid_parameter"
    assert (await (await gateway.get("/api/jobs")).json())["total"] == 0


async def test_the_start_up_scan_and_the_watchers_jobs_say_so(stack: Stack, aiohttp_client) -> None:
    write_model(stack.model_root, "present.safetensors", b"there at start")
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1", MODELVAULT_SETTLE_S="0"))

    async def jobs() -> list[dict]:
        return (await (await gateway.get("/api/jobs")).json())["items"]

    async def ended(count: int) -> list[dict] | None:
        items = await jobs()
        return items if len(items) >= count and all(j["state"] == "done" for j in items) else None

    start_up = await eventually(lambda: ended(3), timeout=30, what="the start-up scan, hash and headers")
    assert {j["started_by"] for j in start_up} == {"start-up"}
    write_model(stack.model_root, "later.safetensors", b"copied in later")
    later = await eventually(lambda: ended(6), timeout=30, what="the watcher's scan, hash and headers")
    assert [j["started_by"] for j in later[:3]] == ["watcher"] * 3
    assert later[0]["started_by_words"] == "the watcher"
