"""The hasher's answers over real gRPC on port 0, with real files: digests, identities, streams, bad input."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import grpc
import pytest

from modelvault.hasher.v1 import hasher_pb2
from tests.eventually import eventually
from tests.integration.hasher_support import SLOW_SIZE, MiB, drain, file_key, frozen, make_sparse, write_random

# ---- digests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, MiB - 1, MiB + 1])
async def test_digest_equals_hashlib_and_identity_equals_stat(start_hasher, model_root: Path, size: int):
    path = model_root / "sub" / f"model_{size}.safetensors"
    path.parent.mkdir()
    expected = write_random(path, size)
    hasher = await start_hasher()

    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    stat_reply = await hasher.stub.Stat(hasher_pb2.StatRequest(path=str(path)))

    assert reply.digest.sha256 == expected
    assert not reply.digest.shadow
    st = os.stat(path)
    identity = reply.digest.identity
    assert (identity.size, identity.mtime_ns, identity.inode, identity.device) == (
        size, st.st_mtime_ns, st.st_ino, st.st_dev)
    assert identity.resolved_path == str(path)
    assert identity.relative_path == f"sub/model_{size}.safetensors"
    assert identity.model_root == str(model_root)
    assert stat_reply.identity == identity
    if size == MiB + 1:
        openssl = subprocess.run(["openssl", "dgst", "-sha256", "-r", str(path)], capture_output=True, text=True)
        assert openssl.stdout.split()[0] == expected


async def test_hash_stream_sends_a_first_progress_of_zero_then_progress_then_the_digest_once(
    start_hasher, big_file
):
    path, expected = big_file
    hasher = await start_hasher()

    messages = [m async for m in hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))]

    first, *middle, last = messages
    assert first == hasher_pb2.HashStreamResponse(
        progress=hasher_pb2.HashProgress(bytes_done=0, bytes_total=300 * MiB)
    )
    assert all(m.WhichOneof("event") == "progress" for m in middle)
    done = [m.progress.bytes_done for m in middle]
    assert done == sorted(done) and all(0 <= d <= 300 * MiB for d in done)
    assert {m.progress.bytes_total for m in middle} <= {300 * MiB}
    assert last.WhichOneof("event") == "digest"
    assert (last.digest.sha256, last.digest.identity.size) == (expected, 300 * MiB)
    # The same file through the unary call, and a symlink to it inside the root: same digest.
    link = path.parent / "link.safetensors"
    link.unlink(missing_ok=True)
    link.symlink_to(path)
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(link)))
    assert reply.digest.sha256 == expected
    assert reply.digest.identity.resolved_path == str(path)


async def test_hash_stream_reports_bytes_read_while_a_worker_is_mid_file(start_hasher, shared_root: Path):
    slow = make_sparse(shared_root / "slow_progress.safetensors", SLOW_SIZE)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    call = hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(slow)))
    assert (await call.read()).progress.bytes_done == 0
    job = await eventually(lambda: (j := hasher.coalescer.job(file_key(slow))) and j.bytes_done > 0 and j)

    async def next_progress() -> int:
        message = await call.read()
        assert message.WhichOneof("event") == "progress" and message.progress.bytes_total == SLOW_SIZE
        return message.progress.bytes_done

    # Frozen mid-file, the worker cannot finish: progress keeps coming every 0.5 s, and soon says how far it got
    # (messages sent before the worker's first block may still say 0).
    with frozen(hasher.pool.worker_pids()):
        reported = await eventually(next_progress, what="a progress message with bytes read")
        assert 0 < reported <= job.bytes_done < SLOW_SIZE
    call.cancel()


# ---- bad paths -----------------------------------------------------------------------------------


def _bad_path(kind: str, model_root: Path, tmp_path: Path) -> str:
    if kind == "outside":
        outside = tmp_path / "outside.safetensors"
        outside.write_bytes(b"x")
        return str(outside)
    if kind == "symlink_to_dev_zero":
        (model_root / "zero.safetensors").symlink_to("/dev/zero")
        return str(model_root / "zero.safetensors")
    if kind == "missing":
        return str(model_root / "missing.safetensors")
    if kind == "directory":
        (model_root / "folder").mkdir()
        return str(model_root / "folder")
    if kind == "fifo":
        os.mkfifo(model_root / "pipe.safetensors")
        return str(model_root / "pipe.safetensors")
    if kind == "device":
        try:
            os.mknod(model_root / "null.safetensors", 0o600 | 0o020000, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("creating a device node needs root")
        return str(model_root / "null.safetensors")
    if kind == "relative":
        return "models/model.safetensors"
    if kind == "empty":
        return ""
    if kind == "nul":
        return str(model_root / "a\x00b")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "code", "words"),
    [
        ("outside", grpc.StatusCode.PERMISSION_DENIED, "outside the model roots"),
        ("symlink_to_dev_zero", grpc.StatusCode.PERMISSION_DENIED, "outside the model roots"),
        ("missing", grpc.StatusCode.NOT_FOUND, "no such file"),
        ("directory", grpc.StatusCode.INVALID_ARGUMENT, "is a directory"),
        ("fifo", grpc.StatusCode.INVALID_ARGUMENT, "is a FIFO"),
        ("device", grpc.StatusCode.INVALID_ARGUMENT, "is a device"),
        ("relative", grpc.StatusCode.INVALID_ARGUMENT, "must be absolute"),
        ("empty", grpc.StatusCode.INVALID_ARGUMENT, "non-empty"),
        ("nul", grpc.StatusCode.INVALID_ARGUMENT, "NUL"),
    ],
)
async def test_bad_path_gives_a_clear_status_on_every_rpc(
    start_hasher, model_root: Path, tmp_path: Path, kind: str, code: grpc.StatusCode, words: str
):
    path = _bad_path(kind, model_root, tmp_path)
    hasher = await start_hasher()
    calls = {
        "Stat": lambda: hasher.stub.Stat(hasher_pb2.StatRequest(path=path), timeout=5),
        "Hash": lambda: hasher.stub.Hash(hasher_pb2.HashRequest(path=path), timeout=5),
        "HashStream": lambda: drain(hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=path), timeout=5)),
    }
    # The 5 s deadline doubles as the check that a FIFO never blocks: that would be DEADLINE_EXCEEDED.
    for name, call in calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call()
        assert caught.value.code() == code, name
        assert words in caught.value.details(), name
    assert hasher.pool.submissions == 0
    if kind == "fifo":
        # Opening the write end without blocking fails with ENXIO exactly when no reader has the FIFO open.
        with pytest.raises(OSError) as nobody_reads:
            os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        assert nobody_reads.value.errno == errno.ENXIO


async def test_malformed_known_sha256_is_invalid(start_hasher, model_root: Path):
    path = model_root / "model.safetensors"
    path.write_bytes(b"weights")
    hasher = await start_hasher()
    for bad in ("abc", "g" * 64, "a" * 65):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path), known_sha256=bad))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "known_sha256 must be 64 hex digits" in caught.value.details()
