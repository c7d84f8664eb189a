"""The catalogue stays true while files change: a replaced model is hashed again, a file still being written is
never promoted half-written, a root made again is watched again, and pending files that move or vanish
leave no ghost behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import files_under, write_model, write_preview
from tests.integration.hasher_support import frozen
from tests.integration.jobs_helpers import finished

MiB = 1024 * 1024


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _replace(path: Path, content: bytes) -> None:
    """A new version moved over the old one, as a download manager or `mv` does: a new inode and size."""
    fresh = path.with_name(path.name + ".part")
    fresh.write_bytes(content)
    os.replace(fresh, path)


async def _models(gateway: TestClient) -> dict[str, dict]:
    body = await (await gateway.get("/api/models")).json()
    return {item["path"]: item for item in body["items"]}


async def _job(gateway: TestClient, kind: str, **body) -> dict:
    reply = await gateway.post("/api/jobs", json={"kind": kind, **body})
    assert reply.status == 202, await reply.text()
    return await finished(gateway, (await reply.json())["id"])


async def test_a_replaced_model_is_shown_as_changed_then_hashed_again_keeping_its_preview(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = write_model(stack.model_root, "loras/ink.safetensors", b"ink v1")
    write_preview(stack.model_root / "loras/ink.preview.png")
    await _job(gateway, "scan")
    await _job(gateway, "hash")
    before = (await _models(gateway))[str(model)]
    old_sha = _sha(b"ink v1")
    assert (before["state"], before["sha256"], before["image_key"]) == ("active", old_sha, f"{old_sha}.webp")
    created = before["created_at"]

    _replace(model, b"ink v2, retrained longer")
    scan = await _job(gateway, "scan")
    assert scan["result"]["changed"] == [str(model)] and scan["result"]["changed_count"] == 1
    changed = (await _models(gateway))[str(model)]
    # Never the old hash as the current one: it is the previous one until the file is hashed again.
    assert (changed["state"], changed["sha256"], changed["previous_sha256"]) == ("changed", None, _sha(b"ink v1"))
    assert await db.fetchval("SELECT count(*) FROM pending_models WHERE path = $1", str(model)) == 1
    again = await _job(gateway, "scan")  # a second scan queues it once
    assert again["result"]["changed"] == [str(model)]
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 1

    hashed = await _job(gateway, "hash")
    assert (hashed["state"], hashed["files_done"]) == ("done", 1)
    after = (await _models(gateway))[str(model)]
    new_sha = _sha(b"ink v2, retrained longer")
    assert (after["state"], after["sha256"], after["previous_sha256"]) == ("active", new_sha, None)
    assert (after["size"], after["created_at"]) == (len(b"ink v2, retrained longer"), created)
    assert after["image_key"] == f"{new_sha}.webp"  # the preview stayed, under the new content's name
    assert f"{new_sha}.webp" in files_under(stack.data_dir / "images")
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert (await (await gateway.get(f"/api/models/{new_sha}")).json())["files"][0]["path"] == str(model)


async def test_a_file_changed_since_its_hash_is_not_listed_among_duplicates(
    stack: Stack, gateway: TestClient
) -> None:
    first = write_model(stack.model_root, "a.safetensors", b"same bytes")
    write_model(stack.model_root, "b.safetensors", b"same bytes")
    await _job(gateway, "scan")
    await _job(gateway, "hash")
    assert (await (await gateway.get("/api/models/duplicates")).json())["total_groups"] == 1
    _replace(first, b"other bytes now")
    await _job(gateway, "scan")
    assert (await (await gateway.get("/api/models/duplicates")).json())["total_groups"] == 0


async def test_a_file_found_still_settling_waits_and_an_old_one_is_hashed_at_once(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_SETTLE_S="3600"))
    fresh = write_model(stack.model_root, "fresh.safetensors", b"written a moment ago")
    old = write_model(stack.model_root, "old.safetensors", b"copied with its date kept")
    an_hour_ago = time.time() - 3600 - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    await _job(gateway, "scan")

    hashed = await _job(gateway, "hash")
    assert (hashed["state"], [h["path"] for h in hashed["result"]["hashed"]]) == ("done", [str(old)])
    assert set(await _models(gateway)) == {str(old)}
    assert await db.fetchval("SELECT settle_until > now() + interval '50 minutes' FROM pending_models WHERE path = $1",
                             str(fresh))


async def test_a_file_that_changes_while_it_is_read_waits_to_settle_instead_of_failing(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_SETTLE_S="600"))
    model = write_model(stack.model_root, "appended.safetensors", b"the first part")
    an_hour_ago = time.time() - 3600 - 60
    os.utime(model, (an_hour_ago, an_hour_ago))  # settled by its date: the job takes it at once
    await _job(gateway, "scan")
    # Stopped workers: the file is in the hasher's hands, not read yet, when the writer goes on.
    with frozen(stack.hasher.servicer.pool.worker_pids()):
        reply = await gateway.post("/api/jobs", json={"kind": "hash"})
        await eventually(lambda: stack.hasher.servicer.reads_in_flight == 1, what="the file to be handed over")
        with open(model, "ab") as out:
            out.write(b" and the rest")
    done = await finished(gateway, (await reply.json())["id"])
    assert (done["state"], done["errors"], done["result"]["changed_while_read"]) == ("done", 0, 1)
    row = await db.fetchrow("SELECT last_error, claimed_by, settle_until > now() + interval '25 minutes' AS waits"
                            " FROM pending_models WHERE path = $1", str(model))
    assert (row["last_error"], row["claimed_by"], row["waits"]) == (None, None, True)
    assert await _models(gateway) == {}


async def test_a_file_written_slowly_into_a_watched_folder_is_catalogued_once_whole(
    stack: Stack, aiohttp_client, db: asyncpg.Connection
) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1", MODELVAULT_SETTLE_S="2"))
    await eventually(lambda: _jobs_of(gateway, "hash"), 30, what="the start-up scan and hash")
    jobs_before = len(await _jobs_of(gateway, "scan"))
    target = stack.model_root / "checkpoints" / "big.safetensors"
    target.parent.mkdir()
    chunks = [os.urandom(256 * 1024) for _ in range(24)]
    promoted_while_written: list[int] = []
    with open(target, "wb") as out:
        for chunk in chunks:  # 6 MiB at a steady 2.5 MiB/s, as a slow copy writes it
            out.write(chunk)
            out.flush()
            await asyncio.sleep(0.1)
            size = await db.fetchval("SELECT size FROM models WHERE path = $1", str(target))
            if size is not None:
                promoted_while_written.append(size)
    whole = b"".join(chunks)

    async def catalogued_whole() -> dict | None:
        item = (await _models(gateway)).get(str(target))
        return item if item and item["state"] == "active" and item["sha256"] == _sha(whole) else None
    item = await eventually(catalogued_whole, 60, what="the whole file to be catalogued")
    assert promoted_while_written == [], "a file still being written was promoted"
    assert item["size"] == len(whole)
    # The burst of changes was one scan (or two if the machine stalled the writer), not one a second.
    assert len(await _jobs_of(gateway, "scan")) - jobs_before <= 2


async def test_a_model_replaced_in_a_watched_folder_is_hashed_again(stack: Stack, aiohttp_client) -> None:
    model = write_model(stack.model_root, "vae/vae.safetensors", b"vae v1")
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1"))

    async def has_hash(sha: str) -> bool:
        item = (await _models(gateway)).get(str(model))
        return item is not None and item["sha256"] == sha
    await eventually(lambda: has_hash(_sha(b"vae v1")), 30, what="the start-up scan and hash")
    _replace(model, b"vae v2")
    await eventually(lambda: has_hash(_sha(b"vae v2")), 30, what="the replaced model to be hashed again")


async def test_a_root_deleted_and_made_again_is_watched_again(stack: Stack, aiohttp_client) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1"))
    await eventually(lambda: _jobs_of(gateway, "hash"), 30, what="the start-up scan and hash")
    shutil.rmtree(stack.model_root)
    await asyncio.sleep(1.5)  # the watcher sees the root gone (it looks every second); the test holds no timing
    stack.model_root.mkdir()
    model = write_model(stack.model_root, "later.safetensors", b"copied into the new root")

    async def catalogued() -> bool:
        return str(model) in await _models(gateway)
    await eventually(catalogued, 30, what="a model in the root made again to be catalogued")
    newer = write_model(stack.model_root, "newer.safetensors", b"and one more, watched")

    async def also() -> bool:
        return str(newer) in await _models(gateway)
    await eventually(also, 30, what="a later model in that root to be catalogued")


async def test_pending_files_moved_or_deleted_leave_no_ghost_rows(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    paths = [write_model(stack.model_root, f"incoming/m{i}.safetensors", f"model {i}".encode()) for i in range(6)]
    write_preview(stack.model_root / "incoming/m0.preview.png")
    await _job(gateway, "scan")
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 6
    (stack.model_root / "sorted").mkdir()
    for path in paths[:3]:
        path.rename(stack.model_root / "sorted" / path.name)
    paths[3].unlink()
    (stack.model_root / "incoming/m0.preview.png").unlink()

    scan = await _job(gateway, "scan")
    assert scan["result"]["pending_removed"] == 4 and scan["result"]["missing"] == 0
    pending = sorted(await db.fetchval("SELECT array_agg(path) FROM pending_models"))
    moved = [str(stack.model_root / "sorted" / p.name) for p in paths[:3]]
    assert pending == sorted(moved + [str(p) for p in paths[4:]])
    assert files_under(stack.data_dir / "images") == []  # the moved-away preview went with its row
    hashed = await _job(gateway, "hash")
    assert (hashed["state"], hashed["files_done"], hashed["errors"]) == ("done", 5, 0)


async def _jobs_of(gateway: TestClient, kind: str) -> list[dict]:
    items = (await (await gateway.get("/api/jobs")).json())["items"]
    return [job for job in items if job["kind"] == kind]
