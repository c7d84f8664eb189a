"""Dev mode on a shadow tree: the whole register → hash → migrate flow without reading model files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient
from PIL import Image

from backend.database.migration.shadow_tree.cli import main
from backend.database.migration.shadow_tree.mirror import build_shadow_tree
from backend.server.instance import create_app
from services.hasher.server import build_service
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import files_under


def _real_tree(root: Path) -> None:
    (root / "loras/style").mkdir(parents=True)
    (root / "loras/style/ink.safetensors").write_bytes(os.urandom(4096))
    Image.new("RGB", (300, 200), "green").save(root / "loras/style/ink.preview.png")
    (root / "ckpt.ckpt").write_bytes(b"checkpoint")
    (root / "ckpt.safetensors").write_bytes(b"same stem, other format")
    (root / "notes.txt").write_text("not a model")


def test_shadow_tree_mirrors_folders_with_empty_stand_ins_and_real_previews(tmp_path: Path) -> None:
    source, dest = tmp_path / "real", tmp_path / "shadow"
    _real_tree(source)
    assert main([str(source), "--dest", str(dest)]) == 0
    assert files_under(dest) == [
        "loras/style/shadow_ink.preview.png",
        "loras/style/shadow_ink.safetensors",
        "shadow_ckpt.ckpt.safetensors",
        "shadow_ckpt.safetensors",
    ]
    assert (dest / "loras/style/shadow_ink.safetensors").stat().st_size == 0
    copied = (dest / "loras/style/shadow_ink.preview.png").read_bytes()
    assert copied == (source / "loras/style/ink.preview.png").read_bytes()
    assert build_shadow_tree(source, dest).models == 3  # running it again is harmless
    assert main([str(source), "--dest", str(source / "inside")]) == 1


async def test_register_hash_migrate_on_a_shadow_tree(
    stack: Stack, aiohttp_client, db: asyncpg.Connection, tmp_path: Path
) -> None:
    _real_tree(tmp_path / "real")
    build_shadow_tree(tmp_path / "real", stack.model_root)
    gateway: TestClient = await aiohttp_client(create_app(stack.config(MODELVAULT_DEV="1")))
    # The hasher must run in dev mode too: restart it with the dev config on the same port.
    await stack.hasher.stop(grace=0)
    listen = f"127.0.0.1:{stack.hasher.port}"
    stack.hasher = build_service(stack.config(MODELVAULT_DEV="1", MODELVAULT_HASHER_LISTEN=listen))
    await stack.hasher.start()

    model = stack.model_root / "loras/style/shadow_ink.safetensors"
    preview = stack.model_root / "loras/style/shadow_ink.preview.png"
    registered = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
    assert registered.status == 201

    async def answered():  # the gateway's channel reconnects to the restarted hasher
        reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
        return reply if reply.status != 503 else None

    reply = await eventually(answered, what="an answer from the restarted hasher")
    body = await reply.json()
    expected = hashlib.sha256(b"loras/style/shadow_ink.safetensors").hexdigest()
    assert reply.status == 200 and body["sha256"] == expected and body["migrated"] is True
    assert files_under(stack.data_dir / "images") == [f"{expected}.webp"]

    # A touched shadow file is "changed": the hasher answers with the hash the catalogue holds for it.
    held = "ab" * 32
    await db.execute("UPDATE models SET sha256 = $1 WHERE path = $2", held, str(model))
    os.utime(model, ns=(1, 1))
    again = await (await gateway.post("/api/models/sha256", json={"path": str(model)})).json()
    assert again["sha256"] == held and again["cached"] is False
