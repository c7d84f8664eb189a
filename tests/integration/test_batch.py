"""Whole-library work over REST: scan the roots into the catalogue, then hash the pending queue."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

import asyncpg
from aiohttp.test_utils import TestClient

from backend.server.instance import create_app
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, files_under, write_model, write_preview


def _library(stack: Stack) -> dict[str, bytes]:
    contents = {
        "loras/ink.safetensors": b"ink lora",
        "loras/ink-copy.safetensors": b"ink lora",
        "ckpt/base.ckpt": b"a checkpoint",
        "vae/vae.gguf": b"a vae",
    }
    for relative, content in contents.items():
        write_model(stack.model_root, relative, content)
    write_preview(stack.model_root / "loras/ink.preview.png")
    (stack.model_root / "ckpt/base.png").write_bytes(b"not really a png")  # a broken side-car
    (stack.model_root / "loras/readme.txt").write_text("not a model")
    return contents


async def test_scan_registers_unknown_files_then_the_queue_hashes_them(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    contents = _library(stack)
    reply = await gateway.post("/api/models/scan", json={})
    assert reply.status == 200, await reply.text()
    report = await reply.json()
    assert (report["found"], report["registered"], report["unchanged"]) == (4, 4, 0)
    assert report["errors"] == [{"path": str(stack.model_root / "ckpt/base.png"), "code": "invalid_parameter",
                                 "message": report["errors"][0]["message"]}]
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 4
    assert files_under(stack.data_dir / "images") == ["pending/ink.webp"]

    reply = await gateway.post("/api/models/pending/hash", json={"limit": 10})
    done = await reply.json()
    assert reply.status == 200 and done["errors"] == [] and done["remaining"] == 0
    assert sorted((h["path"], h["sha256"]) for h in done["hashed"]) == sorted(
        (str(stack.model_root / rel), hashlib.sha256(content).hexdigest()) for rel, content in contents.items()
    )
    ink = hashlib.sha256(b"ink lora").hexdigest()
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert await db.fetchval("SELECT count(*) FROM models") == 4
    assert files_under(stack.data_dir / "images") == [f"{ink}.webp"]
    listed = await (await gateway.get(f"/api/models/{ink}")).json()
    assert {f["image_url"] for f in listed["files"]} == {f"/images/{ink}.webp"}

    rescan = await (await gateway.post("/api/models/scan", json={})).json()
    assert (rescan["found"], rescan["registered"], rescan["unchanged"]) == (4, 0, 4)


async def test_scan_reports_changed_files_and_recognises_moved_ones(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    _library(stack)
    await gateway.post("/api/models/scan", json={})
    await gateway.post("/api/models/pending/hash", json={})
    (stack.model_root / "vae/vae.gguf").write_bytes(b"a vae, retrained")
    (stack.model_root / "ckpt").rename(stack.model_root / "checkpoints")
    computed = stack.hasher.files_hashed

    report = await (await gateway.post("/api/models/scan", json={"progress": False})).json()
    assert report["changed"] == [str(stack.model_root / "vae/vae.gguf")]
    assert (report["recognised"], report["registered"]) == (1, 0)
    assert stack.hasher.files_hashed == computed  # nothing was read
    paths = {r["path"] for r in await db.fetch("SELECT path FROM models")}
    assert str(stack.model_root / "checkpoints/base.ckpt") in paths and len(paths) == 4


async def test_scan_of_one_folder_with_progress(stack: Stack, gateway: TestClient) -> None:
    _library(stack)
    reply = await gateway.post("/api/models/scan", json={"folder": str(stack.model_root / "loras"), "progress": True})
    lines = [json.loads(line) for line in (await reply.text()).splitlines()]
    # Progress comes per batch of files found, then once more with the total known.
    progress = [(line["progress"]["files_done"], line["progress"]["files_total"]) for line in lines[:-1]]
    assert progress == [(2, 0), (2, 2)]
    assert lines[-1]["found"] == 2 and lines[-1]["registered"] == 2
    assert await error_of(await gateway.post("/api/models/scan", json={"folder": "/etc"})) == (403, "permission_denied")


async def test_a_failing_file_is_reported_kept_and_set_aside(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    gone = write_model(stack.model_root, "gone.safetensors", b"soon deleted")
    kept = write_model(stack.model_root, "kept.safetensors", b"stays")
    for model in (gone, kept):
        await gateway.post("/api/models/pending", json={"path": str(model)})
    gone.unlink()

    done = await (await gateway.post("/api/models/pending/hash", json={})).json()
    assert [h["path"] for h in done["hashed"]] == [str(kept)]
    assert [(e["path"], e["code"]) for e in done["errors"]] == [(str(gone), "not_found")]
    # Still pending, but set aside for a while, not retried in a loop.
    assert (done["remaining"], done["set_aside"]) == (1, 1)
    pending = await (await gateway.get("/api/models/pending")).json()
    assert [(p["path"], p["last_error"].split(":")[0]) for p in pending["items"]] == [(str(gone), "not_found")]


async def test_two_gateways_share_the_queue_without_hashing_a_file_twice(
    stack: Stack, gateway: TestClient, aiohttp_client, db: asyncpg.Connection
) -> None:
    for index in range(12):
        model = write_model(stack.model_root, f"q/{index}.safetensors", os.urandom(2 * 1024 * 1024))
        await gateway.post("/api/models/pending", json={"path": str(model)})
    other = await aiohttp_client(create_app(stack.config()))
    replies = await asyncio.gather(*(g.post("/api/models/pending/hash", json={}) for g in (gateway, other)))
    reports = [await reply.json() for reply in replies]
    hashed = [h["path"] for report in reports for h in report["hashed"]]
    assert len(hashed) == len(set(hashed)) == 12
    assert await db.fetchval("SELECT count(*) FROM models") == 12
    assert stack.hasher.files_hashed == 12
