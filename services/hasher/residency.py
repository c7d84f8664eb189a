"""Which pages of a file are in the page cache (mincore on a mapping), and dropping the ones we brought in."""

from __future__ import annotations

import ctypes
import mmap
import os
from collections.abc import Iterator

PAGE_SIZE = mmap.PAGESIZE
# The page cache holds a file in naturally aligned folios of up to this much (PMD size on x86-64), and
# POSIX_FADV_DONTNEED frees only the folios wholly inside its range.
LARGEST_FOLIO = 2 << 20

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
_MAP_FAILED = ctypes.c_void_p(-1).value
# cachestat(2), Linux 6.5: the number of cached pages in a range (the same number on every architecture).
_SYS_CACHESTAT = 451


class _CachestatRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Cachestat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64)
                for name in ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]
# mincore's vector says "resident" in bit 0; the other bits are reserved.
_RESIDENT_BIT = bytes(i & 1 for i in range(256))


class Residency:
    """A snapshot of which pages of a file were cached, taken before we read it.

    Later reads fill the cache (ours, and the kernel's read-ahead for them), so what was there before can only
    be known by asking first: the pages not cached then are the ones we drop behind our read.
    """

    def __init__(self, pages: bytes) -> None:
        self._pages = pages  # one byte per page: 1 cached, 0 not

    @property
    def cached_fraction(self) -> float:
        return self._pages.count(1) / len(self._pages) if self._pages else 1.0

    def cold_ranges(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """(offset, length) of each run of pages in [start, end) that was not cached, in whole pages."""
        pages = self._pages
        first, last = start // PAGE_SIZE, min(len(pages), -(-end // PAGE_SIZE))
        index = pages.find(0, first, last)
        while index != -1:
            stop = pages.find(1, index, last)
            stop = last if stop == -1 else stop
            yield index * PAGE_SIZE, (stop - index) * PAGE_SIZE
            index = pages.find(0, stop, last)

    def drop_cold(self, fd: int, start: int, end: int) -> None:
        """Give back the pages of [start, end) that were not cached before: bytes read only to be hashed.

        From the folio boundary before start: a folio that straddles the previous range is wholly read only now.
        """
        for offset, length in self.cold_ranges(start - start % LARGEST_FOLIO, end):
            try:
                os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
            except OSError:
                return  # only advice; a file system that refuses it keeps its pages


def snapshot(fd: int, size: int, st: os.stat_result) -> Residency | None:
    """Which of the file's pages are cached now; None when the kernel would not say.

    For a file we neither own nor may write, mincore reports only pages mapped in our own page tables (Linux
    5.0's fix for a cache side channel), so every page would look cold; then nothing is known and nothing is
    dropped.
    """
    if not _may_see_cache(st):
        return None
    if size == 0:
        return Residency(b"")
    pages = -(-size // PAGE_SIZE)
    # Most files are wholly cached or wholly cold, which one cachestat call says at once; mincore looks up
    # every page, a cost that shows against hashing a LoRA, so only a partly cached file pays it.
    cached = _cached_pages(fd)
    if cached == pages:
        return Residency(b"\x01" * pages)
    if cached == 0:
        return Residency(bytes(pages))
    address = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if address in (None, _MAP_FAILED):
        return None
    try:
        vector = (ctypes.c_ubyte * pages)()
        # Only the page cache's index is walked: no page is read or faulted in.
        if _libc.mincore(address, size, vector) != 0:
            return None
        return Residency(bytes(vector).translate(_RESIDENT_BIT))
    finally:
        _libc.munmap(address, size)


def _cached_pages(fd: int) -> int | None:
    """Pages of the whole file in the page cache; None without cachestat (a kernel before 6.5)."""
    stats = _Cachestat()
    if _libc.syscall(_SYS_CACHESTAT, fd, ctypes.byref(_CachestatRange(0, 0)), ctypes.byref(stats), 0) != 0:
        return None
    return stats.nr_cache


def _may_see_cache(st: os.stat_result) -> bool:
    euid = os.geteuid()
    # Root (CAP_FOWNER) or the owner; a writable file counts too, but asking costs a path lookup we avoid.
    return euid == 0 or euid == st.st_uid
