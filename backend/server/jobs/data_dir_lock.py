"""The lock that makes a gateway the only one of its data folder, so that it may end its predecessor's jobs.

Under `make run` one gateway owns the data folder and its embedded PostgreSQL; the supervisor starts the next
one only after the last has exited. An exclusive flock on <data dir>/gateway.lock, held for the gateway's
life, makes that certain rather than assumed: the kernel releases it when its process dies, however it dies
(SIGKILL included), and a second gateway started on the same folder while the first lives does not get it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = "gateway.lock"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another living gateway holds it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Not inherited by the processes we start (os.open's default): a PostgreSQL we started must not hold it.
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            log.warning("another gateway runs on %s: its jobs are left to their heartbeat", self.data_dir)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
