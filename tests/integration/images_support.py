"""Images, keys and a running image service for the image service's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from PIL import Image

from backend.util.config import Config
from modelvault.images.v1 import images_pb2, images_pb2_grpc
from services.images.server import ImageService, build_service

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
    service: ImageService
    stub: images_pb2_grpc.ImageServiceStub
    channel: grpc.aio.Channel
    store: Path
    model_root: Path


async def serve(config: Config, model_root: Path) -> AsyncIterator[Running]:
    """An image service over config, and a stub to it, until the caller is done."""
    service = build_service(config)
    port = await service.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = images_pb2_grpc.ImageServiceStub(channel)
        yield Running(service, stub, channel, config.images_dir, model_root)
    finally:
        await channel.close()
        await service.stop(grace=0)


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


async def compress(svc: Running, path: Path, key: str = HASH_A, timeout: float = 30) -> images_pb2.CompressResponse:
    return await svc.stub.Compress(images_pb2.CompressRequest(source_path=str(path), key=key), timeout=timeout)


def open_result(svc: Running, key: str = HASH_A) -> Image.Image:
    image = Image.open(svc.store / key)
    assert image.format == "WEBP"
    image.load()
    return image


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))
