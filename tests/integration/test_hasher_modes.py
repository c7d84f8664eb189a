"""The hasher in dev mode, as a process a user runs, and walking the model roots."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.hasher.hashing import WORKER_NICENESS
from tests.eventually import eventually
from tests.integration.hasher_support import EMPTY_SHA256, drain

# ---- dev mode ------------------------------------------------------------------------------------


async def test_dev_mode_answers_shadow_files_without_reading(start_hasher, model_root: Path):
    (model_root / "loras").mkdir()
    shadow = model_root / "loras" / "shadow_anime.safetensors"
    shadow.touch()
    real = model_root / "loras" / "shadow_real.safetensors"
    real.write_bytes(b"not empty: a real model")
    plain_empty = model_root / "loras" / "empty.safetensors"
    plain_empty.touch()
    known = hashlib.sha256(b"the database's hash").hexdigest()
    hasher = await start_hasher(MODELVAULT_DEV="1")

    by_path = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shadow)))
    by_known = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shadow), known_sha256=known.upper()))
    streamed = await drain(hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(shadow))))
    assert hasher.pool.submissions == 0

    assert by_path.digest.sha256 == hashlib.sha256(b"loras/shadow_anime.safetensors").hexdigest()
    assert by_path.digest.shadow
    assert by_path.digest.identity.relative_path == "loras/shadow_anime.safetensors"
    assert (by_known.digest.sha256, by_known.digest.shadow) == (known, True)
    assert [m.WhichOneof("event") for m in streamed] == ["digest"]
    assert streamed[0].digest == by_path.digest
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shadow), known_sha256="xyz"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    not_shadows = [
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(real), known_sha256=known)),
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(plain_empty), known_sha256=known)),
    ]
    assert [(r.digest.sha256, r.digest.shadow) for r in not_shadows] == [
        (hashlib.sha256(b"not empty: a real model").hexdigest(), False),
        (EMPTY_SHA256, False),
    ]


async def test_without_dev_mode_a_shadow_file_is_really_read(start_hasher, model_root: Path):
    shadow = model_root / "shadow_anime.safetensors"
    shadow.touch()
    hasher = await start_hasher()

    reply = await hasher.stub.Hash(
        hasher_pb2.HashRequest(path=str(shadow), known_sha256=hashlib.sha256(b"db").hexdigest())
    )

    assert (reply.digest.sha256, reply.digest.shadow) == (EMPTY_SHA256, False)
    assert hasher.pool.submissions == 1


# ---- the process as a user runs it ---------------------------------------------------------------


async def test_python_m_services_hasher_serves_and_stops_on_sigterm(spawn_service, model_root: Path):
    path = model_root / "model.safetensors"
    path.write_bytes(b"weights")
    process, port = await spawn_service("hasher")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        reply = await hasher_pb2_grpc.HasherServiceStub(channel).Hash(
            hasher_pb2.HashRequest(path=str(path)), timeout=10
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert reply.digest.sha256 == hashlib.sha256(b"weights").hexdigest()
    assert reply.digest.replica_id.startswith(f"{socket.gethostname()}:{process.pid}:")

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    stderr = (await process.stderr.read()).decode()
    assert "Traceback" not in stderr


async def test_unreadable_file_is_permission_denied(spawn_service, model_root: Path):
    # Root reads everything: as root, the service runs without the capabilities that bypass file modes.
    user = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search"
        user = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]
    locked = model_root / "locked.safetensors"
    locked.write_bytes(b"secret weights")
    locked.chmod(0o000)
    process, port = await spawn_service("hasher", prefix=user)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = hasher_pb2_grpc.HasherServiceStub(channel)
        stat_reply = await stub.Stat(hasher_pb2.StatRequest(path=str(locked)), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Hash(hasher_pb2.HashRequest(path=str(locked)), timeout=10)
    assert stat_reply.identity.size == len(b"secret weights")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "permission denied" in caught.value.details()
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=10) == 0


async def test_each_computed_digest_is_logged_once(start_hasher, model_root: Path, caplog) -> None:
    path = model_root / "logged.safetensors"
    path.write_bytes(b"log me")
    hasher = await start_hasher()
    with caplog.at_level("INFO", logger="services.hasher.pool"):
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hashed ")]
    assert len(lines) == 1 and lines[0].startswith(f"hashed {path} (6 bytes")


async def test_workers_run_at_a_lower_priority_than_the_service(start_hasher, model_root: Path) -> None:
    path = model_root / "nice.safetensors"
    path.write_bytes(b"x")
    hasher = await start_hasher()
    await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    expected = {min(os.nice(0) + WORKER_NICENESS, 19)}
    pids = hasher.pool.worker_pids()
    assert pids
    # A worker still starting has not run its initializer yet.
    await eventually(lambda: {psutil.Process(pid).nice() for pid in pids} == expected)


async def test_list_models_finds_model_files_and_their_previews(start_hasher, model_root: Path, tmp_path: Path):
    (model_root / "loras/style").mkdir(parents=True)
    (model_root / ".cache").mkdir()
    for name in ("loras/style/ink.safetensors", "loras/style/ink.preview.png", "loras/style/ink.png",
                 "ckpt.ckpt", "ckpt.jpg", "notes.txt", ".cache/hidden.safetensors", "vae.gguf"):
        (model_root / name).write_bytes(b"x")
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"o")
    (model_root / "escape.safetensors").symlink_to(outside)
    (model_root / "alias.safetensors").symlink_to(model_root / "vae.gguf")
    os.mkfifo(model_root / "pipe.safetensors")
    hasher = await start_hasher()

    replies = [reply async for reply in hasher.stub.ListModels(hasher_pb2.ListModelsRequest())]
    found = {
        relative: Path(preview).name if preview else None
        for reply in replies
        for relative, root, preview in zip(reply.models.relative_path, reply.models.model_root,
                                           reply.models.preview_path, strict=True)
        if root == str(model_root)  # the fixture's second root holds other tests' files
    }
    assert found == {"ckpt.ckpt": "ckpt.jpg", "loras/style/ink.safetensors": "ink.preview.png", "vae.gguf": None}
    assert str(model_root) in replies[0].scope

    inside = [reply async for reply in hasher.stub.ListModels(
        hasher_pb2.ListModelsRequest(folder=str(model_root / "loras")))]
    assert [path for reply in inside for path in reply.models.relative_path] == ["loras/style/ink.safetensors"]
    assert list(inside[0].scope) == [str(model_root / "loras")]
    for folder, code in ((str(tmp_path), grpc.StatusCode.PERMISSION_DENIED),
                         (str(model_root / "nope"), grpc.StatusCode.NOT_FOUND),
                         (str(model_root / "vae.gguf"), grpc.StatusCode.INVALID_ARGUMENT),
                         ("relative", grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [r async for r in hasher.stub.ListModels(hasher_pb2.ListModelsRequest(folder=folder))]
        assert caught.value.code() == code, folder
