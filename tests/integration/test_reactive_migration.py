"""Reactive migration survives a crash between any two of its steps: the next request or start-up completes it."""

from __future__ import annotations

import hashlib
import os
import time

import asyncpg
from aiohttp.test_utils import TestClient

from backend.server import keys
from backend.server.instance import create_app
from backend.server.sweep import sweep_orphan_previews
from tests.integration.conftest import Stack
from tests.integration.test_gateway import files_under, write_model, write_preview


async def _register(gateway: TestClient, stack: Stack, name: str, content: bytes) -> tuple[str, str]:
    model = write_model(stack.model_root, f"{name}.safetensors", content)
    preview = write_preview(stack.model_root / f"{name}.png")
    reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
    assert reply.status == 201
    return str(model), hashlib.sha256(content).hexdigest()


async def test_crash_after_the_link_is_completed_by_the_next_request(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    path, sha = await _register(gateway, stack, "linked", b"linked before the crash")
    images = stack.data_dir / "images"
    os.link(images / "pending/linked.webp", images / f"{sha}.webp")  # step 1 done, then the crash

    reply = await gateway.post("/api/models/sha256", json={"path": path, "pending_status": "pending"})
    assert reply.status == 200 and (await reply.json())["migrated"] is True
    assert await db.fetchval("SELECT image_key FROM models WHERE path = $1", path) == f"{sha}.webp"
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert files_under(images) == [f"{sha}.webp"]


async def test_crash_after_the_commit_leaves_an_orphan_that_the_start_up_sweep_deletes(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, aiohttp_client
) -> None:
    path, sha = await _register(gateway, stack, "committed", b"committed before the crash")
    images = stack.data_dir / "images"
    # Steps 1 and 2 done, step 3 (delete the pending preview) lost in the crash.
    os.link(images / "pending/committed.webp", images / f"{sha}.webp")
    async with db.transaction():
        await db.execute(
            """INSERT INTO models (path, sha256, size, mtime_ns, inode, device, image_key)
               VALUES ($1, $2, 1, 1, 1, 1, $3)""",
            path, sha, f"{sha}.webp",
        )
        await db.execute("DELETE FROM pending_models WHERE path = $1", path)
    orphan = images / "pending/committed.webp"
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    # A young pending preview with a row, and a young one without (a registration in flight): both stay.
    await _register(gateway, stack, "young", b"registered just now")
    in_flight = images / "pending/in-flight.webp"
    in_flight.write_bytes(b"RIFF")

    restarted = await aiohttp_client(create_app(stack.config()))
    for _ in range(50):
        if not orphan.exists():
            break
        await restarted.get("/api/health")
    assert files_under(images) == sorted([f"{sha}.webp", "pending/in-flight.webp", "pending/young.webp"])


async def test_sweep_keeps_every_referenced_preview(stack: Stack, gateway: TestClient) -> None:
    await _register(gateway, stack, "kept", b"kept")
    kept = stack.data_dir / "images/pending/kept.webp"
    old = time.time() - 3600
    os.utime(kept, (old, old))
    app = gateway.app
    assert await sweep_orphan_previews(app[keys.POOL], app[keys.IMAGES], stack.data_dir / "images") == []
    assert kept.exists()


async def test_a_pending_model_without_preview_still_migrates(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = write_model(stack.model_root, "bare.safetensors", b"no preview")
    assert (await gateway.post("/api/models/pending", json={"path": str(model)})).status == 201
    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
    assert reply.status == 200 and (await reply.json())["migrated"] is True
    assert await db.fetchval("SELECT image_key FROM models WHERE path = $1", str(model)) is None
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    listed = await (await gateway.get("/api/models")).json()
    assert listed["items"][0]["image_url"] is None
