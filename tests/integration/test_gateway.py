"""The gateway against real PostgreSQL and real gRPC services: answers, rows and files on disk."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os

import asyncpg
from aiohttp.test_utils import TestClient
from PIL import Image

from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, files_under, write_model, write_preview
from tests.integration.hasher_support import frozen


async def test_register_then_hash_promotes_the_model_and_renames_its_preview(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    content = os.urandom(3 * 1024 * 1024 + 7)
    model = write_model(stack.model_root, "loras/style.safetensors", content)
    preview = write_preview(stack.model_root / "loras/style.preview.png", (640, 480))

    reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
    assert reply.status == 201, await reply.text()
    registered = await reply.json()
    assert registered["image_key"] == "pending/style.webp"
    assert files_under(stack.data_dir / "images") == ["pending/style.webp"]

    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
    assert reply.status == 200, await reply.text()
    sha = hashlib.sha256(content).hexdigest()
    assert await reply.json() == {
        "sha256": sha, "path": str(model), "cached": False, "migrated": True, "moved_from": None
    }

    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    row = await db.fetchrow("SELECT * FROM models")
    assert (row["path"], row["sha256"], row["size"], row["image_key"]) == (str(model), sha, len(content), f"{sha}.webp")
    assert files_under(stack.data_dir / "images") == [f"{sha}.webp"]

    image = await gateway.get(f"/images/{sha}.webp")
    assert image.status == 200 and image.content_type == "image/webp"
    with Image.open(io.BytesIO(await image.read())) as decoded:
        assert decoded.format == "WEBP" and decoded.size == (640, 480)
    etag = image.headers["ETag"]
    again = await gateway.get(f"/images/{sha}.webp", headers={"If-None-Match": etag})
    assert again.status == 304

    listed = await (await gateway.get(f"/api/models/{sha}")).json()
    assert [f["path"] for f in listed["files"]] == [str(model)]
    assert listed["files"][0]["image_url"] == f"/images/{sha}.webp"
    catalogue = await (await gateway.get("/api/models")).json()
    assert catalogue["total"] == 1 and catalogue["items"][0]["sha256"] == sha


async def test_ignore_hashes_without_touching_the_pending_record(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = write_model(stack.model_root, "a.ckpt", b"checkpoint bytes")
    preview = write_preview(stack.model_root / "a.png")
    registered = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
    assert registered.status == 201

    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "ignore"})
    assert reply.status == 200
    assert (await reply.json())["sha256"] == hashlib.sha256(b"checkpoint bytes").hexdigest()
    assert await db.fetchval("SELECT count(*) FROM models") == 0
    assert await db.fetchval("SELECT path FROM pending_models") == str(model)
    assert files_under(stack.data_dir / "images") == ["pending/a.webp"]


async def test_unchanged_file_is_answered_from_the_catalogue_and_a_changed_one_is_hashed_again(
    stack: Stack, gateway: TestClient
) -> None:
    model = write_model(stack.model_root, "m.gguf", b"first version")
    first = await (await gateway.post("/api/models/sha256", json={"path": str(model)})).json()
    assert first["cached"] is False and stack.hasher.files_hashed == 1
    second = await (await gateway.post("/api/models/sha256", json={"path": str(model)})).json()
    assert second == {**first, "cached": True} and stack.hasher.files_hashed == 1

    forced = await (await gateway.post("/api/models/sha256", json={"path": str(model), "force": True})).json()
    assert forced["cached"] is False and stack.hasher.files_hashed == 2

    model.write_bytes(b"second version, longer")
    changed = await (await gateway.post("/api/models/sha256", json={"path": str(model)})).json()
    assert changed["sha256"] == hashlib.sha256(b"second version, longer").hexdigest()
    assert changed["cached"] is False and stack.hasher.files_hashed == 3
    listed = await (await gateway.get("/api/models")).json()
    assert [item["sha256"] for item in listed["items"]] == [changed["sha256"]]


async def test_hasher_down_gives_503(stack: Stack, gateway: TestClient) -> None:
    model = write_model(stack.model_root, "x.safetensors", b"x")
    await stack.hasher.stop(grace=0)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model)})
    assert await error_of(reply) == (503, "unavailable")
    assert "hasher" in (await reply.json())["error"]["message"]


async def test_health_reports_every_part(gateway: TestClient) -> None:
    reply = await gateway.get("/api/health")
    assert reply.status == 200
    assert await reply.json() == {"status": "ok", "database": "ok", "hasher": "ok", "images": "ok"}


async def test_same_file_name_in_two_folders_gets_two_preview_keys(stack: Stack, gateway: TestClient) -> None:
    keys = []
    for folder, colour in (("one", "red"), ("two", "blue")):
        model = write_model(stack.model_root, f"{folder}/same.safetensors", folder.encode())
        preview = write_preview(stack.model_root / f"{folder}/same.png", colour=colour)
        reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
        assert reply.status == 201
        keys.append((await reply.json())["image_key"])
    assert keys[0] == "pending/same.webp" and keys[1].startswith("pending/same-") and keys[1] != keys[0]
    assert files_under(stack.data_dir / "images") == sorted(keys)
    listed = await (await gateway.get("/api/models/pending", params={"limit": "1", "offset": "1"})).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1


async def test_registering_twice_is_idempotent_and_an_active_model_cannot_be_pending(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = write_model(stack.model_root, "r.safetensors", b"r")
    assert (await gateway.post("/api/models/pending", json={"path": str(model)})).status == 201
    assert (await gateway.post("/api/models/pending", json={"path": str(model)})).status == 200
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 1
    await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
    again = await gateway.post("/api/models/pending", json={"path": str(model)})
    assert await error_of(again) == (409, "already_active")


async def test_query_parameters_are_accepted(stack: Stack, gateway: TestClient) -> None:
    model = write_model(stack.model_root, "f.bin", b"query")
    expected = hashlib.sha256(b"query").hexdigest()
    by_query = await gateway.post("/api/models/sha256", params={"path": str(model), "pending_status": "ignore"})
    assert (await by_query.json())["sha256"] == expected


def _part_read(lines: list[dict], size: int) -> bool:
    """Whether a progress line came while the file was neither unread nor read whole."""
    return any(0 < line.get("progress", {}).get("bytes_done", 0) < size for line in lines)


async def test_progress_streams_while_a_big_file_is_read(stack: Stack, gateway: TestClient) -> None:
    size = 256 * 1024 * 1024
    model = stack.model_root / "big.safetensors"
    with model.open("wb") as out:  # sparse: instant to create, a fraction of a second to read
        out.write(b"head")
        out.truncate(size)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "progress": True})
    assert reply.status == 200 and reply.content_type == "application/x-ndjson"
    lines = [json.loads(await reply.content.readline())]
    # The hasher's workers run in short slices, stopped in between, so that the stream's ticks (4 a second) land
    # while the file is part read, however fast this machine reads it.
    while not _part_read(lines, size) and "sha256" not in lines[-1]:
        with frozen(stack.hasher.servicer.pool.worker_pids()):
            lines.append(json.loads(await reply.content.readline()))
        await asyncio.sleep(0.02)
    lines += [json.loads(line) for line in (await reply.text()).splitlines()]
    assert _part_read(lines, size), lines
    progress = [line["progress"] for line in lines[:-1]]
    assert progress[0] == {"bytes_done": 0, "bytes_total": size}  # sent before any byte is read
    assert all(p["bytes_total"] == size for p in progress)
    assert [p["bytes_done"] for p in progress] == sorted(p["bytes_done"] for p in progress)
    with model.open("rb") as content:
        assert lines[-1]["sha256"] == hashlib.file_digest(content, "sha256").hexdigest()

    cached = await gateway.post("/api/models/sha256", json={"path": str(model), "progress": True})
    assert [json.loads(line)["cached"] for line in (await cached.text()).splitlines()] == [True]
    missing = await gateway.post("/api/models/sha256", json={"path": str(stack.model_root / "nope"), "progress": True})
    assert await error_of(missing) == (404, "not_found")


async def test_an_error_after_progress_began_is_the_streams_last_line(stack: Stack, gateway: TestClient) -> None:
    model = stack.model_root / "slow.safetensors"
    with model.open("wb") as out:  # sparse, and long enough to take seconds: the change lands mid-file
        out.truncate(8 * 1024 * 1024 * 1024)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "progress": True})
    assert reply.status == 200
    first = json.loads(await reply.content.readline())
    assert first == {"progress": {"bytes_done": 0, "bytes_total": 8 * 1024 * 1024 * 1024}}
    # The hasher answered the first line before reading: its worker is busy with this file now.
    os.truncate(model, 1024)

    lines = [json.loads(line) for line in (await reply.text()).splitlines()]
    assert lines[-1] == {"error": {"code": "aborted", "message": lines[-1]["error"]["message"]}}
    assert "changed" in lines[-1]["error"]["message"]
    assert all("progress" in line for line in lines[:-1])
