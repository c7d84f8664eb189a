"""Image service benchmark: big previews to WebP through the Compress RPC, one at a time and in parallel."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import grpc
from PIL import Image, ImageDraw, ImageFilter

from backend.util.config import load_config
from modelvault.images.v1 import images_pb2, images_pb2_grpc
from services.images.server import build_service

RUNS = 5
POOL_IMAGES_PER_WORKER = 4


def make_picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """Photo-like content: gradients, shapes, texture and grain (flat colour encodes unrealistically fast)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    texture = Image.effect_noise((width // 8, height // 8), 60)
    texture = texture.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((width, height), 12)
    image = Image.merge("RGB", (gradient, texture, gradient.rotate(180)))
    draw = ImageDraw.Draw(image)
    step = max(width, height) // 12
    for i in range(24):
        x, y = (i * 7919 + seed * 31) % width, (i * 104729 + seed * 17) % height
        colour = ((i * 53) % 256, (i * 97 + seed) % 256, (i * 151) % 256)
        draw.ellipse((x, y, x + step, y + step * 2 // 3), fill=colour)
    image = image.filter(ImageFilter.BoxBlur(2))
    return Image.blend(image, Image.merge("RGB", (grain, grain, grain)), 0.15)


async def _measure(models: Path, data: Path, jpeg: Path, png: Path) -> dict[str, float]:
    workers = os.cpu_count() or 1
    config = load_config(
        {
            "MODELVAULT_MODEL_ROOTS": str(models),
            "MODELVAULT_DATA_DIR": str(data),
            "MODELVAULT_IMAGES_LISTEN": "127.0.0.1:0",
            "MODELVAULT_IMAGES_WORKERS": str(workers),
        }
    )
    service = build_service(config)
    port = await service.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = images_pb2_grpc.ImageServiceStub(channel)

            async def compress(path: Path, key: str) -> float:
                started = time.perf_counter()
                await stub.Compress(images_pb2.CompressRequest(source_path=str(path), key=key), timeout=120)
                return time.perf_counter() - started

            # Warm-up: spawn every worker and load Pillow's codecs before anything is timed.
            await asyncio.gather(*(compress(png, f"pending/warm{i}.webp") for i in range(workers)))
            jpeg_s = [await compress(jpeg, "pending/jpeg.webp") for _ in range(RUNS)]
            png_s = [await compress(png, "pending/png.webp") for _ in range(RUNS)]
            count = workers * POOL_IMAGES_PER_WORKER
            started = time.perf_counter()
            await asyncio.gather(*(compress(jpeg, f"pending/pool{i}.webp") for i in range(count)))
            pool_s = time.perf_counter() - started
    finally:
        await service.stop(grace=1)
    return {
        "webp_ms_24mp_jpeg": round(statistics.median(jpeg_s) * 1000, 1),
        "webp_ms_16mp_png": round(statistics.median(png_s) * 1000, 1),
        "webp_pool_images_per_s": round(count / pool_s, 2),
    }


def run(workdir: Path) -> dict[str, float]:
    """Median ms of one Compress RPC (24 MP JPEG, 16 MP PNG, one at a time, warm pool), and the
    throughput of CPU-count × 4 concurrent Compress RPCs of the 24 MP JPEG with workers = CPU count."""
    models, data = workdir / "models", workdir / "data"
    models.mkdir(parents=True, exist_ok=True)
    (data / "images" / "pending").mkdir(parents=True, exist_ok=True)
    jpeg, png = models / "photo_24mp.jpg", models / "render_16mp.png"
    make_picture(6000, 4000, seed=1).save(jpeg, "JPEG", quality=90)
    make_picture(4000, 4000, seed=2).save(png, "PNG", compress_level=3)
    return asyncio.run(_measure(models, data, jpeg, png))


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp))))
