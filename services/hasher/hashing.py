"""Worker-side SHA-256 of one file: runs inside the process pool, plain arguments and results only."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import mmap
import os
import signal
import stat
import time
from collections.abc import Generator, MutableSequence

from backend.util.file_identity import FileIdentity
from backend.util.model_paths import FileMissingError, NotRegularFileError
from services.hasher.errors import FileChangedError, HashCancelledError, ReadError, UnreadableError
from services.hasher.prefetch import Prefetcher
from services.hasher.residency import Residency, snapshot
from services.hasher.short_hashes import Digests, ShortHashes

# About 1 MiB: stays in cache while hashed; much larger reads were slower on cold files.
BLOCK_SIZE = 1 << 20
# Files are hashed through a mapping of this much at a time: no copy out of the page cache (read() costs more
# CPU per byte, which no core spares when every worker hashes: README, Benchmark notes), and bounded page tables
# for a 7 GB file. Cold files too: measured with the cache dropped, the kernel's sequential read-ahead keeps the
# mapping's pages ahead of the hash (the worker almost never waits for the disk), where reading them into
# buffers ahead of the hash, at any block size and depth tried, cost more CPU and was slower.
WINDOW_SIZE = 64 * BLOCK_SIZE

# O_NONBLOCK: a path swapped for a FIFO after the check must not hang the worker in open().
# O_NOFOLLOW: the path is already resolved, so a symlink in its place means someone swapped it.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC

WORKER_NICENESS = 10

# Shared with the parent through the pool initializer: one slot per running job.
_cancel: MutableSequence[int] = []
_progress: MutableSequence[int] = []
# AutoV3 for files of at most this many bytes (MODELVAULT_AUTOV3, set by the pool initializer): it costs a
# second SHA-256 over nearly every byte.
_autov3_max_bytes = -1


def init_worker(cancel: ctypes.Array, progress: ctypes.Array, autov3_max_bytes: int = -1) -> None:
    """Pool initializer: keep the shared slot arrays; leave Ctrl-C to the parent, which cancels us cleanly."""
    global _cancel, _progress, _autov3_max_bytes
    _cancel, _progress, _autov3_max_bytes = cancel, progress, autov3_max_bytes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Hashing is background work: when cores are short, the services' own event loops (health checks,
    # Stat, the gateway on the same machine) must win, or every request waits behind a 7 GB file.
    os.nice(WORKER_NICENESS)


def timed_hash_file(path: str, slot: int, checked: FileIdentity, *, mapped: bool = True) -> tuple[Digests, float]:
    """hash_file, and the seconds the worker spent on it (not counting the time the job waited in the pool)."""
    started = time.monotonic()
    return hash_file(path, slot, checked, mapped=mapped), time.monotonic() - started


def hash_file(path: str, slot: int, checked: FileIdentity, *, mapped: bool = True) -> Digests:
    """SHA-256 of the file that was checked as `checked` (64 lowercase hex), with its short hashes.

    mapped=False reads with read() instead of a memory mapping. A mapped file that shrinks under us, or
    whose disk fails, kills the worker with SIGBUS where read() would return an error; the pool then
    tries the file again this way, and the file's own error (changed, unreadable) is what the caller hears.
    """
    if _cancel[slot]:
        raise HashCancelledError(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _open_error(path, exc) from None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise NotRegularFileError(f"{path!r} is no longer a regular file")
        if FileIdentity.from_stat(before) != checked:
            raise FileChangedError(f"file changed before hashing: {path!r}")
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        except OSError:
            pass  # Only advice (a larger read-ahead); some file systems (FUSE, NFS) refuse it.
        size = checked.size
        # Before the first read: what was cached then stays, what we bring in goes once hashed.
        residency = snapshot(fd, size, before)
        blocks = _mapped_blocks(fd, size, residency) if mapped else _read_blocks(fd, size, residency)
        digest = _hash_blocks(blocks, path, slot, size)
        # The open file keeps its device and inode: only size and mtime can tell a write while it was read.
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (checked.size, checked.mtime_ns):
            raise FileChangedError(f"file changed while hashing: {path!r}")
        return digest
    finally:
        os.close(fd)


def _hash_blocks(blocks: Generator[memoryview], path: str, slot: int, size: int) -> Digests:
    # Exactly the size that was checked: a file that keeps growing cannot keep a worker busy forever,
    # and the fstat afterwards catches the growth.
    sha = hashlib.sha256()
    # The short hashes are fed the same blocks: the file is read once for all of them.
    short = ShortHashes(size, autov3=path.lower().endswith(".safetensors") and size <= _autov3_max_bytes)
    done = 0
    try:
        for block in blocks:
            if _cancel[slot]:
                raise HashCancelledError(path)
            sha.update(block)
            short.feed(block, done)
            done += len(block)
            _progress[slot] = done
    except OSError as exc:
        raise ReadError(f"cannot read {path!r}: {exc.strerror}") from None
    finally:
        blocks.close()  # unmaps, or stops the read-ahead thread, now rather than when collected
    if done != size:
        raise FileChangedError(f"file changed while hashing (truncated): {path!r}")
    return short.digests(sha.hexdigest())


def _mapped_blocks(fd: int, size: int, residency: Residency | None) -> Generator[memoryview]:
    """The file's first size bytes as views of a read-only mapping, a window at a time."""
    for start in range(0, size, WINDOW_SIZE):
        length = min(WINDOW_SIZE, size - start)
        try:
            window = mmap.mmap(fd, length, offset=start, access=mmap.ACCESS_READ)
        except ValueError:
            return  # the file is shorter than it was: Python maps nothing past its end (the caller says so)
        try:
            with window:
                # Sequential read-ahead for files not yet cached, and pages dropped behind us sooner.
                window.madvise(mmap.MADV_SEQUENTIAL)
                # Every view released before the window closes, also when the caller stops early.
                with memoryview(window) as view:
                    for offset in range(0, length, BLOCK_SIZE):
                        with view[offset:offset + BLOCK_SIZE] as block:
                            yield block
        finally:
            # Once unmapped (the kernel keeps mapped pages whatever it is told): the pages we brought in go.
            if residency is not None:
                residency.drop_cold(fd, start, start + length)


def _read_blocks(fd: int, size: int, residency: Residency | None) -> Generator[memoryview]:
    # Dropped as soon as copied out: the kernel's read-ahead has already moved on to the next block.
    after_read = None if residency is None else lambda offset, length: residency.drop_cold(fd, offset, offset + length)
    with open(fd, "rb", buffering=0, closefd=False) as file:
        blocks = Prefetcher(file, size, BLOCK_SIZE, after_read=after_read)
        try:
            yield from blocks
        finally:
            blocks.close()


def _open_error(path: str, exc: OSError) -> Exception:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UnreadableError(f"cannot read {path!r}: permission denied")
    if exc.errno == errno.ENOENT:
        return FileMissingError(f"no such file: {path!r}")
    if exc.errno == errno.ELOOP:
        return FileChangedError(f"file changed before hashing (replaced by a symlink): {path!r}")
    return ReadError(f"cannot open {path!r}: {exc.strerror}")
