"""Test helpers: make a real file cold or cached, and say how much of it the page cache holds (mincore)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.hasher.residency import Residency, snapshot

MiB = 1 << 20


def unavailable(reason: str) -> None:
    """Skip with the reason; fail instead under MODELVAULT_REQUIRE_ROOT=1 (CI, root on a real disk)."""
    if os.environ.get("MODELVAULT_REQUIRE_ROOT") == "1":
        pytest.fail(f"MODELVAULT_REQUIRE_ROOT=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def residency(path: Path) -> Residency:
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        found = snapshot(fd, st.st_size, st)
    finally:
        os.close(fd)
    assert found is not None, "mincore withheld for the test's own file"
    return found


def make_cold(path: Path) -> None:
    """Evict the file's pages as if it had never been read: written back, then dropped.

    Only this file: dropping the whole page cache would slow every other program on the machine.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # a dirty page cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    if residency(path).cached_fraction > 0:
        unavailable(f"{path.parent} keeps files in memory (tmpfs?), so no file there is ever cold: "
                    "set TMPDIR to a folder on a disk")


def make_cached(path: Path, start: int = 0, length: int | None = None) -> None:
    """Read [start, start + length) (to the end by default) so that the page cache holds it."""
    end = os.path.getsize(path) if length is None else start + length
    fd = os.open(path, os.O_RDONLY)
    try:
        # No read-ahead: it would cache more than asked, and go on doing so after we return.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        # Twice: pages read twice are on the kernel's active list, as a model in use is, and not the first
        # to go when another program (a build, a copy) wants memory while the test looks at them.
        for _ in range(2):
            for offset in range(start, end, MiB):
                os.pread(fd, min(MiB, end - offset), offset)
    finally:
        os.close(fd)
