"""AutoV1 and AutoV3 from the hasher's one read, against the peers' own definitions, on real files."""

from __future__ import annotations

import ctypes
import hashlib
import os
from pathlib import Path

import pytest

from backend.util.file_identity import FileIdentity
from services.hasher import hashing
from services.hasher.short_hashes import Digests, ShortHashes
from tests.short_hash_files import autov1_as_a1111, autov3_as_civitai, lora


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch):
    """A worker as the pool initializer sets it up, with AutoV3 for every size."""
    monkeypatch.setattr(hashing, "_cancel", (ctypes.c_ubyte * 1)())
    monkeypatch.setattr(hashing, "_progress", (ctypes.c_uint64 * 1)())
    monkeypatch.setattr(hashing, "_autov3_max_bytes", 1 << 62)
    return monkeypatch


def digests_of(path: Path, mapped: bool = True) -> Digests:
    return hashing.hash_file(str(path), 0, FileIdentity.from_stat(os.stat(path)), mapped=mapped)


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("rank", [4, 600])  # about 10 KB (no AutoV1) and about 1.5 MiB (a partial AutoV1 slice)
def test_a_safetensors_file_gets_the_peers_autov1_and_autov3(tmp_path: Path, worker, rank: int, mapped: bool):
    path = lora(tmp_path / "style.safetensors", rank, rank, {"ss_network_dim": str(rank)})

    digests = digests_of(path, mapped)

    assert digests.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert digests.autov3 == autov3_as_civitai(path)
    expected_autov1 = autov1_as_a1111(path) if path.stat().st_size > 1 << 20 else ""
    assert digests.autov1 == expected_autov1


@pytest.mark.parametrize("size", [(1 << 20) + 1, (1 << 20) + (64 << 10), 3 << 20])
def test_autov1_is_a1111s_model_hash_for_files_past_one_mib(tmp_path: Path, worker, size: int):
    path = tmp_path / "model.ckpt"
    path.write_bytes(os.urandom(size))

    digests = digests_of(path)

    assert digests.autov1 == autov1_as_a1111(path)
    assert digests.autov3 == ""  # not a safetensors file


def test_a_file_of_one_mib_or_less_has_no_autov1(tmp_path: Path, worker):
    # A1111 answers e3b0c442 (the empty input) for all of them: it would match every small file.
    path = tmp_path / "tiny.ckpt"
    path.write_bytes(os.urandom(1 << 20))

    assert digests_of(path).autov1 == ""


def test_a_header_claiming_sshs_model_hash_is_not_believed(tmp_path: Path, worker):
    placeholder = "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    path = lora(tmp_path / "claims.safetensors", 8, 8, {"sshs_model_hash": placeholder})

    assert digests_of(path).autov3 == autov3_as_civitai(path) != placeholder[2:14]


@pytest.mark.parametrize("content", [
    (10**9).to_bytes(8, "little") + b"{}" * 100,   # a header longer than the file
    (2).to_bytes(8, "little") + b"{}",            # a header and nothing after it
    b"\x00" * 5,                                  # shorter than a header length
])
def test_no_autov3_where_the_header_leaves_no_tensor_bytes(tmp_path: Path, worker, content: bytes):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)

    digests = digests_of(path)

    assert digests.sha256 == hashlib.sha256(content).hexdigest()
    assert digests.autov3 == ""


def test_autov3_is_left_out_above_the_configured_size(tmp_path: Path, worker):
    path = lora(tmp_path / "big.safetensors", 64, 64)
    worker.setattr(hashing, "_autov3_max_bytes", path.stat().st_size - 1)

    assert digests_of(path).autov3 == ""


@pytest.mark.parametrize("block", [1, 3, 7, 4096, 65_537])
def test_any_block_sizes_give_the_same_short_hashes(tmp_path: Path, block: int):
    # The block source may change (cold reads): the hashes may not depend on where blocks end.
    path = lora(tmp_path / "odd.safetensors", 600, 600)
    data = path.read_bytes()
    short = ShortHashes(len(data), autov3=True)
    for at in range(0, len(data), block):
        short.feed(memoryview(data)[at:at + block], at)

    assert short.digests("x") == Digests("x", autov1_as_a1111(path), autov3_as_civitai(path))
