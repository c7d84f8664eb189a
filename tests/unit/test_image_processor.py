"""The pure image logic, in-process: target sizes, keys, atomic writes, link/delete, decoding."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from backend.util import image_store
from backend.util.image_keys import InvalidKeyError
from backend.util.image_processor import (
    MAX_PIXELS,
    MAX_SIDE,
    BadImageError,
    SourceMissingError,
    compress_to_webp,
    encode_webp,
    target_size,
)
from backend.util.image_store import LinkOutcome, NotAFileError

HASH = "f" * 64 + ".webp"


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "images"
    (path / "pending").mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((100, 100), (100, 100)),
        ((2000, 1000), (2000, 1000)),
        ((3000, 2000), (1732, 1154)),
        ((6000, 4000), (1732, 1154)),
        ((40000, 50), (16383, 20)),
        ((50, 40000), (20, 16383)),
        ((1, 10_000_000), (1, 16383)),
        ((20000, 20000), (1414, 1414)),
    ],
)
def test_target_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert target_size(*size) == expected


@pytest.mark.parametrize("width", [1, 7, 999, 1414, 1415, 2001, 4095, 16383, 16384, 65535, 100_000])
@pytest.mark.parametrize("height", [1, 3, 1000, 1413, 2000, 9999, 65535])
def test_target_size_always_within_both_caps(width: int, height: int) -> None:
    w, h = target_size(width, height)
    assert 1 <= w <= min(width, MAX_SIDE) and 1 <= h <= min(height, MAX_SIDE)
    assert w * h <= MAX_PIXELS
    if width * height <= MAX_PIXELS and max(width, height) <= MAX_SIDE:
        assert (w, h) == (width, height)


def test_target_size_with_a_tiny_pixel_budget() -> None:
    assert target_size(1, 10_000, max_pixels=100) == (1, 100)


@pytest.mark.parametrize(
    "key",
    [
        HASH,
        "0123456789abcdef" * 4 + ".webp",
        "pending/x.webp",
        "pending/My Model (v2) ünï.webp",
        "pending/a.b.webp",
    ],
)
def test_valid_keys_resolve_inside_the_store(store: Path, key: str) -> None:
    assert image_store.resolve_key(store, key) == store / key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "non-empty"),
        ("../x.webp", "expected"),
        ("pending/../../x.webp", "path separator"),
        ("pending/a/b.webp", "path separator"),
        ("pending/a\\b.webp", "path separator"),
        ("pending/a..b.webp", "'..'"),
        ("pending/.x.webp", "starts with '.'"),
        ("pending/.webp", "empty"),
        ("pending/a\x00.webp", "NUL"),
        ("pending/a\nb.webp", "control"),
        ("F" * 64 + ".webp", "expected"),
        ("f" * 65 + ".webp", "expected"),
        ("f" * 64 + ".jpg", "expected"),
        ("pending/a.png", "must end with '.webp'"),
        ("pending/" + "é" * 130 + ".webp", "longer than 255 bytes"),
    ],
)
def test_invalid_keys(store: Path, key: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match="invalid key") as info:
        image_store.resolve_key(store, key)
    assert reason in str(info.value)


def test_a_pending_folder_symlinked_away_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "images"
    store.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (store / "pending").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidKeyError, match="outside the image store"):
        image_store.resolve_key(store, "pending/x.webp")


def test_atomic_write_leaves_nothing_on_failure(store: Path) -> None:
    def fail(f: io.BufferedWriter) -> None:
        f.write(b"half")
        raise RuntimeError("disk on fire")

    (store / HASH).write_bytes(b"old")
    with pytest.raises(RuntimeError):
        image_store.atomic_write(store / HASH, fail)
    assert files(store) == {HASH}
    assert (store / HASH).read_bytes() == b"old"


def test_copy_fallback_and_its_outcomes(store: Path) -> None:
    # The copy path of link (hard links refused, e.g. across file systems) called directly.
    source, target = store / "pending/p.webp", store / HASH
    assert image_store._copy(source, target) is LinkOutcome.SOURCE_MISSING
    source.write_bytes(b"data" * 1000)
    assert image_store._copy(source, target) is LinkOutcome.COPIED
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_ino != source.stat().st_ino
    assert image_store._copy(source, target) is LinkOutcome.TARGET_EXISTS
    source.unlink()
    assert image_store._copy(source, target) is LinkOutcome.TARGET_EXISTS
    assert files(store) == {HASH}


def test_link_delete(store: Path) -> None:
    (store / "pending/p.webp").write_bytes(b"p")
    assert image_store.link(store, "pending/p.webp", HASH) is LinkOutcome.LINKED
    assert image_store.link(store, "pending/p.webp", HASH) is LinkOutcome.TARGET_EXISTS
    assert image_store.delete(store, "pending/p.webp") is True
    assert image_store.delete(store, "pending/p.webp") is False
    assert files(store) == {HASH}
    assert image_store.link(store, "pending/none.webp", "pending/other.webp") is LinkOutcome.SOURCE_MISSING


def test_link_creates_the_target_folder(tmp_path: Path) -> None:
    store = tmp_path / "images"
    store.mkdir()
    (store / HASH).write_bytes(b"h")
    assert image_store.link(store, HASH, "pending/back.webp") is LinkOutcome.LINKED
    assert (store / "pending/back.webp").read_bytes() == b"h"


def test_a_directory_under_a_key_is_not_a_file(store: Path) -> None:
    (store / HASH).mkdir()
    (store / "pending/p.webp").write_bytes(b"p")
    with pytest.raises(NotAFileError):
        image_store.link(store, "pending/p.webp", HASH)
    with pytest.raises(NotAFileError):
        image_store.delete(store, HASH)
    with pytest.raises(NotAFileError):
        image_store.link(store, HASH, "pending/x.webp")
    assert files(store) == {"pending/p.webp"}


def test_compress_from_bytes_and_path(tmp_path: Path) -> None:
    data = png_bytes(Image.new("RGB", (300, 200), (1, 2, 3)))
    result = compress_to_webp(data, tmp_path / "out" / "a.webp")
    assert (result.width, result.height) == (300, 200)
    assert result.size_bytes == (tmp_path / "out" / "a.webp").stat().st_size
    source = tmp_path / "in.png"
    source.write_bytes(data)
    assert compress_to_webp(source, tmp_path / "b.webp") == compress_to_webp(source, tmp_path / "b.webp")


def test_webp_bytes_keep_an_rgb_icc_profile_and_drop_exif(tmp_path: Path) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buffer, "JPEG", icc_profile=icc, exif=exif)
    data, _, _ = encode_webp(buffer.getvalue())
    with Image.open(io.BytesIO(data)) as result:
        assert result.info.get("icc_profile") == icc
        assert "exif" not in result.info


def test_bytes_over_the_cap(tmp_path: Path) -> None:
    with pytest.raises(BadImageError, match="over the limit of 1,000 bytes"):
        compress_to_webp(b"\x89PNG" + b"\x00" * 2000, tmp_path / "a.webp", max_source_bytes=1000)
    source = tmp_path / "big.png"
    source.write_bytes(b"\x89PNG" + b"\x00" * 2000)
    with pytest.raises(BadImageError, match="2,004 bytes, over the limit of 1,000 bytes"):
        compress_to_webp(source, tmp_path / "a.webp", max_source_bytes=1000)
    assert files(tmp_path) == {"big.png"}


def test_own_pixel_cap_is_checked_from_the_header(tmp_path: Path) -> None:
    data = png_bytes(Image.new("RGB", (1000, 1000)))
    with pytest.raises(BadImageError, match=r"1000x1000 = 1,000,000 pixels, over the limit of 999,999"):
        compress_to_webp(data, tmp_path / "a.webp", max_source_pixels=999_999)
    assert files(tmp_path) == set()


def test_pillow_bomb_error_becomes_a_bad_image(tmp_path: Path) -> None:
    # In-process, Pillow's own global cap (about 179 MP) may trip before ours; it must read the same.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 10000, 8, 2, 0, 0, 0))
    data = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IEND", b"")
    with pytest.raises(BadImageError, match="decompression bomb"):
        compress_to_webp(data, tmp_path / "a.webp", max_source_pixels=10**12)
    assert files(tmp_path) == set()


def test_missing_and_special_sources(tmp_path: Path) -> None:
    with pytest.raises(SourceMissingError, match="no such file"):
        compress_to_webp(tmp_path / "none.png", tmp_path / "a.webp")
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    # Opened non-blocking, refused by fstat: a FIFO that slipped past the path check cannot hang us.
    with pytest.raises(BadImageError, match="not a regular file"):
        compress_to_webp(fifo, tmp_path / "a.webp")
    assert files(tmp_path) == {"fifo.png"}


def test_formats_that_run_external_programs_are_refused(tmp_path: Path) -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(BadImageError, match="not one of the supported formats"):
        compress_to_webp(eps, tmp_path / "a.webp")


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("I;16", 257 * 200, 200),
        ("I", 1000 * 65, 252),
        ("I", 77, 77),
        ("F", 0.5, 128),
        ("1", 1, 255),
        ("LA", (90, 255), 90),
    ],
)
def test_high_depth_and_odd_modes(tmp_path: Path, mode: str, value: object, expected: int) -> None:
    buffer = io.BytesIO()
    Image.new(mode, (16, 16), value).save(buffer, "TIFF")
    data, _, _ = encode_webp(buffer.getvalue())
    with Image.open(io.BytesIO(data)) as result:
        grey = result.convert("L").getpixel((8, 8))
    assert abs(grey - expected) <= 3, (mode, grey)
