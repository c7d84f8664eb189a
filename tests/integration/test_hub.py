"""The hub job against a local fake hub that answers like Civitai: what is sent, kept, refused, and previews."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from backend.util.image_keys import hub_picture_key
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.fake_hub import FakeHub, hub_running, image, png, version
from tests.integration.gateway_support import error_of, files_under, write_model, write_preview
from tests.integration.jobs_helpers import finished, register

# Fast enough for tests; the default of 1 request a second is what a real hub gets.
FAST = {"MODELVAULT_HUB_REQUESTS_PER_S": "1000", "MODELVAULT_HUB_BACKOFF_S": "0.05",
        "MODELVAULT_HUB_TIMEOUT_S": "1"}


@pytest.fixture
async def client(stack: Stack, hub: FakeHub, aiohttp_client) -> TestClient:
    return await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, **FAST))


async def catalogue(client: TestClient, root: Path, relative: str, content: bytes | None = None) -> str:
    """A model file written and hashed into the catalogue; its SHA-256."""
    content = content if content is not None else os.urandom(4096)
    path = write_model(root, relative, content)
    reply = await client.post("/api/models/sha256", json={"path": str(path)})
    assert reply.status == 200, await reply.text()
    return hashlib.sha256(content).hexdigest()


async def run_job(client: TestClient, body: dict) -> dict:
    """Start a job and wait for its end."""
    reply = await client.post("/api/jobs", json=body)
    assert reply.status == 202, await reply.text()
    return await finished(client, (await reply.json())["id"])


async def hub_job(client: TestClient, **body) -> dict:
    return await run_job(client, {"kind": "hub", **body})


async def model(client: TestClient, sha256: str) -> dict:
    reply = await client.get(f"/api/models/{sha256}")
    assert reply.status == 200, await reply.text()
    return await reply.json()


async def test_a_hub_job_keeps_what_the_hub_knows_and_remembers_what_it_does_not(
    stack: Stack, hub: FakeHub, client: TestClient
) -> None:
    known = await catalogue(client, stack.model_root, "loras/ink.safetensors")
    unknown = await catalogue(client, stack.model_root, "loras/mine.safetensors")
    assert (await model(client, known))["hub"] == {"state": "unchecked", "checked_at": None, "url": None}
    hub.versions = [version(known)]

    done = await hub_job(client)
    assert done["state"] == "done", done
    assert done["result"] == {"found": 1, "not_found": 1, "failed": 0, "previews": 0, "errors": []}
    # One bulk call, with the SHA-256s and nothing else: no path, no name, no token.
    [sent] = hub.api_requests()
    assert (sent.method, sorted(sent.body)) == ("POST", sorted([known.upper(), unknown.upper()]))
    assert "Authorization" not in sent.headers and "Cookie" not in sent.headers

    shown = await model(client, known)
    page = f"{hub.url}/models/827184?modelVersionId=2514310"
    assert shown["hub"]["state"] == "found" and shown["hub"]["url"] == page and shown["hub"]["checked_at"]
    assert {name: field["value"] for name, field in shown["metadata"].items()} == {
        "model_name": "Ink Style", "version_name": "v16.0", "model_type": "LORA", "base_model": "SDXL 1.0",
        "trained_words": ["inkstyle", "sketch lines"], "description": "Version notes",
        "civitai_model_id": 827184, "civitai_version_id": 2514310, "nsfw_level": 1, "page_url": page}
    assert {field["source"] for field in shown["metadata"].values()} == {"civitai"}
    listed = (await (await client.get("/api/models")).json())["items"]
    # A page of cards carries the short fields, not the descriptions (the model view has them).
    assert [item["metadata"].get("model_name") for item in listed] == ["Ink Style", None]
    assert "description" not in listed[0]["metadata"]
    missing = await model(client, unknown)
    assert missing["hub"]["state"] == "not_found" and missing["hub"]["url"] is None and missing["metadata"] == {}

    # Found and recently not found: nothing is asked again, unless refreshed.
    again = await hub_job(client)
    assert again["result"]["found"] == again["result"]["not_found"] == 0 and len(hub.api_requests()) == 1
    refreshed = await hub_job(client, refresh=True)
    assert (refreshed["result"]["found"], refreshed["result"]["not_found"]) == (1, 1)


async def test_a_not_found_answer_older_than_a_week_is_asked_again(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection
) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    await hub_job(client)
    await db.execute("UPDATE hub_lookups SET checked_at = now() - interval '8 days'")
    hub.versions = [version(sha256)]
    done = await hub_job(client)
    assert done["result"]["found"] == 1 and hub.asked_hashes() == [sha256.upper()] * 2


async def test_a_folder_limits_the_job_and_a_bad_body_is_refused(
    stack: Stack, hub: FakeHub, client: TestClient
) -> None:
    inside = await catalogue(client, stack.model_root, "sd/a.safetensors")
    await catalogue(client, stack.model_root, "other/b.safetensors")
    done = await hub_job(client, folder=str(stack.model_root / "sd"))
    assert done["result"]["not_found"] == 1 and hub.asked_hashes() == [inside.upper()]

    for body, words in (({"refresh": "yes"}, "'refresh' must be true or false"),
                        ({"limit": 3}, "unknown field(s) 'limit'"),
                        ({"folder": "relative"}, "'folder' must be an absolute path")):
        reply = await client.post("/api/jobs", json={"kind": "hub", **body})
        message = (await reply.json())["error"]["message"]
        assert await error_of(reply) == (400, "invalid_parameter") and words in message
    assert len(hub.api_requests()) == 1


async def test_one_content_is_asked_again_by_its_sha256_alone(stack: Stack, hub: FakeHub, client: TestClient) -> None:
    first = await catalogue(client, stack.model_root, "a.safetensors")
    await catalogue(client, stack.model_root, "b.safetensors")
    assert (await hub_job(client))["result"]["not_found"] == 2
    hub.versions = [version(first)]
    done = await hub_job(client, sha256=first.upper())
    assert done["result"]["found"] == 1 and done["params"]["sha256"] == first
    assert hub.asked_hashes()[2:] == [first.upper()]

    for body, words in (({"sha256": "abc"}, "'sha256' must be 64 hexadecimal digits"),
                        ({"sha256": first, "folder": str(stack.model_root)}, "not both")):
        reply = await client.post("/api/jobs", json={"kind": "hub", **body})
        message = (await reply.json())["error"]["message"]
        assert await error_of(reply) == (400, "invalid_parameter") and words in message

async def test_html_in_the_description_is_kept_as_text_only(stack: Stack, hub: FakeHub, client: TestClient) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.versions = [version(sha256, description='<p>Use <b>ink</b> &amp; paper</p><script>alert("x")</script>'
                                                '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">link</a>')]
    await hub_job(client)
    description = (await model(client, sha256))["metadata"]["description"]["value"]
    assert description == "Use ink & paper\nlink"


async def test_the_token_is_sent_as_a_bearer_token(stack: Stack, hub: FakeHub, aiohttp_client) -> None:
    client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_TOKEN="hub-secret", **FAST))
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.files = {"pg.png": (png(), "image/png")}
    hub.versions = [version(sha256, images=[image(f"{hub.url}/images/pg.png")])]
    assert (await hub_job(client))["result"]["previews"] == 1
    assert hub.api_requests()[0].headers["Authorization"] == "Bearer hub-secret"
    # The token is for the API: a preview's download never carries it, even from the hub's own host.
    [download] = [s for s in hub.seen if s.path.startswith("/images/")]
    assert "Authorization" not in download.headers


async def test_requests_never_come_faster_than_the_configured_rate(stack: Stack, hub: FakeHub, aiohttp_client) -> None:
    client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_REQUESTS_PER_S="5"))
    hub.bulk_refused = True  # one request per hash: five requests
    for name in "abcd":
        await catalogue(client, stack.model_root, f"{name}.safetensors")
    await hub_job(client)
    times = [r.at for r in hub.api_requests()]
    assert len(times) == 5 and all(later - earlier >= 0.19 for earlier, later in zip(times, times[1:], strict=False))


@pytest.mark.parametrize("refusal", ["404, an older server", "405 once"])
async def test_a_server_without_the_bulk_call_is_asked_one_hash_at_a_time(
    stack: Stack, hub: FakeHub, client: TestClient, refusal: str
) -> None:
    if refusal.startswith("404"):
        hub.bulk_refused = True
    else:
        hub.faults = ["refuse_bulk"]
    known = await catalogue(client, stack.model_root, "a.safetensors")
    await catalogue(client, stack.model_root, "b.safetensors")
    hub.versions = [version(known)]
    done = await hub_job(client)
    assert (done["result"]["found"], done["result"]["not_found"], done["result"]["failed"]) == (1, 1, 0)
    assert [r.method for r in hub.api_requests()] == ["POST", "GET", "GET"]
    assert (await model(client, known))["metadata"]["model_name"]["value"] == "Ink Style"


async def test_the_second_hub_is_asked_for_what_the_first_did_not_know(
    stack: Stack, hub: FakeHub, aiohttp_client
) -> None:
    async with hub_running(FakeHub()) as second:
        client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_FALLBACK_URL=second.url,
                                                **FAST))
        on_first = await catalogue(client, stack.model_root, "a.safetensors")
        on_second = await catalogue(client, stack.model_root, "b.safetensors")
        hub.versions, second.versions = [version(on_first)], [version(on_second, version_id=9)]
        done = await hub_job(client)
        assert done["result"]["found"] == 2
        assert second.asked_hashes() == [on_second.upper()]
        assert (await model(client, on_second))["hub"]["url"] == f"{second.url}/models/827184?modelVersionId=9"


async def test_429_is_waited_out_as_retry_after_says(stack: Stack, hub: FakeHub, client: TestClient) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.versions = [version(sha256)]
    hub.faults = ["429:1", "429"]
    done = await hub_job(client)
    assert done["result"]["found"] == 1
    first, second, third = hub.api_requests()
    assert second.at - first.at >= 0.95  # Retry-After: 1
    assert third.at - second.at >= 0.045  # no Retry-After: the backoff's first wait


async def test_5xx_and_timeouts_are_retried_then_the_batch_fails_and_changes_nothing(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection
) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.versions = [version(sha256)]
    hub.faults = ["500", "timeout"]
    assert (await hub_job(client))["result"]["found"] == 1

    await db.execute("DELETE FROM hub_lookups; DELETE FROM model_metadata")
    hub.faults = ["500"] * 5
    done = await hub_job(client)
    assert done["state"] == "done"
    assert (done["result"]["found"], done["result"]["failed"]) == (0, 1)
    [error] = done["result"]["errors"]
    assert error["code"] == "hub_failed" and error["sha256"] == sha256 and "HTTP 500, 5 times" in error["message"]
    assert (await model(client, sha256))["hub"]["state"] == "failed"
    assert await db.fetchval("SELECT count(*) FROM model_metadata") == 0
    # A failed content is asked again by the next job.
    assert (await hub_job(client))["result"]["found"] == 1


@pytest.mark.parametrize(("fault", "words"), [
    ("malformed", "malformed JSON, refused"),
    ("oversize", "over the limit"),
    ("wrong_types", "version [0]: id must be a positive integer"),
    ("redirect", "redirects are not followed"),
])
async def test_a_broken_or_hostile_answer_is_refused_and_changes_nothing(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection, fault: str, words: str
) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.versions = [version(sha256)]
    hub.faults = [fault]
    done = await hub_job(client)
    assert done["state"] == "done" and done["result"]["failed"] == 1, done
    assert words in done["result"]["errors"][0]["message"]
    assert await db.fetchval("SELECT count(*) FROM model_metadata") == 0
    assert (await model(client, sha256))["hub"]["state"] == "failed"
    assert len(hub.api_requests()) == 1  # a refused answer is not asked for again and again


async def test_a_hub_that_is_down_stops_the_job_after_three_failed_batches(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection
) -> None:
    # 400 contents (4 batches of 100), catalogued as rows: the hub job reads only the catalogue.
    await db.executemany(
        "INSERT INTO models (path, sha256, size, mtime_ns, inode, device) VALUES ($1, $2, 1, 1, $3, 1)",
        [(f"{stack.model_root}/m{i}.safetensors", hashlib.sha256(b"%d" % i).hexdigest(), i) for i in range(400)])
    hub.faults = ["500"] * 15
    done = await hub_job(client)
    assert done["state"] == "failed" and done["error"]["code"] == "hub_unavailable"
    assert "failed 3 batches in a row" in done["error"]["message"] and "100 not asked" in done["error"]["message"]
    assert len(hub.api_requests()) == 15
    assert await db.fetchval("SELECT count(*) FROM hub_lookups WHERE state = 'failed'") == 300
    assert await db.fetchval("SELECT count(*) FROM model_metadata") == 0


async def test_a_hub_job_waiting_on_a_slow_hub_is_cancelled_at_once(
    stack: Stack, hub: FakeHub, aiohttp_client, db: asyncpg.Connection
) -> None:
    client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_TIMEOUT_S="60"))
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.versions, hub.faults, hub.stall_s = [version(sha256)], ["timeout"], 60
    reply = await client.post("/api/jobs", json={"kind": "hub"})
    job_id = (await reply.json())["id"]
    await eventually(lambda: hub.api_requests(), timeout=60, what="the hub to be asked")
    cancelled = await client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status == 200 and (await cancelled.json())["state"] == "cancelled"
    assert (await model(client, sha256))["hub"]["state"] == "unchecked"
    assert await db.fetchval("SELECT count(*) FROM model_metadata") == 0

async def test_the_hub_ranks_above_another_tools_copy_and_an_import_never_overwrites_it(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection
) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    await db.execute("INSERT INTO model_metadata (sha256, field, value, source) VALUES "
                     "($1, 'model_name', '\"Old copy\"', 'civitai_helper'), ($1, 'notes', '\"mine\"', 'a1111')",
                     sha256)
    hub.versions = [version(sha256)]
    await hub_job(client)
    metadata = (await model(client, sha256))["metadata"]
    assert metadata["model_name"] == {"value": "Ink Style", "source": "civitai"}
    assert metadata["notes"] == {"value": "mine", "source": "a1111"}  # a field the hub does not have stays

    # Another tool's side-car read later (a Civitai Helper .civitai.info) leaves the hub's fields as they are.
    info = stack.model_root / "a.civitai.info"
    info.write_text(json.dumps(version(sha256) | {"model": {"name": "Helper's name", "type": "LORA"}}))
    reply = await client.post("/api/models/import", json={})
    assert reply.status == 200, await reply.text()
    assert (await model(client, sha256))["metadata"]["model_name"] == {"value": "Ink Style", "source": "civitai"}


async def test_with_hub_auto_a_hash_job_that_catalogued_files_is_followed_by_a_hub_job(
    stack: Stack, hub: FakeHub, aiohttp_client
) -> None:
    client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_AUTO="1", **FAST))
    content = os.urandom(4096)
    hub.versions = [version(hashlib.sha256(content).hexdigest())]
    await register(client, [write_model(stack.model_root, "new.safetensors", content)])
    hashed = await run_job(client, {"kind": "hash"})
    assert hashed["result"]["hashed_count"] == 1

    async def hub_done() -> dict | None:
        jobs = (await (await client.get("/api/jobs")).json())["items"]
        return next((j for j in jobs if j["kind"] == "hub" and j["state"] == "done"), None)
    followed = await eventually(hub_done, timeout=60, what="the hub job after the hash job")
    assert followed["result"]["found"] == 1 and hub.asked_hashes() == [hashlib.sha256(content).hexdigest().upper()]


async def test_without_hub_auto_hashing_sends_nothing(stack: Stack, hub: FakeHub, client: TestClient) -> None:
    await register(client, [write_model(stack.model_root, "new.safetensors", os.urandom(4096))])
    assert (await run_job(client, {"kind": "hash"}))["result"]["hashed_count"] == 1
    assert [j["kind"] for j in (await (await client.get("/api/jobs")).json())["items"]] == ["hash"]
    assert hub.seen == []


# ---- previews -------------------------------------------------------------------------------------

def image_requests(fake: FakeHub) -> list[str]:
    return [s.path for s in fake.seen if s.path.startswith("/images/")]


async def test_a_content_without_a_preview_gets_the_first_image_under_the_ceiling(
    stack: Stack, hub: FakeHub, aiohttp_client
) -> None:
    client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, **FAST))
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    hub.files = {"x.png": (png(colour="red"), "image/png"), "pg.png": (png((80, 40)), "image/png")}
    hub.versions = [version(sha256, images=[
        image(f"{hub.url}/images/video.mp4", 1, kind="video"), image(f"{hub.url}/images/x.png", 8),
        image(f"{hub.url}/images/pg.png", 1)])]
    done = await hub_job(client)
    assert (done["result"]["found"], done["result"]["previews"], done["result"]["errors"]) == (1, 1, [])
    assert image_requests(hub) == ["/images/pg.png"]
    assert (await model(client, sha256))["files"][0]["image_url"] == f"/images/{sha256}.webp"
    # The preview, and the same file (one inode) kept as that picture's thumbnail, for a later fallback.
    kept = hub_picture_key(sha256, f"{hub.url}/images/pg.png")
    assert files_under(stack.data_dir / "images") == sorted([f"{sha256}.webp", kept])
    images = stack.data_dir / "images"
    assert (images / f"{sha256}.webp").stat().st_ino == (images / kept).stat().st_ino
    reply = await client.get(f"/images/{sha256}.webp")
    assert reply.status == 200 and (await reply.read())[8:12] == b"WEBP"

    # A higher ceiling takes the first image at or under it.
    client = await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_MAX_NSFW_LEVEL="8", **FAST))
    other = await catalogue(client, stack.model_root, "b.safetensors")
    hub.versions[0]["files"][0]["hashes"]["SHA256"] = other.upper()
    assert (await hub_job(client))["result"]["previews"] == 1
    assert image_requests(hub)[-1] == "/images/x.png"


async def test_a_local_preview_is_never_replaced(stack: Stack, hub: FakeHub, client: TestClient) -> None:
    path = write_model(stack.model_root, "a.safetensors", b"local" * 1000)
    write_preview(path.with_suffix(".preview.png"), colour="blue")
    for kind in ("scan", "hash"):
        assert (await run_job(client, {"kind": kind}))["state"] == "done"
    sha256 = (await (await client.get("/api/models")).json())["items"][0]["sha256"]
    before = (stack.data_dir / "images" / f"{sha256}.webp").read_bytes()
    hub.files = {"pg.png": (png(), "image/png")}
    hub.versions = [version(sha256, images=[image(f"{hub.url}/images/pg.png")])]
    done = await hub_job(client)
    assert (done["result"]["found"], done["result"]["previews"]) == (1, 0)
    assert image_requests(hub) == []
    assert (stack.data_dir / "images" / f"{sha256}.webp").read_bytes() == before


@pytest.mark.parametrize(("where", "content", "words"), [
    ("https://evil.example/a.png", None, "not on an allowed host"),
    ("http://image.civitai.com/a.png", None, "not on an allowed host"),
    ("file:///etc/passwd", None, "not on an allowed host"),
    ("{hub}/images/elsewhere", None, "answered HTTP 302 to 'http://203.0.113.7/images/x.png'"),
    ("{hub}/images/note.png", b"<html>not an image</html>", "refused by the image service"),
    ("{hub}/images/huge.png", b"\x89PNG" + b"\0" * (4 * 1024 * 1024), "over the limit"),
    ("{hub}/images/bomb.png", "bomb", "decompression bomb guard"),
])
async def test_a_preview_that_is_not_allowed_or_no_image_is_refused_and_the_fields_are_kept(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection, where: str, content: bytes | str | None,
    words: str,
) -> None:
    sha256 = await catalogue(client, stack.model_root, "a.safetensors")
    url = where.format(hub=hub.url)
    if content is not None:
        # A bomb: a few KB of PNG that would decode to 400 million pixels.
        content = png((20_000, 20_000), mode="1") if content == "bomb" else content
        hub.files = {Path(url).name: (content, "image/png")}
    hub.versions = [version(sha256, images=[image(url)])]
    done = await hub_job(client)
    assert (done["result"]["found"], done["result"]["previews"]) == (1, 0)
    [error] = done["result"]["errors"]
    assert error["code"] == "preview_refused" and words in error["message"], error
    assert await db.fetchval("SELECT image_key FROM models") is None
    assert files_under(stack.data_dir / "images") == []
    assert (await model(client, sha256))["metadata"]["model_name"]["value"] == "Ink Style"
