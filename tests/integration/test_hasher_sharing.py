"""The hasher's shared computations over real gRPC: coalescing, cancels, deadlines, files that change, dead workers."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from pathlib import Path

import grpc
import pytest

from modelvault.hasher.v1 import hasher_pb2
from tests.eventually import eventually
from tests.integration.hasher_support import (
    SLOW_SIZE,
    MiB,
    drain,
    file_key,
    first_progress,
    frozen,
    make_sparse,
    one_busy_worker,
    write_random,
)
from tests.integration.rpc_errors import expect_error


async def test_concurrent_calls_for_one_file_share_one_computation(start_hasher, big_file):
    path, expected = big_file
    link = path.parent / "alias.safetensors"
    link.unlink(missing_ok=True)
    link.symlink_to(path)
    hasher = await start_hasher()

    unary = [hasher.stub.Hash(hasher_pb2.HashRequest(path=str(p))) for p in [path] * 5 + [link]]
    streams = [drain(hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))) for _ in range(2)]
    results = await asyncio.gather(*unary, *streams)

    digests = [r.digest.sha256 for r in results[:6]] + [r[-1].digest.sha256 for r in results[6:]]
    assert digests == [expected] * 8
    assert hasher.coalescer.started == 1
    assert hasher.pool.submissions == 1
    # Nothing is cached once the computation ends: the next call reads the file again.
    await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    assert hasher.pool.submissions == 2


async def test_one_caller_leaving_does_not_stop_the_others(start_hasher, big_file):
    path, expected = big_file
    hasher = await start_hasher()
    leaving = hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))
    await leaving.read()
    staying = asyncio.ensure_future(hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path))))
    await eventually(lambda: hasher.coalescer.waiters(file_key(path)) == 2)

    leaving.cancel()

    assert (await staying).digest.sha256 == expected
    assert hasher.coalescer.started == 1
    assert hasher.pool.cancellations == 0


async def test_cancelled_call_frees_the_worker(start_hasher, shared_root: Path, model_root: Path):
    slow = make_sparse(shared_root / "slow_cancel.safetensors", SLOW_SIZE)
    small = model_root / "small.safetensors"
    expected = write_random(small, 3 * MiB)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    calls = [hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(slow))) for _ in range(2)]
    first = await first_progress(calls[0])
    second = await first_progress(calls[1])
    assert 0 < first < SLOW_SIZE and 0 < second < SLOW_SIZE

    for call in calls:
        call.cancel()
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(small)), timeout=10)

    assert reply.digest.sha256 == expected
    assert hasher.pool.submissions == 2
    assert hasher.pool.cancellations == 1


async def test_timed_out_call_frees_the_worker(start_hasher, shared_root: Path, model_root: Path):
    slow = make_sparse(shared_root / "slow_deadline.safetensors", SLOW_SIZE)
    small = model_root / "small.safetensors"
    small.write_bytes(b"tiny model")
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(slow)), timeout=0.7)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(small)), timeout=10)

    assert reply.digest.sha256 == hashlib.sha256(b"tiny model").hexdigest()
    await eventually(lambda: hasher.pool.cancellations == 1, timeout=2)


# ---- files that change ---------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["append", "truncate", "touch"])
async def test_file_changed_while_hashing_is_aborted(start_hasher, model_root: Path, change: str):
    path = model_root / "changing.safetensors"
    write_random(path, 128 * MiB)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    call = asyncio.ensure_future(hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path))))
    await eventually(lambda: (job := hasher.coalescer.job(file_key(path))) is not None and job.bytes_done > 0)
    job = hasher.coalescer.job(file_key(path))
    # The worker is frozen mid-file, so the change surely lands between its first and its last block.
    with frozen(hasher.pool.worker_pids()):
        assert 0 < job.bytes_done < 128 * MiB
        if change == "append":
            with open(path, "ab") as f:
                f.write(b"more weights")
        elif change == "truncate":
            os.truncate(path, 64 * MiB)
        else:
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    await expect_error(call, grpc.StatusCode.ABORTED, "file changed while hashing")


async def test_file_changed_between_check_and_read_is_aborted(start_hasher, shared_root: Path, model_root: Path):
    path = model_root / "waiting.safetensors"
    path.write_bytes(b"version 1")
    hasher, busy = await one_busy_worker(start_hasher, shared_root)
    waiting = asyncio.ensure_future(hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path))))
    await eventually(lambda: hasher.coalescer.waiters(file_key(path)) == 1)

    path.write_bytes(b"version 2, longer")
    busy.cancel()

    await expect_error(waiting, grpc.StatusCode.ABORTED, "file changed before hashing")


async def test_a_worker_killed_twice_gives_unavailable_and_the_pool_recovers(
    start_hasher, shared_root: Path, model_root: Path
):
    small = model_root / "small.safetensors"
    small.write_bytes(b"after the crash")
    hasher, call = await one_busy_worker(start_hasher, shared_root)
    first = hasher.pool.submissions

    for pid in hasher.pool.worker_pids():
        os.kill(pid, signal.SIGKILL)
    # One loss is retried (test_hasher_worker_loss); the retry's worker is lost too.
    await eventually(lambda: hasher.pool.submissions == first + 1, what="the retry")
    for pid in await eventually(hasher.pool.worker_pids, what="the new pool's workers"):
        os.kill(pid, signal.SIGKILL)

    await expect_error(drain(call), grpc.StatusCode.UNAVAILABLE, "worker died")
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(small)), timeout=10)
    assert reply.digest.sha256 == hashlib.sha256(b"after the crash").hexdigest()
