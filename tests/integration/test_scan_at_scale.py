"""The scan at library scale: batches, a rescan that writes nothing, names that are not UTF-8, missing files."""

from __future__ import annotations

import hashlib
import os
import shutil

import asyncpg
from aiohttp.test_utils import TestClient

from backend.database.migration.shadow_tree.synthetic import build_synthetic_tree
from tests.integration.conftest import Stack
from tests.integration.gateway_support import files_under, write_model, write_preview


async def _scan(gateway: TestClient, **body) -> dict:
    reply = await gateway.post("/api/models/scan", json=body)
    assert reply.status == 200, await reply.text()
    return await reply.json()


async def _row_versions(db: asyncpg.Connection) -> list[tuple]:
    """Every row's physical version: an UPDATE, DELETE or INSERT anywhere changes this list."""
    rows = await db.fetch("""SELECT 'active' AS t, path, xmin::text, ctid::text FROM models
                             UNION ALL SELECT 'pending', path, xmin::text, ctid::text FROM pending_models
                             ORDER BY 1, 2""")
    return [tuple(row) for row in rows]


async def test_a_library_of_several_batches_is_registered_with_its_previews(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    made = build_synthetic_tree(stack.model_root / "synthetic", 1200, preview_percent=2, per_folder=400)
    # The same file name in two folders: both are registered, each with a preview name of its own.
    for folder in ("a", "b"):
        write_model(stack.model_root, f"{folder}/twin.safetensors", b"")
        write_preview(stack.model_root / f"{folder}/twin.preview.png", colour="blue" if folder == "a" else "green")

    report = await _scan(gateway)
    assert (report["found"], report["registered"], report["errors"]) == (1202, 1202, [])
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 1202
    keys = await db.fetch("SELECT path, image_key FROM pending_models WHERE name = 'twin' ORDER BY path")
    assert keys[0]["image_key"] == "pending/twin.webp" and keys[1]["image_key"].startswith("pending/twin-")
    previews = files_under(stack.data_dir / "images" / "pending")
    assert len(previews) == made.previews + 2 and {"twin.webp", keys[1]["image_key"][8:]} <= set(previews)


async def test_a_rescan_with_nothing_changed_reads_nothing_and_writes_nothing(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    for index in range(30):
        write_model(stack.model_root, f"lib/{index:02d}.safetensors", f"model {index}".encode())
    write_preview(stack.model_root / "lib/00.preview.png")
    await _scan(gateway)
    await gateway.post("/api/models/pending/hash", json={"limit": 10})  # some active, some still pending
    before, reads = await _row_versions(db), stack.hasher.files_hashed
    assert reads == 10

    report = await _scan(gateway)
    assert (report["found"], report["unchanged"], report["already_pending"], report["registered"]) == (30, 10, 20, 0)
    assert (report["missing"], report["changed"], report["errors"]) == (0, [], [])
    assert await _row_versions(db) == before
    assert stack.hasher.files_hashed == reads


async def test_a_name_that_is_not_utf8_is_reported_and_the_rest_is_catalogued(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    write_model(stack.model_root, "good.safetensors", b"fine")
    root = os.fsencode(stack.model_root)
    with open(root + b"/caf\xe9.safetensors", "wb") as latin1:
        latin1.write(b"latin-1 name")
    os.mkdir(root + b"/d\xefr")
    with open(root + b"/d\xefr/inside.safetensors", "wb") as inside:
        inside.write(b"in a latin-1 folder")

    report = await _scan(gateway)
    assert (report["found"], report["registered"]) == (1, 1)
    assert sorted((e["path"], e["code"]) for e in report["errors"]) == [
        (f"{stack.model_root}/caf\\xe9.safetensors", "invalid_file_name"),
        (f"{stack.model_root}/d\\xefr", "invalid_file_name"),
    ]
    assert [r["path"] for r in await db.fetch("SELECT path FROM pending_models")] == [
        str(stack.model_root / "good.safetensors")]


async def test_missing_files_are_reported_and_pruned_on_request(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    original = write_model(stack.model_root, "loras/ink.safetensors", b"ink")
    write_preview(stack.model_root / "loras/ink.preview.png")
    copy = write_model(stack.model_root, "backup/ink.safetensors", b"ink")
    waiting = write_model(stack.model_root, "loras/new.safetensors", b"not hashed yet")
    write_preview(stack.model_root / "loras/new.preview.png")
    other = write_model(stack.model_root, "other/kept.safetensors", b"elsewhere")
    await _scan(gateway)
    for path in (original, copy, other):
        await gateway.post("/api/models/sha256", json={"path": str(path)})
    ink = hashlib.sha256(b"ink").hexdigest()
    assert files_under(stack.data_dir / "images") == [f"{ink}.webp", "pending/new.webp"]
    original.unlink()
    waiting.unlink()
    shutil.rmtree(stack.model_root / "other")

    loras = await _scan(gateway, folder=str(stack.model_root / "loras"))
    # The active record stays until pruned (its disk may be away); the pending one has nothing to keep.
    assert (loras["missing"], loras["missing_paths"], loras["pruned"]) == (1, [str(original)], 0)
    assert loras["pending_removed"] == 1
    assert await db.fetchval("SELECT count(*) FROM models") == 3
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert files_under(stack.data_dir / "images") == [f"{ink}.webp"]  # the pending one's preview had no one left

    pruned = await _scan(gateway, folder=str(stack.model_root / "loras"), prune=True)
    assert (pruned["missing"], pruned["pruned"], pruned["pending_removed"]) == (1, 1, 0)
    assert sorted(r["path"] for r in await db.fetch("SELECT path FROM models")) == [str(copy), str(other)]
    # The copy still shows the preview of that content.
    assert files_under(stack.data_dir / "images") == [f"{ink}.webp"]

    copy.unlink()
    everything = await _scan(gateway, prune=True)
    assert (everything["missing_paths"], everything["pruned"]) == ([str(copy), str(other)], 2)
    assert await db.fetchval("SELECT count(*) FROM models") == 0
    assert files_under(stack.data_dir / "images") == []


async def test_a_record_outside_the_walk_but_on_disk_is_not_missing(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    hidden = write_model(stack.model_root, ".cache/hidden.safetensors", b"hidden but real")
    reply = await gateway.post("/api/models/sha256", json={"path": str(hidden)})
    assert reply.status == 200

    report = await _scan(gateway, prune=True)
    assert (report["found"], report["missing"], report["pruned"]) == (0, 0, 0)
    assert await db.fetchval("SELECT count(*) FROM models") == 1
