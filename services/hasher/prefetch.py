"""Read-ahead in a thread: the next block is copied from the file while the current one is hashed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

# Three buffers: one being hashed, one just read, one being read.
_BUFFERS = 3


class Prefetcher:
    """Yields memoryviews of reused buffers holding the file's next bytes, up to `size`, in order.

    Both sides release the GIL (readinto in the syscall, sha256 on blocks over 2 KiB), so reading and
    hashing overlap: nearer hashlib's in-memory speed than a loop that reads, then hashes.
    """

    def __init__(self, file: BinaryIO, size: int, block_size: int, *,
                 after_read: Callable[[int, int], None] | None = None) -> None:
        """after_read(offset, length) runs in the reading thread once those bytes are in a buffer."""
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | OSError] = queue.SimpleQueue()
        for _ in range(_BUFFERS):
            self._free.put(bytearray(block_size))
        self._after_read = after_read
        self._stopping = False
        self._thread = threading.Thread(target=self._read, args=(file, size), daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[memoryview]:
        """Blocks until size bytes or end of file; an OSError from the read is raised here."""
        while True:
            item = self._full.get()
            if isinstance(item, OSError):
                raise item
            buffer, length = item
            if not length:
                return
            yield memoryview(buffer)[:length]
            self._free.put(buffer)

    def close(self) -> None:
        """Stop reading ahead (the caller is done or gave up) and wait for the thread's current read."""
        self._stopping = True
        self._free.put(bytearray(0))  # wakes the thread if it waits for a buffer
        self._thread.join()

    def _read(self, file: BinaryIO, size: int) -> None:
        done = 0
        while True:
            buffer = self._free.get()
            if self._stopping:
                return
            try:
                length = file.readinto(memoryview(buffer)[: min(len(buffer), size - done)]) if done < size else 0
            except OSError as exc:
                self._full.put(exc)
                return
            self._full.put((buffer, length))
            if not length:
                return
            if self._after_read is not None:
                self._after_read(done, length)
            done += length
