"""Cold and cached files hashed right, and the page cache left as it was, on real files (mincore)."""

from __future__ import annotations

import ctypes
import hashlib
import os
from pathlib import Path

import pytest

from backend.util.file_identity import FileIdentity
from services.hasher import hashing
from services.hasher import residency as residency_module
from services.hasher.residency import PAGE_SIZE, Residency
from tests.page_cache import MiB, make_cached, make_cold, residency

# Several cold reads, several mapping windows, and a tail that is not a whole page.
SIZE = hashing.WINDOW_SIZE + 24 * MiB + 12345


@pytest.fixture
def slot(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(hashing, "_cancel", (ctypes.c_ubyte * 1)())
    monkeypatch.setattr(hashing, "_progress", (ctypes.c_uint64 * 1)())


@pytest.fixture
def model(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "model.safetensors"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _hash(path: Path, *, mapped: bool = True) -> str:
    return hashing.hash_file(str(path), 0, FileIdentity.from_stat(os.stat(path)), mapped=mapped).sha256


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("state", ["cached", "cold"])
def test_a_cached_and_a_cold_file_hash_to_hashlibs_digest(model, slot, state: str, mapped: bool):
    path, expected = model
    make_cached(path) if state == "cached" else make_cold(path)

    assert _hash(path, mapped=mapped) == expected


def test_a_file_cached_before_hashing_stays_cached(model, slot):
    path, expected = model
    make_cached(path)

    assert _hash(path) == expected
    assert residency(path).cached_fraction == 1.0


@pytest.mark.parametrize("mapped", [True, False])
def test_a_cold_file_is_not_left_in_the_page_cache(model, slot, mapped: bool):
    path, expected = model
    make_cold(path)

    assert _hash(path, mapped=mapped) == expected
    assert residency(path).cached_fraction == 0.0


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("cached_mib", [8, 64 + 20])  # in one window, across two
def test_only_the_pages_cached_before_stay_in_a_partly_cached_file(model, slot, cached_mib: int, mapped: bool):
    path, expected = model
    make_cold(path)
    make_cached(path, 4 * MiB, cached_mib * MiB)
    before = residency(path)

    assert _hash(path, mapped=mapped) == expected
    after = residency(path)
    assert after.cached_fraction == before.cached_fraction
    assert list(after.cold_ranges(0, SIZE)) == list(before.cold_ranges(0, SIZE))


def test_cold_ranges_are_the_runs_of_pages_that_were_not_cached():
    found = Residency(bytes([1, 0, 0, 1, 0, 1, 1, 0]))

    assert list(found.cold_ranges(0, 8 * PAGE_SIZE)) == [
        (PAGE_SIZE, 2 * PAGE_SIZE), (4 * PAGE_SIZE, PAGE_SIZE), (7 * PAGE_SIZE, PAGE_SIZE)]
    # A range that starts and ends inside pages covers them whole.
    assert list(found.cold_ranges(2 * PAGE_SIZE + 1, 4 * PAGE_SIZE + 1)) == [
        (2 * PAGE_SIZE, PAGE_SIZE), (4 * PAGE_SIZE, PAGE_SIZE)]
    assert found.cached_fraction == 0.5



def _cold_ranges_when(path: Path, state: str) -> list[tuple[int, int]]:
    make_cold(path)
    if state == "cached":
        make_cached(path)
    elif state == "partly":
        make_cached(path, 4 * MiB, 8 * MiB)
    return list(residency(path).cold_ranges(0, SIZE))


@pytest.mark.parametrize("state", ["cold", "partly", "cached"])
def test_without_cachestat_mincore_says_the_same(model, monkeypatch: pytest.MonkeyPatch, state: str):
    """A kernel before 6.5 has no cachestat: every file is then looked at page by page."""
    path, _ = model
    with_cachestat = _cold_ranges_when(path, state)
    monkeypatch.setattr(residency_module, "_cached_pages", lambda fd: None)

    assert _cold_ranges_when(path, state) == with_cachestat
    assert len(with_cachestat) == {"cold": 1, "partly": 2, "cached": 0}[state]
