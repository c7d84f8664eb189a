"""Previews follow the files: a side-car picture added, replaced or removed beside a catalogued model changes its
preview at the next scan (and so through the watcher); one whose compression failed is tried again; a person's
own picture wins until removed, and a bad one changes nothing."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from aiohttp.test_utils import TestClient
from PIL import Image

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import files_under, write_model, write_preview
from tests.integration.jobs_helpers import finished


async def _job(gateway: TestClient, kind: str, **body) -> dict:
    reply = await gateway.post("/api/jobs", json={"kind": kind, **body})
    assert reply.status == 202, await reply.text()
    return await finished(gateway, (await reply.json())["id"])


async def _model(gateway: TestClient, path: Path) -> dict:
    items = (await (await gateway.get("/api/models")).json())["items"]
    return next(item for item in items if item["path"] == str(path))


async def _shown_size(gateway: TestClient, model: dict) -> tuple[int, int] | None:
    """The size of the picture the model's card would show, or None when it shows none."""
    if model["image_url"] is None:
        return None
    reply = await gateway.get(model["image_url"])
    assert reply.status == 200
    return Image.open(io.BytesIO(await reply.read())).size


async def _catalogued(gateway: TestClient, root: Path, relative: str, content: bytes) -> tuple[Path, str]:
    path = write_model(root, relative, content)
    await _job(gateway, "scan")
    await _job(gateway, "hash")
    return path, hashlib.sha256(content).hexdigest()


def _png(size: tuple[int, int], colour: str = "blue") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


async def test_a_picture_added_replaced_then_removed_beside_a_model_is_followed_by_each_rescan(
    stack: Stack, gateway: TestClient
) -> None:
    model, sha = await _catalogued(gateway, stack.model_root, "loras/ink.safetensors", b"ink")
    assert (await _model(gateway, model))["image_url"] is None

    write_preview(stack.model_root / "loras/ink.preview.png", (64, 48))
    scan = await _job(gateway, "scan")
    assert scan["result"]["previews_changed"] == 1 and scan["result"]["unchanged"] == 1
    added = await _model(gateway, model)
    assert added["image_key"] == f"{sha}.webp" and await _shown_size(gateway, added) == (64, 48)

    again = await _job(gateway, "scan")  # nothing changed: nothing compressed again
    assert again["result"]["previews_changed"] == 0

    picture = stack.model_root / "loras/ink.preview.png"
    write_preview(picture, (40, 30), "green")
    os.utime(picture, ns=(1_700_000_000_000_000_000,) * 2)  # another mtime, whatever the clock's resolution
    assert (await _job(gateway, "scan"))["result"]["previews_changed"] == 1
    replaced = await _model(gateway, model)
    assert await _shown_size(gateway, replaced) == (40, 30)
    assert replaced["image_url"] != added["image_url"]  # a new address: the old one is cached as immutable

    picture.unlink()
    assert (await _job(gateway, "scan"))["result"]["previews_changed"] == 1
    removed = await _model(gateway, model)
    assert (removed["image_key"], removed["image_url"]) == (None, None)
    assert f"{sha}.webp" not in files_under(stack.data_dir / "images")


async def test_a_preview_that_failed_to_compress_while_the_image_service_was_down_comes_with_the_next_scan(
    stack: Stack, gateway: TestClient
) -> None:
    write_model(stack.model_root, "sd/base.safetensors", b"base")
    write_preview(stack.model_root / "sd/base.png", (32, 32))
    await stack.images.stop(grace=0)
    await _job(gateway, "scan")
    await _job(gateway, "hash")
    await stack.restart_images()
    model = await _model(gateway, stack.model_root / "sd/base.safetensors")
    assert model["image_url"] is None


    async def images_back() -> bool:  # the channel reconnects with a short backoff
        return (await (await gateway.get("/api/health")).json())["images"] == "ok"

    await eventually(images_back, what="the image service answering again")
    rescan = await _job(gateway, "scan")
    assert rescan["result"]["previews_changed"] == 1, rescan["result"]
    assert await _shown_size(gateway, await _model(gateway, stack.model_root / "sd/base.safetensors")) == (32, 32)


async def test_a_persons_preview_wins_over_the_side_car_until_removed(stack: Stack, gateway: TestClient) -> None:
    model, sha = await _catalogued(gateway, stack.model_root, "loras/ink.safetensors", b"ink")
    write_preview(stack.model_root / "loras/ink.preview.png", (64, 48))
    await _job(gateway, "scan")

    async def own_preview() -> bool:
        return (await (await gateway.get(f"/api/models/{sha}")).json())["own_preview"]

    assert not await own_preview()  # the side-car's
    put = await gateway.put(f"/api/models/{sha}/preview", data=_png((20, 10)), headers={"Content-Type": "image/png"})
    assert put.status == 200, await put.text()
    assert (await put.json())["source"] == "you" and await own_preview()
    assert await _shown_size(gateway, await _model(gateway, model)) == (20, 10)

    picture = stack.model_root / "loras/ink.preview.png"
    write_preview(picture, (50, 50))
    os.utime(picture, ns=(1_700_000_000_000_000_000,) * 2)
    assert (await _job(gateway, "scan"))["result"]["previews_changed"] == 0
    assert await _shown_size(gateway, await _model(gateway, model)) == (20, 10)  # still the person's

    deleted = await gateway.delete(f"/api/models/{sha}/preview")
    assert deleted.status == 200, await deleted.text()
    assert await _shown_size(gateway, await _model(gateway, model)) == (50, 50)  # the side-car's again
    assert not await own_preview()
    again = await gateway.delete(f"/api/models/{sha}/preview")
    assert again.status == 404 and (await again.json())["error"]["code"] == "no_preview_set"


async def test_without_a_side_car_removing_a_persons_preview_leaves_none(stack: Stack, gateway: TestClient) -> None:
    model, sha = await _catalogued(gateway, stack.model_root, "vae/v.safetensors", b"vae")
    put = await gateway.put(f"/api/models/{sha}/preview", data=_png((12, 12)), headers={"Content-Type": "image/png"})
    assert put.status == 200
    assert await _shown_size(gateway, await _model(gateway, model)) == (12, 12)
    assert (await gateway.delete(f"/api/models/{sha}/preview")).status == 200
    assert (await _model(gateway, model))["image_url"] is None
    assert f"{sha}.webp" not in files_under(stack.data_dir / "images")


def _bomb() -> bytes:
    """A PNG that says it is 20,000 × 20,000 pixels: far over what the image service decodes."""
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")
    return out.getvalue()


async def test_bad_uploads_are_refused_with_a_clear_error_and_change_nothing(stack: Stack, gateway: TestClient) -> None:
    model, sha = await _catalogued(gateway, stack.model_root, "loras/ink.safetensors", b"ink")
    write_preview(stack.model_root / "loras/ink.preview.png", (64, 48))
    await _job(gateway, "scan")
    before = await _model(gateway, model)
    images_before = files_under(stack.data_dir / "images")

    cases = [
        (b"not a picture at all", "image/png", 400),
        (b"\x89PNG" + b"\0" * (3 * 1024 * 1024), "image/png", 413),
        (_bomb(), "image/png", 400),
        (_png((8, 8)), "text/plain", 415),
    ]
    for body, content_type, status in cases:
        reply = await gateway.put(f"/api/models/{sha}/preview", data=io.BytesIO(body),
                                  headers={"Content-Type": content_type})
        error = (await reply.json())["error"]
        assert reply.status == status, (content_type, status, error)
        assert error["message"]
    unknown = await gateway.put(f"/api/models/{'0' * 64}/preview", data=_png((8, 8)),
                                headers={"Content-Type": "image/png"})
    assert unknown.status == 404
    assert (await gateway.put("/api/models/nothex/preview", data=_png((8, 8)),
                              headers={"Content-Type": "image/png"})).status == 400
    after = await _model(gateway, model)
    assert (after["image_url"], await _shown_size(gateway, after)) == (before["image_url"], (64, 48))
    assert files_under(stack.data_dir / "images") == images_before


async def test_the_watcher_shows_a_picture_dropped_beside_a_catalogued_model(stack: Stack, aiohttp_client) -> None:
    model = write_model(stack.model_root, "loras/ink.safetensors", b"ink")
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1", MODELVAULT_SETTLE_S="0"))

    async def shown() -> tuple[int, int] | None:
        items = (await (await gateway.get("/api/models")).json())["items"]
        return await _shown_size(gateway, items[0]) if items else None

    async def catalogued() -> bool:
        return bool((await (await gateway.get("/api/models")).json())["items"])

    await eventually(catalogued, timeout=30, what="the start-up scan and hash")
    assert await shown() is None
    write_preview(model.with_name("ink.preview.png"), (24, 16))
    assert await eventually(shown, timeout=30, what="the dropped picture as the model's preview") == (24, 16)


async def test_a_model_that_is_gone_leaves_no_note_of_its_picture(stack: Stack, gateway: TestClient, db) -> None:
    model = write_model(stack.model_root, "loras/gone.safetensors", b"gone")
    write_preview(stack.model_root / "loras/gone.preview.png")
    await _job(gateway, "scan")
    await _job(gateway, "hash")
    assert await db.fetchval("SELECT count(*) FROM sidecar_previews") == 1
    model.unlink()
    await _job(gateway, "scan", prune=True)
    assert await db.fetchval("SELECT count(*) FROM sidecar_previews") == 0


async def test_a_picture_replaced_beside_a_file_not_hashed_yet_is_its_preview_and_goes_with_its_promotion(
    stack: Stack, gateway: TestClient
) -> None:
    model = write_model(stack.model_root, "sd/slow.safetensors", b"slow")
    picture = write_preview(stack.model_root / "sd/slow.png", (16, 16))
    await _job(gateway, "scan")

    async def pending_size() -> tuple[int, int] | None:
        item = (await (await gateway.get("/api/models/pending")).json())["items"][0]
        return await _shown_size(gateway, item)

    assert await pending_size() == (16, 16)
    write_preview(picture, (48, 24))
    os.utime(picture, ns=(1_700_000_000_000_000_000,) * 2)
    assert (await _job(gateway, "scan"))["result"]["previews_changed"] == 1
    assert await pending_size() == (48, 24)
    await _job(gateway, "hash")
    assert await _shown_size(gateway, await _model(gateway, model)) == (48, 24)
