"""Two slow disks (loop devices capped by blkio) are read at the same time, one reader each, and left uncached."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from backend.util.file_identity import FileIdentity
from services.hasher.disks import DiskReaders
from services.hasher.pool import HashPool
from tests.capped_devices import CappedLoopDevices, devices_missing
from tests.page_cache import MiB, residency, unavailable

FILE_SIZE = 16 * MiB
CAP = 8 * 1000 * 1000  # bytes/s: each file takes two seconds at least, however fast the machine


async def test_each_spinning_disk_is_read_by_one_reader_and_both_at_once(tmp_path: Path):
    missing = devices_missing()
    if missing is not None:
        unavailable(missing)
    with CappedLoopDevices(tmp_path / "devices", 2, FILE_SIZE * 3, CAP) as devices:
        first, second = devices.mounts
        files = {path: os.urandom(FILE_SIZE) for path in (first / "a.bin", first / "b.bin", second / "c.bin")}
        for path, data in files.items():
            path.write_bytes(data)
        os.sync()
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        pool = devices.start_capped(lambda: _started_pool(DiskReaders("all", 1)))
        try:
            jobs = {path: pool.start(str(path), FileIdentity.from_stat(os.stat(path))) for path in files}
            both_disks_at_once = False
            while not all(job.task.done() for job in jobs.values()):
                reading = {path for path, job in jobs.items() if 0 < job.bytes_done < FILE_SIZE}
                assert not {first / "a.bin", first / "b.bin"} <= reading, "two readers on one spinning disk"
                both_disks_at_once |= second / "c.bin" in reading and bool(reading & {first / "a.bin", first / "b.bin"})
                await asyncio.sleep(0.02)
            digests = {path: (await job.task).sha256 for path, job in jobs.items()}
        finally:
            pool.close()
        assert digests == {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
        assert both_disks_at_once
        assert [residency(path).cached_fraction for path in files] == [0.0, 0.0, 0.0]


def _started_pool(disks: DiskReaders) -> HashPool:
    pool = HashPool(2, disks)
    pool.warm_up()  # the workers start now, inside the capped cgroup
    return pool
