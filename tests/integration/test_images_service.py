"""The image service over real gRPC on a free port with real files: what a client sees, what lands on disk."""

from __future__ import annotations

import asyncio
import functools
import io
import os
import signal
import struct
import sys
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from backend.util.config import PROJECT_ROOT, Config
from modelvault.images.v1 import images_pb2, images_pb2_grpc
from services.grpc_runtime import GrpcService
from services.images.server import WorkerCrashedError, WorkerPool, build_service
from tests.conftest import make_config

HASH_A = "a" * 64 + ".webp"
HASH_B = "0123456789abcdef" * 4 + ".webp"
BAD_KEYS = [
    "",
    "../x.webp",
    "pending/../../x.webp",
    "pending/../" + HASH_A,
    "pending/a/b.webp",
    "pending/a\\b.webp",
    "pending/.hidden.webp",
    "pending/.webp",
    "pending/a\x00b.webp",
    "A" * 64 + ".webp",
    "a" * 63 + ".webp",
    "a" * 64 + ".png",
    "pending/model.png",
    "/etc/" + HASH_A,
    "x.webp",
    "pending/" + "n" * 300 + ".webp",
]


@dataclass
class Running:
    service: GrpcService
    stub: images_pb2_grpc.ImageServiceStub
    channel: grpc.aio.Channel
    store: Path
    model_root: Path


async def _serve(config: Config, model_root: Path) -> AsyncIterator[Running]:
    service = build_service(config)
    port = await service.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = images_pb2_grpc.ImageServiceStub(channel)
        yield Running(service, stub, channel, config.images_dir, model_root)
    finally:
        await channel.close()
        await service.stop(grace=0)


@pytest.fixture
async def svc(config: Config, model_root: Path) -> AsyncIterator[Running]:
    async for running in _serve(config, model_root):
        yield running


def store_files(store: Path) -> set[str]:
    """Every file in the store (temp files included), as relative paths."""
    return {p.relative_to(store).as_posix() for p in store.rglob("*") if not p.is_dir()}


def noisy_rgb(width: int, height: int) -> Image.Image:
    grey = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (grey, Image.effect_noise((width, height), 30), grey.rotate(180)))


def write(root: Path, name: str, image: Image.Image, fmt: str, **params) -> Path:
    path = root / name
    image.save(path, fmt, **params)
    return path


async def compress(svc: Running, path: Path, key: str = HASH_A) -> images_pb2.CompressResponse:
    return await svc.stub.Compress(images_pb2.CompressRequest(source_path=str(path), key=key), timeout=30)


def open_result(svc: Running, key: str = HASH_A) -> Image.Image:
    image = Image.open(svc.store / key)
    assert image.format == "WEBP"
    image.load()
    return image


async def expect_error(call, code: grpc.StatusCode, text: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    assert text in info.value.details()
    return info.value.details()


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


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


async def test_source_bytes(svc: Running) -> None:
    buffer = io.BytesIO()
    noisy_rgb(400, 300).save(buffer, "JPEG")
    reply = await svc.stub.Compress(
        images_pb2.CompressRequest(source_bytes=buffer.getvalue(), key="pending/upload.webp")
    )
    assert (reply.key, reply.width, reply.height) == ("pending/upload.webp", 400, 300)
    assert store_files(svc.store) == {"pending/upload.webp"}


async def test_an_upload_larger_than_grpcs_default_4_mib_is_accepted(svc: Running) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (1800, 1800), os.urandom(1800 * 1800 * 3)).save(buffer, "PNG", compress_level=0)
    assert buffer.tell() > 8 * 1024 * 1024
    reply = await svc.stub.Compress(images_pb2.CompressRequest(source_bytes=buffer.getvalue(), key=HASH_A))
    assert (reply.width, reply.height) == (1414, 1414)
    assert store_files(svc.store) == {HASH_A}


async def test_compress_replaces_an_existing_image(svc: Running) -> None:
    await compress(svc, write(svc.model_root, "one.png", noisy_rgb(50, 40), "PNG"))
    await compress(svc, write(svc.model_root, "two.png", noisy_rgb(70, 30), "PNG"))
    assert open_result(svc).size == (70, 30)
    assert store_files(svc.store) == {HASH_A}


async def test_compress_creates_missing_store_folders(config: Config, model_root: Path) -> None:
    (config.images_dir / "pending").rmdir()
    config.images_dir.rmdir()
    async for running in _serve(config, model_root):
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
    started = time.monotonic()
    details = await expect_error(compress(svc, path), grpc.StatusCode.INVALID_ARGUMENT, "decompression bomb")
    assert "100000x100000" in details
    assert time.monotonic() - started < 5
    assert store_files(svc.store) == set()


async def test_pixel_cap_comes_from_config(model_root: Path, data_dir: Path) -> None:
    config = make_config([model_root], data_dir, MODELVAULT_IMAGE_MAX_SOURCE_PIXELS="1000000")
    async for running in _serve(config, model_root):
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
    await expect_error(
        svc.stub.Compress(images_pb2.CompressRequest(source_bytes=content, key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not an image",
    )
    assert store_files(svc.store) == set()


async def test_empty_source(svc: Running) -> None:
    path = svc.model_root / "empty.jpg"
    path.touch()
    await expect_error(compress(svc, path), grpc.StatusCode.INVALID_ARGUMENT, "empty")
    await expect_error(
        svc.stub.Compress(images_pb2.CompressRequest(source_bytes=b"", key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "empty",
    )
    await expect_error(
        svc.stub.Compress(images_pb2.CompressRequest(key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "one of source_path or source_bytes is required",
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
    started = time.monotonic()
    await expect_error(compress(svc, fifo), grpc.StatusCode.INVALID_ARGUMENT, "FIFO")
    assert time.monotonic() - started < 3
    assert store_files(svc.store) == set()


async def test_missing_and_odd_sources(svc: Running) -> None:
    await expect_error(compress(svc, svc.model_root / "nope.png"), grpc.StatusCode.NOT_FOUND, "no such file")
    (svc.model_root / "folder").mkdir()
    folder = svc.model_root / "folder"
    await expect_error(compress(svc, folder), grpc.StatusCode.INVALID_ARGUMENT, "directory")
    await expect_error(compress(svc, Path("relative.png")), grpc.StatusCode.INVALID_ARGUMENT, "absolute")
    assert store_files(svc.store) == set()


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused_everywhere(svc: Running, key: str) -> None:
    path = write(svc.model_root, "ok.png", noisy_rgb(20, 20), "PNG")
    (svc.store / HASH_B).write_bytes(b"x")
    calls = [
        compress(svc, path, key),
        svc.stub.Link(images_pb2.LinkRequest(source_key=HASH_B, target_key=key)),
        svc.stub.Link(images_pb2.LinkRequest(source_key=key, target_key=HASH_A)),
        svc.stub.Move(images_pb2.MoveRequest(source_key=HASH_B, target_key=key)),
        svc.stub.Move(images_pb2.MoveRequest(source_key=key, target_key=HASH_A)),
        svc.stub.Delete(images_pb2.DeleteRequest(key=key)),
    ]
    for call in calls:
        await expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, "key")
    assert store_files(svc.store) == {HASH_B}
    assert not (svc.store.parent / "x.webp").exists()


# --- Link, Move, Delete ----------------------------------------------------------------------------


async def test_link_outcomes_are_idempotent(svc: Running) -> None:
    pending = "pending/my model v2.webp"
    (svc.store / pending).write_bytes(b"preview")

    async def link() -> int:
        reply = await svc.stub.Link(images_pb2.LinkRequest(source_key=pending, target_key=HASH_A))
        return reply.outcome

    assert await link() == images_pb2.LINK_OUTCOME_LINKED
    assert (svc.store / HASH_A).stat().st_ino == (svc.store / pending).stat().st_ino
    assert await link() == images_pb2.LINK_OUTCOME_TARGET_EXISTS
    (svc.store / pending).unlink()
    assert await link() == images_pb2.LINK_OUTCOME_TARGET_EXISTS
    (svc.store / HASH_A).unlink()
    assert await link() == images_pb2.LINK_OUTCOME_SOURCE_MISSING
    assert store_files(svc.store) == set()


async def test_link_keeps_an_existing_target(svc: Running) -> None:
    (svc.store / "pending/a.webp").write_bytes(b"new")
    (svc.store / HASH_A).write_bytes(b"old")
    reply = await svc.stub.Link(images_pb2.LinkRequest(source_key="pending/a.webp", target_key=HASH_A))
    assert reply.outcome == images_pb2.LINK_OUTCOME_TARGET_EXISTS
    assert (svc.store / HASH_A).read_bytes() == b"old"


async def test_move_outcomes_are_idempotent(svc: Running) -> None:
    (svc.store / "pending/m.webp").write_bytes(b"preview")

    async def move() -> int:
        reply = await svc.stub.Move(images_pb2.MoveRequest(source_key="pending/m.webp", target_key=HASH_A))
        return reply.outcome

    assert await move() == images_pb2.MOVE_OUTCOME_MOVED
    assert store_files(svc.store) == {HASH_A}
    assert (svc.store / HASH_A).read_bytes() == b"preview"
    assert await move() == images_pb2.MOVE_OUTCOME_ALREADY_MOVED
    (svc.store / HASH_A).unlink()
    assert await move() == images_pb2.MOVE_OUTCOME_SOURCE_MISSING
    (svc.store / "pending/m.webp").write_bytes(b"newer")
    (svc.store / HASH_A).write_bytes(b"older")
    assert await move() == images_pb2.MOVE_OUTCOME_MOVED
    assert (svc.store / HASH_A).read_bytes() == b"newer"


async def test_delete_is_idempotent(svc: Running) -> None:
    (svc.store / HASH_A).write_bytes(b"x")
    assert (await svc.stub.Delete(images_pb2.DeleteRequest(key=HASH_A))).deleted is True
    assert (await svc.stub.Delete(images_pb2.DeleteRequest(key=HASH_A))).deleted is False
    assert store_files(svc.store) == set()


async def test_same_key_and_directories_are_refused(svc: Running) -> None:
    (svc.store / HASH_A).write_bytes(b"x")
    await expect_error(
        svc.stub.Link(images_pb2.LinkRequest(source_key=HASH_A, target_key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "same file",
    )
    (svc.store / HASH_B).mkdir()
    await expect_error(
        svc.stub.Delete(images_pb2.DeleteRequest(key=HASH_B)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "not a regular file",
    )
    image = write(svc.model_root, "ok.png", noisy_rgb(20, 20), "PNG")
    await expect_error(compress(svc, image, HASH_B), grpc.StatusCode.FAILED_PRECONDITION, "not a regular file")
    assert (svc.store / HASH_B).is_dir() and (svc.store / HASH_A).read_bytes() == b"x"


async def test_symlink_out_of_the_store_is_refused(svc: Running) -> None:
    outside = svc.store.parent / "secret.webp"
    outside.write_bytes(b"secret")
    (svc.store / "pending/evil.webp").symlink_to(outside)
    await expect_error(
        svc.stub.Delete(images_pb2.DeleteRequest(key="pending/evil.webp")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "outside the image store",
    )
    await expect_error(
        svc.stub.Link(images_pb2.LinkRequest(source_key="pending/evil.webp", target_key=HASH_A)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "outside the image store",
    )
    assert outside.read_bytes() == b"secret"
    assert not (svc.store / HASH_A).exists()


# --- Pool, health, process life --------------------------------------------------------------------


async def test_concurrent_compresses_all_land(svc: Running) -> None:
    paths = [write(svc.model_root, f"c{i}.jpg", noisy_rgb(640, 480), "JPEG") for i in range(6)]
    replies = await asyncio.gather(*(compress(svc, p, f"pending/c{i}.webp") for i, p in enumerate(paths)))
    assert all((r.width, r.height) == (640, 480) for r in replies)
    assert store_files(svc.store) == {f"pending/c{i}.webp" for i in range(6)}


async def test_pool_survives_a_dead_worker() -> None:
    pool = WorkerPool(1)
    try:
        with pytest.raises(WorkerCrashedError):
            await pool.run(functools.partial(os._exit, 3))
        assert await pool.run(functools.partial(pow, 2, 10)) == 1024
    finally:
        pool.shutdown()


async def test_health_and_reflection_names(svc: Running) -> None:
    health = health_pb2_grpc.HealthStub(svc.channel)
    for name in ("", "modelvault.images.v1.ImageService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_process_prints_port_serves_and_exits_0_on_sigterm(model_root: Path, data_dir: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "protos")]),
        "MODELVAULT_MODEL_ROOTS": str(model_root),
        "MODELVAULT_DATA_DIR": str(data_dir),
        "MODELVAULT_IMAGES_LISTEN": "127.0.0.1:0",
        "MODELVAULT_IMAGES_WORKERS": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.images", cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("LISTENING "), line
        port = int(line.split()[1])
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            image = write(model_root, "p.png", noisy_rgb(40, 30), "PNG")
            stub = images_pb2_grpc.ImageServiceStub(channel)
            request = images_pb2.CompressRequest(source_path=str(image), key=HASH_A)
            done = await stub.Compress(request, timeout=30)
            assert (done.width, done.height) == (40, 30)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.communicate()
