"""Shared-memory slots, one per running job: a cancel flag the worker polls and the bytes it has hashed."""

from __future__ import annotations

import asyncio
import ctypes
from multiprocessing.context import BaseContext


class SlotTable:
    """A job holds a slot from the moment it is handed to the process pool until a worker is done with it.

    A job still queued in the pool when cancelled sees its flag as the worker takes it, and ends unread.
    """

    def __init__(self, context: BaseContext, count: int) -> None:
        # Raw (lock-free) arrays: one writer per cell, and a byte or an aligned 64-bit word is written whole.
        self.cancel_flags = context.RawArray(ctypes.c_ubyte, count)
        self.progress = context.RawArray(ctypes.c_uint64, count)
        self._free = list(range(count))
        self._available = asyncio.Semaphore(count)

    async def acquire(self) -> int:
        """Wait for a free slot and clear it; the caller must release it once the worker is done with it."""
        await self._available.acquire()
        slot = self._free.pop()
        self.cancel_flags[slot] = 0
        self.progress[slot] = 0
        return slot

    def release(self, slot: int) -> None:
        self._free.append(slot)
        self._available.release()

    def cancel(self, slot: int) -> None:
        self.cancel_flags[slot] = 1

    def cancel_all(self) -> None:
        for slot in range(len(self.cancel_flags)):
            self.cancel_flags[slot] = 1

    def bytes_done(self, slot: int) -> int:
        return self.progress[slot]
