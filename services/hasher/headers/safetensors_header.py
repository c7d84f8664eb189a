"""A safetensors header: an 8-byte little-endian length N, then N bytes of JSON (tensors and __metadata__)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from services.hasher.headers.errors import HeaderError

# The format's own reader refuses headers over 100 MB (safetensors' MAX_HEADER_SIZE): so do we, before reading.
MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class SafetensorsHeader:
    # Tensor name -> shape.
    shapes: dict[str, tuple[int, ...]]
    # __metadata__: string keys and string values, as the format requires (anything else is left out).
    metadata: dict[str, str]


def read(path: Path) -> SafetensorsHeader:
    """Reads the length and the header only; OSError when the file cannot be read at all."""
    with open(path, "rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise HeaderError(f"truncated: {len(prefix)} bytes, shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise HeaderError(f"header of {length} bytes is over the {MAX_HEADER_BYTES}-byte limit")
        raw = file.read(length)
    if len(raw) < length:
        raise HeaderError(f"truncated: the header says {length} bytes, the file has {len(raw)} after the length")
    return parse(raw)


def parse(raw: bytes) -> SafetensorsHeader:
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeaderError(f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise HeaderError(f"the header is a JSON {type(header).__name__}, not an object")
    shapes: dict[str, tuple[int, ...]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise HeaderError(f"tensor {name!r} has no valid shape")
        shapes[name] = tuple(shape)
    raw_metadata = header.get("__metadata__") or {}
    if not isinstance(raw_metadata, dict):
        raise HeaderError("__metadata__ is not an object")
    metadata = {k: v for k, v in raw_metadata.items() if isinstance(k, str) and isinstance(v, str)}
    return SafetensorsHeader(shapes, metadata)
