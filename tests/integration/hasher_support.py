"""Files and helpers for the hasher's tests: real content, sparse giants, and a way to freeze the workers."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from backend.util.file_identity import FileIdentity
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.hasher.server import HasherService

MiB = 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Long enough to take seconds to hash (zeros hash as fast as anything), so a stopped worker is told apart
# from a finished one; sparse, so it costs no disk and no time to create.
SLOW_SIZE = 8 * 1024 * MiB


@dataclass
class Hasher:
    """A started hasher service and a stub on a channel to it."""

    service: HasherService
    channel: grpc.aio.Channel
    stub: hasher_pb2_grpc.HasherServiceStub

    @property
    def pool(self):
        return self.service.servicer.pool

    @property
    def coalescer(self):
        return self.service.servicer.coalescer


def write_random(path: Path, size: int) -> str:
    """Real, incompressible content (every 1 MiB block different) without paying for os.urandom(size)."""
    sha = hashlib.sha256()
    block = bytearray(os.urandom(MiB))
    with open(path, "wb") as f:
        for index, start in enumerate(range(0, size, MiB)):
            block[:8] = index.to_bytes(8, "little")
            chunk = memoryview(block)[: min(MiB, size - start)]
            f.write(chunk)
            sha.update(chunk)
    return sha.hexdigest()


def make_sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def file_key(path: Path) -> FileIdentity:
    """The key the hasher shares one read of a file under."""
    return FileIdentity.from_stat(os.stat(path))


async def first_progress(call) -> int:
    """Read a HashStream until the worker reports bytes read; proves it is busy on that file."""
    async for message in call:
        assert message.WhichOneof("event") == "progress"
        if message.progress.bytes_done > 0:
            return message.progress.bytes_done
    raise AssertionError("stream ended before any progress")


async def one_busy_worker(start_hasher, folder: Path) -> tuple[Hasher, object]:
    """A one-worker hasher whose worker is mid-way through a SLOW_SIZE file, and the call keeping it busy."""
    slow = make_sparse(folder / "slow_busy.safetensors", SLOW_SIZE)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    call = hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(slow)))
    await first_progress(call)
    return hasher, call


async def drain(call) -> list:
    return [message async for message in call]


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """Stop the worker processes (SIGSTOP) for the block: whatever they were reading, they are mid-way."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
