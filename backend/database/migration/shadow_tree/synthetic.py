"""A synthetic shadow library: N zero-byte model files with believable names, in folders of about a thousand."""

from __future__ import annotations

import os
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

_KINDS = ("Lora", "Stable-diffusion", "VAE", "embeddings", "ControlNet", "ESRGAN")
_TOPICS = ("anime", "portrait", "landscape", "cyberpunk", "watercolor", "photoreal", "fantasy", "scifi", "ink",
           "pixel", "architecture", "character", "style", "concept", "lineart", "cinematic")
_WORDS = ("detail", "light", "shadow", "dream", "neon", "soft", "sharp", "vivid", "retro", "mecha", "forest",
          "ocean", "city", "hero", "noir", "pastel", "glow", "storm", "crystal", "ember", "frost", "dusk")
_BASES = ("sd15", "sdxl", "pony", "flux", "sd3")
_SUFFIXES = (".safetensors",) * 8 + (".ckpt", ".pt")


@dataclass
class SyntheticReport:
    models: int = 0
    previews: int = 0
    folders: int = 0


def _tiny_png() -> bytes:
    """A valid 8x8 grey PNG, built by hand: the generator needs no imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    rows = b"".join(b"\x00" + b"\x80" * 8 for _ in range(8))
    header = (8).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def model_name(rng: random.Random, number: int) -> str:
    words = "_".join(rng.sample(_WORDS, 2))
    return f"shadow_{rng.choice(_TOPICS)}_{words}_{rng.choice(_BASES)}_v{rng.randint(1, 9)}_{number:06d}"


def build_synthetic_tree(
    dest: Path, count: int, *, preview_percent: float = 0.0, per_folder: int = 1000, seed: int = 0
) -> SyntheticReport:
    """count zero-byte model files under dest (the same names for the same seed); preview_percent of them
    get a side-car <name>.preview.png. Existing files are left as they are."""
    rng = random.Random(seed)
    png = _tiny_png() if preview_percent > 0 else b""
    report = SyntheticReport()
    for start in range(0, count, per_folder):
        folder = dest / rng.choice(_KINDS) / f"{rng.choice(_TOPICS)}_{start // per_folder:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        report.folders += 1
        for number in range(start, min(start + per_folder, count)):
            name = model_name(rng, number)
            _touch(folder / (name + rng.choice(_SUFFIXES)))
            report.models += 1
            if rng.random() * 100 < preview_percent:
                (folder / f"{name}.preview.png").write_bytes(png)
                report.previews += 1
    return report


def _touch(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
