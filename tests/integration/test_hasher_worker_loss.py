"""A worker lost mid-file: files are hashed through a memory mapping, and a file that shrinks under it kills
its worker (SIGBUS). The files that worker held try once more with read(); only the culprit fails, and the
files of the other workers go on where they were."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import grpc
import pytest

from modelvault.hasher.v1 import hasher_pb2
from tests.integration.hasher_support import MiB, drain, first_progress, make_sparse

# Long enough to be mid-file when the test strikes; sparse, so it costs no disk.
SIZE = 2048 * MiB


@pytest.fixture(scope="module")
def zeros_sha256() -> str:
    sha, block = hashlib.sha256(), bytes(64 * MiB)
    for _ in range(SIZE // len(block)):
        sha.update(block)
    return sha.hexdigest()


def _stream(hasher, path: Path):
    return hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))


async def test_a_file_truncated_while_hashed_fails_alone_and_the_file_beside_it_still_hashes(
    start_hasher, model_root: Path, zeros_sha256: str
):
    shrinking = make_sparse(model_root / "shrinking.safetensors", SIZE)
    steady = make_sparse(model_root / "steady.safetensors", SIZE)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="2")
    doomed, kept = _stream(hasher, shrinking), _stream(hasher, steady)
    await first_progress(doomed)
    await first_progress(kept)

    os.truncate(shrinking, MiB)  # the worker reading it touches pages past the new end: SIGBUS

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await drain(doomed)
    assert failed.value.code() == grpc.StatusCode.ABORTED
    assert "changed" in failed.value.details()
    assert (await drain(kept))[-1].digest.sha256 == zeros_sha256
    assert hasher.pool.submissions == 3  # only the culprit lost its worker and tried once more
    # Its worker was replaced: the next file is served as usual.
    again = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shrinking)))
    assert again.digest.sha256 == hashlib.sha256(bytes(MiB)).hexdigest()


async def test_a_worker_killed_mid_file_costs_one_retry_not_the_answer(
    start_hasher, model_root: Path, zeros_sha256: str
):
    model = make_sparse(model_root / "model.safetensors", SIZE)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    call = _stream(hasher, model)
    await first_progress(call)
    submitted = hasher.pool.submissions

    for pid in hasher.pool.worker_pids():
        os.kill(pid, signal.SIGKILL)

    assert (await drain(call))[-1].digest.sha256 == zeros_sha256
    assert hasher.pool.submissions == submitted + 1
