"""The hub's pictures of a model: kept by the hub job, listed, served as WebP thumbnails, one chosen as preview."""

from __future__ import annotations

import io
import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from tests.integration.conftest import Stack
from tests.integration.fake_hub import FakeHub, gallery, version
from tests.integration.gateway_support import error_of, write_model, write_preview
from tests.integration.jobs_helpers import finished

FAST = {"MODELVAULT_HUB_REQUESTS_PER_S": "1000", "MODELVAULT_HUB_BACKOFF_S": "0.05",
        "MODELVAULT_HUB_TIMEOUT_S": "1", "MODELVAULT_HUB_MAX_NSFW_LEVEL": "2"}
# gallery()'s still images as kept: 0 first, 1 second (PG-13), 2 explicit (X), 3 on evil.example, 4 third,
# 5 failing (HTTP 500), 6 note (no image). The video is no picture.
OFFERED = [0, 1, 4, 5, 6]


@pytest.fixture
async def client(stack: Stack, hub: FakeHub, aiohttp_client) -> TestClient:
    return await aiohttp_client(stack.app(MODELVAULT_HUB_URL=hub.url, **FAST))


async def run_job(client: TestClient, kind: str) -> dict:
    reply = await client.post("/api/jobs", json={"kind": kind})
    assert reply.status == 202, await reply.text()
    done = await finished(client, (await reply.json())["id"])
    assert done["state"] == "done", done
    return done


async def found_model(client: TestClient, stack: Stack, hub: FakeHub) -> str:
    """A model with a side-car picture (its automatic preview), which the hub knows with gallery()'s images."""
    path = write_model(stack.model_root, "loras/ink.safetensors", b"ink" * 2000)
    write_preview(path.with_suffix(".preview.png"), (70, 70), colour="green")
    for kind in ("scan", "hash"):
        await run_job(client, kind)
    sha256 = (await (await client.get("/api/models")).json())["items"][0]["sha256"]
    hub.versions[:] = [version(sha256, images=gallery(hub.url)[0])]
    hub.files = gallery(hub.url)[1]
    hub.failing_files = {"failing.png"}
    await run_job(client, "hub")
    return sha256


async def shown(client: TestClient, sha256: str) -> tuple[bool, bytes]:
    """Whether the model's preview is the person's own, and the preview's bytes as the page loads them."""
    model = await (await client.get(f"/api/models/{sha256}")).json()
    reply = await client.get(model["files"][0]["image_url"])
    assert reply.status == 200
    return model["own_preview"], await reply.read()


def hub_image_requests(hub: FakeHub) -> list[str]:
    return [seen.path for seen in hub.seen if seen.path.startswith("/images/")]


async def test_the_hub_job_keeps_the_still_images_in_the_hubs_order_out_of_pages_and_search(
    stack: Stack, hub: FakeHub, client: TestClient, db: asyncpg.Connection
) -> None:
    sha256 = await found_model(client, stack, hub)
    row = await db.fetchrow("SELECT value, source FROM model_metadata WHERE sha256 = $1 AND field = 'hub_images'",
                            sha256)
    assert row["source"] == "civitai"
    kept = json.loads(row["value"])
    assert [entry["url"].rsplit("/", 1)[1] for entry in kept] == [
        "first.png", "second.png", "explicit.png", "third.png", "third.png", "failing.png", "note.png"]
    assert [entry["nsfw_level"] for entry in kept] == [1, 2, 8, 1, 1, 1, 1]
    # A model's page of cards, and its search, carry none of the addresses (the model view asks for them).
    listed = (await (await client.get("/api/models")).json())["items"]
    assert listed[0]["metadata"]["model_name"] == "Ink Style" and "hub_images" not in listed[0]["metadata"]
    found = await (await client.get("/api/models", params={"q": "evil.example"})).json()
    assert found["items"] == []
    assert (await (await client.get(f"/api/models/{sha256}")).json())["metadata"]["hub_images"]["value"] == kept


async def test_the_list_offers_the_pictures_on_an_allowed_host_under_the_ceiling(
    stack: Stack, hub: FakeHub, client: TestClient, aiohttp_client
) -> None:
    sha256 = await found_model(client, stack, hub)
    reply = await client.get(f"/api/models/{sha256}/hub-pictures")
    assert reply.status == 200
    assert (await reply.json())["pictures"] == [
        {"index": i, "nsfw_level": 2 if i == 1 else 1, "thumbnail": f"/api/models/{sha256}/hub-pictures/{i}/thumbnail"}
        for i in OFFERED]
    # Listing downloads nothing: only a thumbnail asked for is.
    assert hub_image_requests(hub) == []
    strict = await aiohttp_client(
        stack.app(MODELVAULT_HUB_URL=hub.url, **{**FAST, "MODELVAULT_HUB_MAX_NSFW_LEVEL": "1"}))
    listed = await (await strict.get(f"/api/models/{sha256}/hub-pictures")).json()
    assert [picture["index"] for picture in listed["pictures"]] == [0, 4, 5, 6]


async def test_a_model_the_hub_never_showed_pictures_of_offers_none(stack: Stack, client: TestClient) -> None:
    path = write_model(stack.model_root, "plain.safetensors", b"plain" * 1000)
    reply = await client.post("/api/models/sha256", json={"path": str(path)})
    sha256 = (await reply.json())["sha256"]
    assert (await (await client.get(f"/api/models/{sha256}/hub-pictures")).json()) == {"pictures": []}


async def test_a_thumbnail_is_a_webp_the_gateway_fetches_once_and_serves(
    stack: Stack, hub: FakeHub, client: TestClient
) -> None:
    sha256 = await found_model(client, stack, hub)
    reply = await client.get(f"/api/models/{sha256}/hub-pictures/1/thumbnail")
    assert reply.status == 200 and reply.content_type == "image/webp"
    picture = Image.open(io.BytesIO(body := await reply.read()))
    assert picture.format == "WEBP" and picture.size == (40, 60)
    assert picture.size[0] * picture.size[1] <= 2_000_000
    assert hub_image_requests(hub) == ["/images/second.png"]
    again = await client.get(f"/api/models/{sha256}/hub-pictures/1/thumbnail")
    assert again.status == 200 and await again.read() == body
    assert hub_image_requests(hub) == ["/images/second.png"]
    [stored] = (stack.data_dir / "images" / "hub").iterdir()
    assert stored.name.startswith(sha256 + "-") and stored.read_bytes() == body


async def test_a_chosen_picture_is_the_persons_preview_until_removed(
    stack: Stack, hub: FakeHub, client: TestClient
) -> None:
    sha256 = await found_model(client, stack, hub)
    automatic = await shown(client, sha256)
    assert automatic[0] is False
    reply = await client.put(f"/api/models/{sha256}/preview", json={"hub_picture": 1})
    assert reply.status == 200, await reply.text()
    assert await reply.json() == {"sha256": sha256, "image_key": f"{sha256}.webp", "source": "you"}
    thumbnail = await (await client.get(f"/api/models/{sha256}/hub-pictures/1/thumbnail")).read()
    own, chosen = await shown(client, sha256)
    assert own is True and chosen == thumbnail
    assert Image.open(io.BytesIO(chosen)).getpixel((5, 5))[2] > 200  # second.png is blue

    # A rescan does not take it back for the side-car picture: the person's choice wins.
    await run_job(client, "scan")
    assert await shown(client, sha256) == (True, chosen)
    removed = await client.delete(f"/api/models/{sha256}/preview")
    assert removed.status == 200 and (await removed.json())["source"] == "sidecar"
    assert await shown(client, sha256) == automatic


async def test_a_removed_choice_brings_back_the_hubs_own_preview_when_no_side_car_is_left(
    stack: Stack, hub: FakeHub, client: TestClient
) -> None:
    """A model with no side-car picture whose preview came from the hub: the person's choice removed, the hub's
    preview is shown again, from the store (nothing downloaded again)."""
    path = write_model(stack.model_root, "loras/bare.safetensors", b"bare" * 2000)
    for kind in ("scan", "hash"):
        await run_job(client, kind)
    sha256 = (await (await client.get("/api/models")).json())["items"][0]["sha256"]
    hub.versions[:] = [version(sha256, images=gallery(hub.url)[0])]
    hub.files = gallery(hub.url)[1]
    await run_job(client, "hub")
    automatic = await shown(client, sha256)
    assert automatic[0] is False and path.with_suffix(".preview.png").exists() is False
    assert await (await client.put(f"/api/models/{sha256}/preview", json={"hub_picture": 1})).json() == {
        "sha256": sha256, "image_key": f"{sha256}.webp", "source": "you"}
    assert (await shown(client, sha256))[1] != automatic[1]
    downloads = len(hub_image_requests(hub))

    removed = await client.delete(f"/api/models/{sha256}/preview")
    assert removed.status == 200
    assert await removed.json() == {"sha256": sha256, "image_key": f"{sha256}.webp", "source": "hub"}
    assert await shown(client, sha256) == automatic
    assert len(hub_image_requests(hub)) == downloads


@pytest.mark.parametrize(("body", "status", "code", "words"), [
    ({"hub_picture": 99}, 404, "no_such_picture", "offers no picture 99"),
    ({"hub_picture": 2}, 403, "picture_not_allowed", "above MODELVAULT_HUB_MAX_NSFW_LEVEL"),
    ({"hub_picture": 3}, 403, "picture_not_allowed", "not on an allowed host"),
    ({"hub_picture": 5}, 502, "hub_picture_unavailable", "answered HTTP 500"),
    ({"hub_picture": 6}, 502, "hub_picture_refused", "no picture the image service takes"),
    ({"hub_picture": -1}, 400, "invalid_parameter", "'hub_picture' must be at least 0"),
    ({"hub_picture": "one"}, 400, "invalid_parameter", "'hub_picture' must be an integer"),
    ({"hub_picture": True}, 400, "invalid_parameter", "'hub_picture' must be an integer"),
    ({}, 400, "missing_parameter", "'hub_picture' is required"),
    ({"hub_picture": 1, "url": "https://evil.example/x.png"}, 400, "invalid_parameter", "unknown field(s) 'url'"),
])
async def test_a_choice_that_cannot_be_taken_is_refused_and_changes_nothing(
    stack: Stack, hub: FakeHub, client: TestClient, body: dict, status: int, code: str, words: str
) -> None:
    sha256 = await found_model(client, stack, hub)
    before = await shown(client, sha256)
    reply = await client.put(f"/api/models/{sha256}/preview", json=body)
    message = (await reply.json())["error"]["message"]
    assert await error_of(reply) == (status, code) and words in message, message
    assert await shown(client, sha256) == before
    assert list((stack.data_dir / "images" / "hub").glob("*")) == []


@pytest.mark.parametrize(("where", "status", "code"), [
    ("{sha}/hub-pictures/99/thumbnail", 404, "no_such_picture"),
    ("{sha}/hub-pictures/3/thumbnail", 403, "picture_not_allowed"),
    ("{sha}/hub-pictures/5/thumbnail", 502, "hub_picture_unavailable"),
    ("{sha}/hub-pictures/6/thumbnail", 502, "hub_picture_refused"),
    ("{sha}/hub-pictures/first/thumbnail", 400, "invalid_parameter"),
    ("{sha}/hub-pictures/0/thumbnail?size=big", 400, "invalid_parameter"),
    ("{sha}/hub-pictures?all=1", 400, "invalid_parameter"),
    ("{other}/hub-pictures", 404, "not_found"),
    ("{other}/hub-pictures/0/thumbnail", 404, "not_found"),
    ("not-a-hash/hub-pictures", 400, "invalid_parameter"),
])
async def test_the_pictures_routes_refuse_clearly(
    stack: Stack, hub: FakeHub, client: TestClient, where: str, status: int, code: str
) -> None:
    sha256 = await found_model(client, stack, hub)
    reply = await client.get("/api/models/" + where.format(sha=sha256, other="ab" * 32))
    message = (await reply.json())["error"]["message"]
    assert await error_of(reply) == (status, code)
    assert "no model has SHA-256" in message if "{other}" in where else message


async def test_choosing_for_an_unknown_model_is_a_404(client: TestClient) -> None:
    reply = await client.put(f"/api/models/{'cd' * 32}/preview", json={"hub_picture": 0})
    assert await error_of(reply) == (404, "not_found")
    assert (await reply.json())["error"]["message"] == f"no model has SHA-256 {'cd' * 32}"
