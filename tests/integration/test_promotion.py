"""The crash protocol of migration/promotion.py: each invariant it lists, one file or a batch, crashes, the sweep."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from backend.database.db import lock_paths
from backend.database.embedded import EmbeddedPostgres
from backend.database.migration.promotion import ORPHAN_MIN_AGE_S, Promotions, sweep_orphan_previews
from backend.server import keys
from backend.server.adapters.failures import ServiceDown
from backend.server.instance import create_app
from backend.util.file_identity import FileIdentity, HashedFile
from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, files_under, write_model, write_preview
from tests.invariants import assert_promotion_invariants, old_orphan_previews
from tests.stack_process import Gateway, free_port, stack_env, start_stack, stop_stack

CRASH_POINTS = ["promote_after_link", "promote_after_commit", "promote_after_delete"]


async def _register(gateway: TestClient, stack: Stack, name: str, content: bytes) -> tuple[str, str]:
    model = write_model(stack.model_root, f"{name}.safetensors", content)
    preview = write_preview(stack.model_root / f"{name}.png")
    reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
    assert reply.status == 201
    return str(model), hashlib.sha256(content).hexdigest()


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


# ---- one file: the order, a crash after each step, concurrency, a service down -----------------------


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
    await assert_promotion_invariants(db, images)


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
    _age(orphan, 3600)
    # A young pending preview with a row, and a young one without (a registration in flight): both stay.
    await _register(gateway, stack, "young", b"registered just now")
    in_flight = images / "pending/in-flight.webp"
    in_flight.write_bytes(b"RIFF")

    await aiohttp_client(create_app(stack.config()))  # a restart: its start-up sweeps in the background
    await eventually(lambda: not orphan.exists(), what="the start-up sweep to delete the orphan")
    assert files_under(images) == sorted([f"{sha}.webp", "pending/in-flight.webp", "pending/young.webp"])
    await assert_promotion_invariants(db, images)


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


async def test_twenty_concurrent_requests_migrate_one_file_once(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = write_model(stack.model_root, "big/model.safetensors", os.urandom(8 * 1024 * 1024))
    preview = write_preview(stack.model_root / "big/model.png")
    await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})

    replies = await asyncio.gather(*(
        gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"}) for _ in range(20)
    ))
    assert [r.status for r in replies] == [200] * 20
    hashes = {(await r.json())["sha256"] for r in replies}
    assert hashes == {hashlib.sha256(model.read_bytes()).hexdigest()}
    assert await db.fetchval("SELECT count(*) FROM models") == 1
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert files_under(stack.data_dir / "images") == [f"{hashes.pop()}.webp"]
    await assert_promotion_invariants(db, stack.data_dir / "images")


async def test_image_service_down_gives_503_and_loses_nothing_then_succeeds(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = write_model(stack.model_root, "v.safetensors", b"vae weights")
    preview = write_preview(stack.model_root / "v.jpg")
    await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})

    await stack.images.stop(grace=0)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
    assert await error_of(reply) == (503, "unavailable")
    assert "images" in (await reply.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 1
    assert await db.fetchval("SELECT count(*) FROM models") == 0
    assert files_under(stack.data_dir / "images") == ["pending/v.webp"]
    health = await gateway.get("/api/health")
    assert health.status == 503 and (await health.json())["images"] == "unavailable"

    await stack.restart_images()

    async def answered():  # the channel reconnects with a short backoff
        reply = await gateway.post("/api/models/sha256", json={"path": str(model), "pending_status": "pending"})
        return reply if reply.status != 503 else None

    reply = await eventually(answered, what="an answer once the image service is back")
    assert reply.status == 200 and (await reply.json())["migrated"] is True
    sha = hashlib.sha256(b"vae weights").hexdigest()
    assert files_under(stack.data_dir / "images") == [f"{sha}.webp"]


# ---- a batch: the same order, one transaction ---------------------------------------------------------


def _hashed(path: str) -> HashedFile:
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return HashedFile(path, sha, FileIdentity.from_stat(os.stat(path)))


async def test_a_batch_finishes_a_crashed_link_skips_a_file_promoted_already_and_shares_images(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    images = stack.data_dir / "images"
    fresh, fresh_sha = await _register(gateway, stack, "fresh", b"fresh content")
    linked, linked_sha = await _register(gateway, stack, "linked", b"linked before the crash")
    os.link(images / "pending/linked.webp", images / f"{linked_sha}.webp")  # step 1 done, then the crash
    done, done_sha = await _register(gateway, stack, "done", b"promoted by someone else")
    # Same content as "fresh", and no preview of its own: it shows the preview of its content.
    twin = write_model(stack.model_root, "twin.safetensors", b"fresh content")
    assert (await gateway.post("/api/models/pending", json={"path": str(twin)})).status == 201
    rows = {r["path"]: r for r in await db.fetch("SELECT path, image_key FROM pending_models")}
    reply = await gateway.post("/api/models/sha256", json={"path": done, "pending_status": "pending"})
    assert reply.status == 200 and (await reply.json())["migrated"] is True

    app = gateway.app
    batch = [(rows[path], _hashed(path)) for path in (fresh, linked, done, str(twin))]
    promoted = await Promotions(app[keys.POOL], app[keys.IMAGES], images).promote(batch)

    assert promoted == [fresh, linked, str(twin)]
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    active = {r["path"]: r["image_key"] for r in await db.fetch("SELECT path, image_key FROM models")}
    assert active == {fresh: f"{fresh_sha}.webp", linked: f"{linked_sha}.webp", done: f"{done_sha}.webp",
                      str(twin): f"{fresh_sha}.webp"}
    assert files_under(images) == sorted(f"{sha}.webp" for sha in (fresh_sha, linked_sha, done_sha))
    await assert_promotion_invariants(db, images)


async def test_a_batch_with_the_image_service_down_changes_no_row_and_keeps_every_preview(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    paths = [(await _register(gateway, stack, name, name.encode()))[0] for name in ("first", "second")]
    rows = {r["path"]: r for r in await db.fetch("SELECT path, image_key FROM pending_models")}
    await stack.images.stop(grace=0)

    app = gateway.app
    with pytest.raises(ServiceDown):
        await Promotions(app[keys.POOL], app[keys.IMAGES], stack.data_dir / "images").promote(
            [(rows[path], _hashed(path)) for path in paths])
    assert await db.fetchval("SELECT count(*) FROM models") == 0
    assert sorted(await db.fetchval("SELECT array_agg(path) FROM pending_models")) == sorted(paths)
    assert files_under(stack.data_dir / "images") == ["pending/first.webp", "pending/second.webp"]


async def test_a_batch_that_postgresql_ends_in_a_deadlock_is_promoted_on_its_next_try(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    paths = [(await _register(gateway, stack, name, name.encode()))[0] for name in ("first", "second")]
    rows = {r["path"]: r for r in await db.fetch("SELECT path, image_key FROM pending_models")}
    app = gateway.app
    rival = await asyncpg.connect(stack.database_url)
    try:
        # The rival holds a pending row the batch needs, then asks for the batch's path lock: a real deadlock.
        # Its own check waits long, so PostgreSQL ends the batch's transaction, not the rival's.
        await rival.execute("SET deadlock_timeout = '60s'")
        rival_tx = rival.transaction()
        await rival_tx.start()
        await rival.execute("SELECT 1 FROM pending_models WHERE path = $1 FOR UPDATE", paths[1])
        promotion = asyncio.create_task(Promotions(app[keys.POOL], app[keys.IMAGES], stack.data_dir / "images")
                                        .promote([(rows[path], _hashed(path)) for path in paths]))

        async def batch_waits_for_the_rival() -> bool:
            return await db.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1",
                rival.get_server_pid())
        await eventually(batch_waits_for_the_rival, what="the batch to wait for the rival's row")
        await lock_paths(rival, [paths[1]])
        await rival_tx.commit()
        promoted = await asyncio.wait_for(promotion, 30)
    finally:
        await rival.close()
    assert promoted == paths
    assert sorted(await db.fetchval("SELECT array_agg(path) FROM models")) == sorted(paths)
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    await assert_promotion_invariants(db, stack.data_dir / "images")


# ---- the start-up sweep ----------------------------------------------------------------------------


async def test_sweep_keeps_every_referenced_preview(stack: Stack, gateway: TestClient) -> None:
    await _register(gateway, stack, "kept", b"kept")
    kept = stack.data_dir / "images/pending/kept.webp"
    _age(kept, 3600)
    app = gateway.app
    assert await sweep_orphan_previews(app[keys.POOL], app[keys.IMAGES], stack.data_dir / "images") == []
    assert kept.exists()


async def test_after_the_sweep_no_old_orphan_is_left_and_young_or_named_previews_stay(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    images = stack.data_dir / "images"
    await _register(gateway, stack, "named", b"a pending row names its preview")
    _age(images / "pending/named.webp", 3600)
    for name, age in [("old-orphan", ORPHAN_MIN_AGE_S + 60), ("young-orphan", ORPHAN_MIN_AGE_S - 60),
                      (".being-written", 3600)]:
        (images / f"pending/{name}.webp").write_bytes(b"RIFF")
        _age(images / f"pending/{name}.webp", age)
    assert await old_orphan_previews(db, images, ORPHAN_MIN_AGE_S) == ["pending/old-orphan.webp"]

    app = gateway.app
    assert await sweep_orphan_previews(app[keys.POOL], app[keys.IMAGES], images) == ["pending/old-orphan.webp"]
    assert await old_orphan_previews(db, images, ORPHAN_MIN_AGE_S) == []
    assert files_under(images) == ["pending/.being-written.webp", "pending/named.webp", "pending/young-orphan.webp"]


# ---- a real crash: the whole stack SIGKILLed at each crash point -------------------------------------


@pytest.fixture
def run(data_dir: Path, model_root: Path, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Start the whole stack (`python -m backend`) with extra settings; everything started is stopped after."""
    started = []

    def start(**extra: str) -> Gateway:
        port = free_port()
        env = stack_env(model_root, data_dir, port, MODELVAULT_DEV="1", MODELVAULT_HASHER_WORKERS="1",
                        MODELVAULT_IMAGES_WORKERS="1", **extra)
        started.append(start_stack(env, log=tmp_path / f"stack-{len(started)}.log"))
        return Gateway(f"http://127.0.0.1:{port}", started[-1])

    yield start
    for process in started:
        if process.poll() is None:
            stop_stack(process)
    EmbeddedPostgres(data_dir / "postgres").stop()


def assert_invariants(gateway: Gateway) -> None:
    """Each active row's image exists; no path is both pending and active."""
    active = gateway.get("/api/models?limit=500")["items"]
    pending = gateway.get("/api/models/pending?limit=500")["items"]
    for model in active:
        if model["image_url"] is not None:
            assert gateway.image_status(model["image_url"]) == 200, model
    assert {m["path"] for m in active} & {p["path"] for p in pending} == set()


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_a_gateway_killed_mid_promotion_loses_nothing(
    step: str, run: Callable[..., Gateway], model_root: Path
) -> None:
    model = model_root / "checkpoint.safetensors"
    model.write_bytes(b"weights" * 1000)
    preview = model_root / "checkpoint.png"
    Image.new("RGB", (32, 32), "blue").save(preview)
    sha = hashlib.sha256(model.read_bytes()).hexdigest()

    armed = run(MODELVAULT_CRASH_AT=step)
    assert armed.post("/api/models/pending", {"path": str(model), "preview_path": str(preview)})[0] == 201
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        armed.post("/api/models/sha256", {"path": str(model)})
    armed.stop()

    gateway = run()
    assert_invariants(gateway)
    status, answer = gateway.post("/api/models/sha256", {"path": str(model)})
    assert (status, answer["sha256"]) == (200, sha)
    assert_invariants(gateway)
    [row] = gateway.get("/api/models")["items"]
    assert (row["path"], row["image_key"]) == (str(model), f"{sha}.webp")
    assert gateway.get("/api/models/pending")["total"] == 0
