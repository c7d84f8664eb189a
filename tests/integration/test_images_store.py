"""The image store through the service: keys, Link, Delete, the worker pool and the process."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import grpc
import pytest

from backend.util.image_processor import prepare_worker
from modelvault.images.v1 import images_pb2, images_pb2_grpc
from services.process_pool import ProcessPool, WorkerDiedError
from tests.integration.images_support import (
    BAD_KEYS,
    HASH_A,
    HASH_B,
    Running,
    compress,
    noisy_rgb,
    store_files,
    write,
)
from tests.integration.rpc_errors import expect_error


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused_everywhere(svc: Running, key: str) -> None:
    path = write(svc.model_root, "ok.png", noisy_rgb(20, 20), "PNG")
    (svc.store / HASH_B).write_bytes(b"x")
    calls = [
        compress(svc, path, key),
        svc.stub.Link(images_pb2.LinkRequest(source_key=HASH_B, target_key=key)),
        svc.stub.Link(images_pb2.LinkRequest(source_key=key, target_key=HASH_A)),
        svc.stub.Delete(images_pb2.DeleteRequest(key=key)),
    ]
    for call in calls:
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, "key")
    assert store_files(svc.store) == {HASH_B}
    assert not (svc.store.parent / "x.webp").exists()


# --- Link, Delete ----------------------------------------------------------------------------------


async def test_link_outcomes_are_idempotent(svc: Running) -> None:
    pending = "pending/my model v2.webp"
    (svc.store / pending).write_bytes(b"preview")

    async def link() -> int:
        reply = await svc.stub.Link(images_pb2.LinkRequest(source_key=pending, target_key=HASH_A))
        return reply.outcome

    assert await link() == images_pb2.LINK_OUTCOME_LINKED
    assert (svc.store / HASH_A).stat().st_ino == (svc.store / pending).stat().st_ino
    assert await link() == images_pb2.LINK_OUTCOME_TARGET_EXISTS
    (svc.store / pending).unlink()
    assert await link() == images_pb2.LINK_OUTCOME_TARGET_EXISTS
    (svc.store / HASH_A).unlink()
    assert await link() == images_pb2.LINK_OUTCOME_SOURCE_MISSING
    assert store_files(svc.store) == set()


async def test_link_keeps_an_existing_target(svc: Running) -> None:
    (svc.store / "pending/a.webp").write_bytes(b"new")
    (svc.store / HASH_A).write_bytes(b"old")
    reply = await svc.stub.Link(images_pb2.LinkRequest(source_key="pending/a.webp", target_key=HASH_A))
    assert reply.outcome == images_pb2.LINK_OUTCOME_TARGET_EXISTS
    assert (svc.store / HASH_A).read_bytes() == b"old"


async def test_delete_is_idempotent(svc: Running) -> None:
    (svc.store / HASH_A).write_bytes(b"x")
    assert (await svc.stub.Delete(images_pb2.DeleteRequest(key=HASH_A))).deleted is True
    assert (await svc.stub.Delete(images_pb2.DeleteRequest(key=HASH_A))).deleted is False
    assert store_files(svc.store) == set()


async def test_same_key_and_directories_are_refused(svc: Running) -> None:
    (svc.store / HASH_A).write_bytes(b"x")
    await expect_error(
        svc.stub.Link(images_pb2.LinkRequest(source_key=HASH_A, target_key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "same file",
    )
    (svc.store / HASH_B).mkdir()
    # A directory named by a key gets the code a directory named as a model path gets: INVALID_ARGUMENT.
    for call in (
        svc.stub.Delete(images_pb2.DeleteRequest(key=HASH_B)),
        svc.stub.Link(images_pb2.LinkRequest(source_key=HASH_A, target_key=HASH_B)),
        compress(svc, write(svc.model_root, "ok.png", noisy_rgb(20, 20), "PNG"), HASH_B),
    ):
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, "not a regular file")
    await expect_error(compress(svc, svc.model_root, HASH_A), grpc.StatusCode.INVALID_ARGUMENT, "directory")
    assert (svc.store / HASH_B).is_dir() and (svc.store / HASH_A).read_bytes() == b"x"


async def test_symlink_out_of_the_store_is_refused(svc: Running) -> None:
    outside = svc.store.parent / "secret.webp"
    outside.write_bytes(b"secret")
    (svc.store / "pending/evil.webp").symlink_to(outside)
    await expect_error(
        svc.stub.Delete(images_pb2.DeleteRequest(key="pending/evil.webp")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "outside the image store",
    )
    await expect_error(
        svc.stub.Link(images_pb2.LinkRequest(source_key="pending/evil.webp", target_key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "outside the image store",
    )
    assert outside.read_bytes() == b"secret"
    assert not (svc.store / HASH_A).exists()


# --- Pool, health, process life --------------------------------------------------------------------


async def test_concurrent_compresses_all_land(svc: Running) -> None:
    paths = [write(svc.model_root, f"c{i}.jpg", noisy_rgb(640, 480), "JPEG") for i in range(6)]
    replies = await asyncio.gather(*(compress(svc, p, f"pending/c{i}.webp") for i, p in enumerate(paths)))
    assert all((r.width, r.height) == (640, 480) for r in replies)
    assert store_files(svc.store) == {f"pending/c{i}.webp" for i in range(6)}


async def test_pool_survives_a_dead_worker() -> None:
    pool = ProcessPool("image", 1, prepare_worker)
    try:
        with pytest.raises(WorkerDiedError):
            await pool.run(os._exit, 3)
        assert await pool.run(pow, 2, 10) == 1024
    finally:
        pool.shutdown()


async def test_process_prints_port_serves_and_exits_0_on_sigterm(spawn_service, model_root: Path) -> None:
    process, port = await spawn_service("images")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        image = write(model_root, "p.png", noisy_rgb(40, 30), "PNG")
        stub = images_pb2_grpc.ImageServiceStub(channel)
        done = await stub.Compress(images_pb2.CompressRequest(source_path=str(image), key=HASH_A), timeout=30)
        assert (done.width, done.height) == (40, 30)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 20) == 0
    assert b"Traceback" not in await process.stderr.read()
