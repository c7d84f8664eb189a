"""A model that moves keeps its identity: its record follows it, with its preview, often without a re-read."""

from __future__ import annotations

import hashlib
import os
import shutil

import asyncpg
from aiohttp.test_utils import TestClient

from tests.integration.conftest import Stack
from tests.integration.gateway_support import files_under, write_model, write_preview


async def _hashed_with_preview(stack: Stack, gateway: TestClient, relative: str, content: bytes) -> str:
    model = write_model(stack.model_root, relative, content)
    preview = write_preview(model.with_suffix(".png"))
    await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
    assert (await reply.json())["migrated"] is True
    return hashlib.sha256(content).hexdigest()


async def test_a_renamed_model_keeps_its_record_and_is_not_read_again(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    sha = await _hashed_with_preview(stack, gateway, "old/lora.safetensors", os.urandom(2 * 1024 * 1024))
    created = await db.fetchval("SELECT created_at FROM models")
    old, new = stack.model_root / "old/lora.safetensors", stack.model_root / "sorted/styles/lora.safetensors"
    new.parent.mkdir(parents=True)
    old.rename(new)
    computed = stack.hasher.files_hashed

    reply = await gateway.post("/api/models/sha256", json={"path": str(new), "pending_status": "pending"})
    assert await reply.json() == {
        "sha256": sha, "path": str(new), "cached": True, "migrated": False, "moved_from": str(old)
    }
    assert stack.hasher.files_hashed == computed
    rows = await db.fetch("SELECT path, image_key, created_at FROM models")
    assert [(r["path"], r["image_key"], r["created_at"]) for r in rows] == [(str(new), f"{sha}.webp", created)]
    assert files_under(stack.data_dir / "images") == [f"{sha}.webp"]


async def test_a_model_copied_elsewhere_and_deleted_is_read_then_keeps_its_record(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    sha = await _hashed_with_preview(stack, gateway, "disk1/ckpt.safetensors", b"moved across file systems")
    old, new = stack.model_root / "disk1/ckpt.safetensors", stack.model_root / "disk2/ckpt.safetensors"
    new.parent.mkdir()
    shutil.copy(old, new)  # a new inode, as a move between file systems gives
    old.unlink()

    body = await (await gateway.post("/api/models/sha256", json={"path": str(new)})).json()
    assert (body["sha256"], body["cached"], body["moved_from"]) == (sha, False, str(old))
    assert await db.fetchval("SELECT array_agg(path) FROM models") == [str(new)]
    assert await db.fetchval("SELECT image_key FROM models") == f"{sha}.webp"


async def test_a_copy_beside_its_original_gets_its_own_record_sharing_the_preview(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    sha = await _hashed_with_preview(stack, gateway, "a/vae.safetensors", b"duplicate content")
    original = stack.model_root / "a/vae.safetensors"
    hard_link, copy = stack.model_root / "b/vae.safetensors", stack.model_root / "c/vae.safetensors"
    hard_link.parent.mkdir()
    copy.parent.mkdir()
    os.link(original, hard_link)
    shutil.copy(original, copy)
    computed = stack.hasher.files_hashed

    linked = await (await gateway.post("/api/models/sha256", json={"path": str(hard_link)})).json()
    assert (linked["sha256"], linked["cached"], linked["moved_from"]) == (sha, True, None)
    assert stack.hasher.files_hashed == computed  # same inode: nothing read
    copied = await (await gateway.post("/api/models/sha256", json={"path": str(copy)})).json()
    assert (copied["sha256"], copied["cached"], copied["moved_from"]) == (sha, False, None)

    listed = await (await gateway.get(f"/api/models/{sha}")).json()
    assert [(f["path"], f["image_url"]) for f in listed["files"]] == [
        (str(path), f"/images/{sha}.webp") for path in (original, hard_link, copy)
    ]


async def test_ignore_answers_for_a_moved_file_without_touching_the_catalogue(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    sha = await _hashed_with_preview(stack, gateway, "x/m.safetensors", b"ignored move")
    old, new = stack.model_root / "x/m.safetensors", stack.model_root / "x/renamed.safetensors"
    old.rename(new)
    body = await (await gateway.post("/api/models/sha256", json={"path": str(new), "pending_status": "ignore"})).json()
    assert (body["sha256"], body["cached"], body["moved_from"]) == (sha, True, None)
    assert await db.fetchval("SELECT array_agg(path) FROM models") == [str(old)]
