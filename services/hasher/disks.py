"""One reader at a time per spinning disk: two files read at once from one platter are far slower than in turn."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

SYS_DEV_BLOCK = Path("/sys/dev/block")


def is_rotational(device: int, sys_dev_block: Path = SYS_DEV_BLOCK) -> bool:
    """Whether st_dev names a spinning disk; False when unknown (tmpfs, overlay, network, no /sys)."""
    node = sys_dev_block / f"{os.major(device)}:{os.minor(device)}"
    try:
        real = node.resolve(strict=True)
    except OSError:
        return False
    # A partition has no queue/ of its own: its parent folder is the disk that does.
    for folder in (real, real.parent):
        try:
            return (folder / "queue" / "rotational").read_text().strip() == "1"
        except OSError:
            continue
    return False


class DiskReaders:
    """Bounds the reads per rotational device; other devices are bounded only by the workers.

    In the hasher, the one process that reads: it holds for every caller (jobs, single requests, several
    gateways) and needs no stat of its own.

    mode: "auto" asks /sys, "all" treats every device as rotational, "none" none (MODELVAULT_ROTATIONAL_DEVICES).
    """

    def __init__(self, mode: str, readers_per_disk: int) -> None:
        self._mode = mode
        self._readers = readers_per_disk
        self._rotational: dict[int, bool] = {}
        self._limits: dict[int, asyncio.Semaphore] = {}

    def rotational(self, device: int) -> bool:
        if self._mode != "auto":
            return self._mode == "all"
        if device not in self._rotational:
            self._rotational[device] = is_rotational(device)
        return self._rotational[device]

    @contextlib.asynccontextmanager
    async def reading(self, device: int) -> AsyncIterator[None]:
        if not self.rotational(device):
            yield
            return
        limit = self._limits.setdefault(device, asyncio.Semaphore(self._readers))
        async with limit:
            yield
