"""Compress over real gRPC with real files: sizes, colour models, bad images and bad sources."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import grpc
import pytest
from PIL import Image

from backend.util.config import Config
from modelvault.images.v1 import images_pb2
from tests.conftest import make_config
from tests.integration.images_support import (
    HASH_A,
    Running,
    close,
    compress,
    noisy_rgb,
    open_result,
    serve,
    store_files,
    write,
)
from tests.integration.rpc_errors import expect_error

# --- Compress: sizes and colour models ---------------------------------------------------------


async def test_large_jpeg_is_capped_at_two_megapixels_with_its_aspect(svc: Running) -> None:
    path = write(svc.model_root, "big.jpg", noisy_rgb(3000, 2000), "JPEG", quality=90)
    reply = await compress(svc, path)
    image = open_result(svc)
    assert (reply.width, reply.height) == image.size
    assert reply.width * reply.height <= 2_000_000
    assert abs(reply.width / reply.height - 1.5) < 0.005
    assert reply.width >= 1700
    assert reply.size_bytes == (svc.store / HASH_A).stat().st_size
    assert store_files(svc.store) == {HASH_A}


async def test_small_image_is_not_upscaled(svc: Running) -> None:
    path = write(svc.model_root, "small.png", noisy_rgb(100, 100), "PNG")
    reply = await compress(svc, path, "pending/small.webp")
    assert (reply.width, reply.height) == (100, 100)
    assert open_result(svc, "pending/small.webp").size == (100, 100)


async def test_extreme_aspect_stays_within_webp_side_limit(svc: Running) -> None:
    path = write(svc.model_root, "strip.png", Image.new("RGB", (40000, 50), (10, 200, 30)), "PNG")
    reply = await compress(svc, path)
    assert reply.width <= 16383 and reply.height >= 1
    assert reply.width * reply.height <= 2_000_000
    assert open_result(svc).size == (reply.width, reply.height)


async def test_exif_orientation_is_applied(svc: Running) -> None:
    # Stored 300x200 with a red top-left corner; orientation 6 means "rotate 90° clockwise to view".
    image = Image.new("RGB", (300, 200), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 60, 60))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write(svc.model_root, "rotated.jpg", image, "JPEG", exif=exif, quality=95)
    reply = await compress(svc, path)
    assert (reply.width, reply.height) == (200, 300)
    result = open_result(svc).convert("RGB")
    assert close(result.getpixel((200 - 10, 10)), (255, 0, 0), 40)
    assert close(result.getpixel((10, 10)), (0, 0, 255), 40)


async def test_alpha_is_kept(svc: Running) -> None:
    image = Image.new("RGBA", (200, 100), (255, 0, 0, 255))
    image.paste((0, 255, 0, 128), (100, 0, 200, 100))
    path = write(svc.model_root, "alpha.png", image, "PNG")
    await compress(svc, path)
    result = open_result(svc)
    assert result.mode == "RGBA"
    assert abs(result.getpixel((150, 50))[3] - 128) <= 2
    assert result.getpixel((50, 50))[3] == 255


async def test_palette_with_transparency_keeps_alpha(svc: Running) -> None:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    image.paste(1, (32, 0, 64, 64))
    path = write(svc.model_root, "palette.png", image, "PNG", transparency=0)
    await compress(svc, path)
    result = open_result(svc)
    assert result.mode == "RGBA"
    assert result.getpixel((5, 5))[3] == 0
    assert close(result.getpixel((50, 5)), (255, 255, 0, 255))


async def test_cmyk_jpeg_becomes_rgb(svc: Running) -> None:
    path = write(svc.model_root, "cmyk.jpg", Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG")
    await compress(svc, path)
    result = open_result(svc)
    assert result.mode == "RGB"
    assert close(result.getpixel((32, 32)), (255, 0, 0), 40)


async def test_sixteen_bit_png_is_scaled_not_clipped(svc: Running) -> None:
    image = Image.new("I;16", (64, 64), 32768)
    image.paste(65535, (0, 0, 32, 64))
    path = write(svc.model_root, "deep.png", image, "PNG")
    await compress(svc, path)
    result = open_result(svc).convert("RGB")
    assert close(result.getpixel((48, 32)), (128, 128, 128), 4)
    assert close(result.getpixel((10, 32)), (255, 255, 255), 4)


async def test_greyscale_jpeg(svc: Running) -> None:
    path = write(svc.model_root, "grey.jpg", Image.new("L", (80, 60), 100), "JPEG")
    reply = await compress(svc, path)
    assert (reply.width, reply.height) == (80, 60)
    assert close(open_result(svc).convert("RGB").getpixel((40, 30)), (100, 100, 100), 4)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
async def test_animation_gives_its_first_frame(svc: Running, fmt: str) -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = svc.model_root / f"anim.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    reply = await compress(svc, path)
    assert (reply.width, reply.height) == (64, 48)
    assert close(open_result(svc).convert("RGB").getpixel((32, 24)), (255, 0, 0), 30)


async def test_compress_replaces_an_existing_image(svc: Running) -> None:
    await compress(svc, write(svc.model_root, "one.png", noisy_rgb(50, 40), "PNG"))
    await compress(svc, write(svc.model_root, "two.png", noisy_rgb(70, 30), "PNG"))
    assert open_result(svc).size == (70, 30)
    assert store_files(svc.store) == {HASH_A}


async def test_compress_creates_missing_store_folders(config: Config, model_root: Path) -> None:
    (config.images_dir / "pending").rmdir()
    config.images_dir.rmdir()
    async for running in serve(config, model_root):
        await compress(running, write(model_root, "p.png", noisy_rgb(20, 20), "PNG"), "pending/p.webp")
        assert store_files(running.store) == {"pending/p.webp"}


# --- Compress: bad images, bad sources; nothing half-written ---------------------------------------


def png_with_header(width: int, height: int) -> bytes:
    """A small, valid-looking PNG whose IHDR claims width x height."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def test_decompression_bomb_header_is_refused_before_decoding(svc: Running) -> None:
    path = svc.model_root / "bomb.png"
    path.write_bytes(png_with_header(100_000, 100_000))
    # A deadline, so that decoding the 10 GP it claims would show as DEADLINE_EXCEEDED.
    details = await expect_error(
        compress(svc, path, timeout=5), grpc.StatusCode.INVALID_ARGUMENT, "decompression bomb"
    )
    assert "100000x100000" in details
    assert store_files(svc.store) == set()


async def test_pixel_cap_comes_from_config(model_root: Path, data_dir: Path) -> None:
    config = make_config([model_root], data_dir, MODELVAULT_IMAGE_MAX_SOURCE_PIXELS="1000000")
    async for running in serve(config, model_root):
        path = write(model_root, "big.png", Image.new("RGB", (2000, 1000)), "PNG")
        await expect_error(
            compress(running, path), grpc.StatusCode.INVALID_ARGUMENT, "over the limit of 1,000,000"
        )
        assert store_files(running.store) == set()
        ok = write(model_root, "ok.png", Image.new("RGB", (1000, 1000)), "PNG")
        assert (await compress(running, ok)).width == 1000


async def test_truncated_jpeg(svc: Running) -> None:
    buffer = io.BytesIO()
    noisy_rgb(800, 600).save(buffer, "JPEG")
    path = svc.model_root / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    await expect_error(compress(svc, path), grpc.StatusCode.INVALID_ARGUMENT, "truncated")
    assert store_files(svc.store) == set()


async def test_failed_compress_keeps_the_previous_image(svc: Running) -> None:
    await compress(svc, write(svc.model_root, "good.png", noisy_rgb(30, 20), "PNG"))
    before = (svc.store / HASH_A).read_bytes()
    bad = svc.model_root / "bad.png"
    bad.write_bytes(png_with_header(64, 64))
    await expect_error(compress(svc, bad), grpc.StatusCode.INVALID_ARGUMENT, "cannot decode image")
    assert (svc.store / HASH_A).read_bytes() == before
    assert store_files(svc.store) == {HASH_A}


@pytest.mark.parametrize("content", [b"just some text, not an image\n", b"\x00" * 100])
async def test_not_an_image(svc: Running, content: bytes) -> None:
    path = svc.model_root / "notes.txt"
    path.write_bytes(content)
    await expect_error(compress(svc, path), grpc.StatusCode.INVALID_ARGUMENT, "not an image")
    assert store_files(svc.store) == set()


async def test_empty_source(svc: Running) -> None:
    path = svc.model_root / "empty.jpg"
    path.touch()
    await expect_error(compress(svc, path), grpc.StatusCode.INVALID_ARGUMENT, "empty")
    await expect_error(
        svc.stub.Compress(images_pb2.CompressRequest(key=HASH_A)), grpc.StatusCode.INVALID_ARGUMENT, "non-empty"
    )
    assert store_files(svc.store) == set()


async def test_source_outside_the_model_roots(svc: Running) -> None:
    await expect_error(
        compress(svc, Path("/etc/passwd")), grpc.StatusCode.PERMISSION_DENIED, "outside the model roots"
    )
    traversal = Path(f"{svc.model_root}/../../../../etc/passwd")
    await expect_error(compress(svc, traversal), grpc.StatusCode.PERMISSION_DENIED, "outside the model roots")
    (svc.model_root / "link.png").symlink_to("/etc/passwd")
    await expect_error(
        compress(svc, svc.model_root / "link.png"), grpc.StatusCode.PERMISSION_DENIED, "outside"
    )
    assert store_files(svc.store) == set()


async def test_fifo_source_is_refused_promptly(svc: Running) -> None:
    fifo = svc.model_root / "preview.png"
    os.mkfifo(fifo)
    # A deadline, so that a FIFO that blocked the service would show as DEADLINE_EXCEEDED.
    await expect_error(compress(svc, fifo, timeout=3), grpc.StatusCode.INVALID_ARGUMENT, "FIFO")
    assert store_files(svc.store) == set()


async def test_missing_and_odd_sources(svc: Running) -> None:
    await expect_error(compress(svc, svc.model_root / "nope.png"), grpc.StatusCode.NOT_FOUND, "no such file")
    (svc.model_root / "folder").mkdir()
    folder = svc.model_root / "folder"
    await expect_error(compress(svc, folder), grpc.StatusCode.INVALID_ARGUMENT, "directory")
    await expect_error(compress(svc, Path("relative.png")), grpc.StatusCode.INVALID_ARGUMENT, "absolute")
    assert store_files(svc.store) == set()
