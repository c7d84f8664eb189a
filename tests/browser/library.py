"""A generated model library for the page's tests: real files, real PNG previews, registered through the API."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Model:
    path: Path
    sha256: str
    color: tuple[int, int, int]

    @property
    def name(self) -> str:
        return self.path.stem


Color = tuple[int, int, int]


def write_model(
    root: Path, relative: str, size: int = 4096, color: Color | None = (200, 40, 40), painter=None,
) -> Path:
    """A model file of random bytes, with a one-colour PNG preview (or the painter's) beside it when color is given."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    # Bytes that follow from the name: the same library hashes the same in every run (and its screenshot too).
    path.write_bytes(random.Random(relative).randbytes(size))
    if color is not None:
        (painter or write_preview)(path, color)
    return path


def write_big_model(root: Path, relative: str, size: int, color: Color, painter=None) -> Path:
    """A sparse model file: gigabytes to hash, none on disk; with a preview beside it."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(os.urandom(4096))
        out.truncate(size)
    (painter or write_preview)(path, color)
    return path


def write_preview(model: Path, color: Color) -> None:
    """The side-car picture other tools leave beside a model: <name>.png."""
    Image.new("RGB", (60, 80), color).save(model.with_suffix(".png"))


def write_picture(model: Path, color: Color) -> None:
    """A side-car picture with something to look at (for screenshots): a gradient towards the colour, a sun."""
    size = (300, 400)
    dark = tuple(c // 4 for c in color)
    picture = Image.composite(Image.new("RGB", size, color), Image.new("RGB", size, dark),
                              Image.linear_gradient("L").resize(size))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((80, 60, 220, 200), fill=tuple(min(255, c + 90) for c in color))
    draw.polygon([(0, 400), (120, 230), (210, 320), (300, 250), (300, 400)], fill=dark)
    picture.save(model.with_suffix(".png"))


async def post(site: str, route: str, body: dict) -> dict:
    async with aiohttp.ClientSession() as session, session.post(f"{site}{route}", json=body) as reply:
        answer = await reply.json()
        assert reply.status < 300, answer
        return answer


async def run_job(site: str, body: dict) -> dict:
    """Start a job over the API and follow it to its end; the ended job."""
    job = await post(site, "/api/jobs", body)
    async with aiohttp.ClientSession() as session:
        while job["state"] in ("queued", "running"):
            await asyncio.sleep(0.05)
            async with session.get(f"{site}/api/jobs/{job['id']}") as reply:
                job = await reply.json()
    return job


async def register(site: str, path: Path) -> dict:
    preview = path.with_suffix(".png")
    body = {"path": str(path), "preview_path": str(preview) if preview.exists() else None}
    return await post(site, "/api/models/pending", body)


async def add_model(site: str, root: Path, relative: str, color: Color, size: int = 4096, painter=None) -> Model:
    """A file registered as pending with its preview, then hashed: an active model with a WebP preview."""
    path = write_model(root, relative, size, color, painter)
    await register(site, path)
    answer = await post(site, "/api/models/sha256", {"path": str(path)})
    assert answer["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    return Model(path, answer["sha256"], color)


# Distinct colours, far apart, so a preview shown under the wrong model is caught.
COLORS = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 200, 30), (150, 50, 180), (20, 180, 190)]


async def add_library(
    site: str, root: Path, names: list[str], sizes: list[int] | None = None, painter=None,
) -> list[Model]:
    sizes = sizes or [4096 * (i + 1) for i in range(len(names))]
    return [
        await add_model(site, root, name, COLORS[i % len(COLORS)], sizes[i], painter) for i, name in enumerate(names)
    ]


def catalogue_rows(root: Path, count: int, folders: list[str]) -> list[tuple]:
    """Rows of active models as the catalogue holds them, without files: for tests of scale, not of hashing."""
    rows = []
    for index in range(count):
        sha256 = hashlib.sha256(index.to_bytes(8, "little")).hexdigest()
        path = root / folders[index % len(folders)] / f"model_{index:05d}.safetensors"
        rows.append((str(path), sha256, 100_000_000 + index, 1_700_000_000_000_000_000 + index, index, 1,
                     f"{sha256}.webp"))
    return rows


async def insert_models(dsn: str, rows: list[tuple]) -> None:
    """Rows straight into PostgreSQL with COPY: thousands of models in a moment."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "models", records=rows, columns=["path", "sha256", "size", "mtime_ns", "inode", "device", "image_key"])
        await conn.execute("ANALYZE models")
    finally:
        await conn.close()
