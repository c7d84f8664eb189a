"""The worker function on real files (no pool), the status mapping, and the coalescer's join/leave rules."""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import time
from pathlib import Path

import grpc
import pytest

from backend.util.file_identity import FileIdentity
from backend.util.model_paths import FileMissingError, InvalidPathError, NotRegularFileError, OutsideRootsError
from services.hasher import hashing
from services.hasher.coalesce import Coalescer
from services.hasher.errors import (
    BadKnownHashError,
    FileChangedError,
    HashCancelledError,
    ReadError,
    UnreadableError,
)
from services.hasher.prefetch import Prefetcher
from services.hasher.status import STATUSES
from services.process_pool import PoolClosedError, WorkerDiedError


@pytest.fixture
def slot(monkeypatch: pytest.MonkeyPatch):
    """Slot 0 of a one-slot table, as the pool initializer would hand it to a worker."""
    cancel, progress = (ctypes.c_ubyte * 1)(), (ctypes.c_uint64 * 1)()
    monkeypatch.setattr(hashing, "_cancel", cancel)
    monkeypatch.setattr(hashing, "_progress", progress)
    return cancel, progress


def identity(path: Path) -> FileIdentity:
    return FileIdentity.from_stat(os.stat(path))


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("size", [0, 1, hashing.BLOCK_SIZE - 1, hashing.BLOCK_SIZE, 3 * hashing.BLOCK_SIZE + 7,
                                  hashing.WINDOW_SIZE + 1])
def test_hash_file_equals_hashlib_and_reports_progress(tmp_path: Path, slot, size: int, mapped: bool):
    path = tmp_path / "model.bin"
    data = os.urandom(size)
    path.write_bytes(data)

    assert hashing.hash_file(str(path), 0, identity(path), mapped=mapped).sha256 == hashlib.sha256(data).hexdigest()
    assert slot[1][0] == size


def test_a_fifo_swapped_in_is_refused_without_blocking(tmp_path: Path, slot):
    regular = tmp_path / "model.bin"
    regular.write_bytes(b"x")
    checked = identity(regular)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()

    with pytest.raises(NotRegularFileError):
        hashing.hash_file(str(fifo), 0, checked)
    assert time.monotonic() - started < 1


def test_a_symlink_in_place_of_the_resolved_path_counts_as_a_change(tmp_path: Path, slot):
    target = tmp_path / "model.bin"
    target.write_bytes(b"x")
    link = tmp_path / "link.bin"
    link.symlink_to(target)

    with pytest.raises(FileChangedError):
        hashing.hash_file(str(link), 0, identity(target))


def test_a_different_file_at_the_path_counts_as_a_change(tmp_path: Path, slot):
    path = tmp_path / "model.bin"
    path.write_bytes(b"first")
    checked = identity(path)
    path.unlink()
    path.write_bytes(b"second, replaced")

    with pytest.raises(FileChangedError, match="file changed before hashing"):
        hashing.hash_file(str(path), 0, checked)


def test_a_vanished_file_is_missing(tmp_path: Path, slot):
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    checked = identity(path)
    path.unlink()

    with pytest.raises(FileMissingError):
        hashing.hash_file(str(path), 0, checked)


def test_the_cancel_flag_stops_the_worker(tmp_path: Path, slot):
    path = tmp_path / "model.bin"
    path.write_bytes(b"x" * 10)
    slot[0][0] = 1

    with pytest.raises(HashCancelledError):
        hashing.hash_file(str(path), 0, identity(path))
    assert slot[1][0] == 0


def test_prefetcher_yields_the_bytes_in_order_and_stops_when_closed_early(tmp_path: Path):
    path = tmp_path / "model.bin"
    data = os.urandom(10 * 4096 + 5)
    path.write_bytes(data)
    with open(path, "rb", buffering=0) as f:
        blocks = Prefetcher(f, len(data), 4096)
        assert b"".join(bytes(block) for block in blocks) == data
        blocks.close()
    with open(path, "rb", buffering=0) as f:
        blocks = Prefetcher(f, len(data), 4096)
        assert bytes(next(iter(blocks))) == data[:4096]
        blocks.close()
        assert not blocks._thread.is_alive()


def test_prefetcher_reads_no_further_than_size(tmp_path: Path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"a" * 5000 + b"grown later")
    with open(path, "rb", buffering=0) as f:
        blocks = Prefetcher(f, 5000, 4096)
        assert [len(block) for block in blocks] == [4096, 904]
        blocks.close()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidPathError("m"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotRegularFileError("m"), grpc.StatusCode.INVALID_ARGUMENT),
        (BadKnownHashError("m"), grpc.StatusCode.INVALID_ARGUMENT),
        (OutsideRootsError("m"), grpc.StatusCode.PERMISSION_DENIED),
        (UnreadableError("m"), grpc.StatusCode.PERMISSION_DENIED),
        (FileMissingError("m"), grpc.StatusCode.NOT_FOUND),
        (FileChangedError("m"), grpc.StatusCode.ABORTED),
        (WorkerDiedError("m"), grpc.StatusCode.UNAVAILABLE),
        (PoolClosedError("m"), grpc.StatusCode.UNAVAILABLE),
        (ReadError("m"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_error_has_one_status_and_keeps_its_message(error: Exception, code: grpc.StatusCode):
    assert STATUSES.status_for(error) == (code, "m")


def test_an_unexpected_error_is_internal_and_named(caplog: pytest.LogCaptureFixture):
    with caplog.at_level("ERROR", logger="services.grpc_status"):
        assert STATUSES.status_for(ValueError("bug")) == (
            grpc.StatusCode.INTERNAL, "internal error in the hasher (ValueError)"
        )
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] and "bug" in caplog.text


class _Job:
    def __init__(self, coro) -> None:
        self.task = asyncio.ensure_future(coro)


async def test_coalescer_shares_a_job_and_cancels_it_when_the_last_caller_leaves():
    coalescer: Coalescer[str, _Job] = Coalescer()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    with coalescer.join("k", lambda: _Job(work())) as first:
        with coalescer.join("k", lambda: _Job(work())) as second:
            assert second is first and coalescer.waiters("k") == 2
        assert not first.task.cancelled()
    await asyncio.sleep(0)
    assert first.task.cancelled()
    assert coalescer.started == 1 and coalescer.job("k") is None

    with coalescer.join("k", lambda: _Job(work())) as third:
        gate.set()
        assert await third.task == "done"
    assert coalescer.started == 2


async def test_coalescer_forgets_a_failed_job_so_the_next_caller_starts_afresh():
    coalescer: Coalescer[str, _Job] = Coalescer()

    async def fail() -> str:
        raise FileChangedError("changed")

    with coalescer.join("k", lambda: _Job(fail())) as job:
        with pytest.raises(FileChangedError):
            await job.task
    assert coalescer.job("k") is None
