"""A GGUF header (llama.cpp's format, also used for quantised Flux/SD models): key-value pairs and tensor infos.

Layout, little-endian: magic "GGUF", uint32 version (2 or 3), uint64 tensor count, uint64 key-value count; each
pair a string key, a uint32 value type and the value; then per tensor its name, dimensions, type and offset.
Strings are a uint64 length and UTF-8 bytes. Only this part is read, never the tensor data after it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from services.hasher.headers.errors import HeaderError
from services.hasher.headers.gguf_names import DIFFUSION_ARCHITECTURES, TEXT_ENCODER_ARCHITECTURES, quantization

MAGIC = b"GGUF"
VERSIONS = (2, 3)
# Past this many bytes a header is refused: a large tokenizer vocabulary is a few MB.
MAX_HEADER_BYTES = 256 * 1024 * 1024
MAX_COUNT = 10_000_000
# A string longer than this is not kept (its length is noted); arrays longer than this are kept as their length.
KEEP_STRING_CHARS = 1024
KEEP_ARRAY_ITEMS = 16

# Value type -> struct format of the scalar types.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GgufHeader:
    model_type: str
    architecture: str
    facts: dict[str, Any]


class _Reader:
    """Reads the header's fields from a buffered file, refusing to run past its end or past the size cap."""

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file = file
        self._size = size

    def take(self, count: int) -> bytes:
        if self._file.tell() + count > min(self._size, MAX_HEADER_BYTES):
            self._end(count)
        return self._file.read(count)

    def skip(self, count: int) -> None:
        if self._file.tell() + count > min(self._size, MAX_HEADER_BYTES):
            self._end(count)
        self._file.seek(count, os.SEEK_CUR)

    def _end(self, count: int) -> None:
        if self._file.tell() + count > self._size:
            raise HeaderError(f"truncated: the header runs past the end of the file ({self._size} bytes)")
        raise HeaderError(f"the header is over the {MAX_HEADER_BYTES}-byte limit")

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self) -> int:
        value = self.scalar("<Q")
        if value > MAX_COUNT:
            raise HeaderError(f"a count of {value} is not believable in a header")
        return value

    def string(self, keep: bool = True) -> str | None:
        length = self.scalar("<Q")
        if not keep or length > KEEP_STRING_CHARS * 4:
            self.skip(length)
            return None
        raw = self.take(length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HeaderError("a string is not UTF-8") from None

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind = self.scalar("<I")
            length = self.count()
            if length > KEEP_ARRAY_ITEMS:
                self._skip_items(item_kind, length)
                return {"array_length": length}
            return [self.value(item_kind) for _ in range(length)]
        raise HeaderError(f"unknown value type {kind}")

    def _skip_items(self, kind: int, length: int) -> None:
        if kind in _SCALARS:
            self.skip(struct.calcsize(_SCALARS[kind]) * length)
        elif kind == _STRING:
            for _ in range(length):
                self.string(keep=False)
        else:
            for _ in range(length):
                self.value(kind)


def read(path: Path) -> GgufHeader:
    with open(path, "rb") as file:
        reader = _Reader(file, os.fstat(file.fileno()).st_size)
        if reader.take(4) != MAGIC:
            raise HeaderError("not a GGUF file: the magic number is missing")
        version = reader.scalar("<I")
        if version not in VERSIONS:
            raise HeaderError(f"GGUF version {version} is not read (only versions 2 and 3)")
        tensor_count, kv_count = reader.count(), reader.count()
        values: dict[str, Any] = {}
        for _ in range(kv_count):
            key = reader.string()
            values[key or ""] = reader.value(reader.scalar("<I"))
        parameters, tensor_types = 0, {}
        for _ in range(tensor_count):
            reader.string(keep=False)
            dims = [reader.scalar("<Q") for _ in range(reader.scalar("<I"))]
            kind = reader.scalar("<I")
            reader.skip(8)  # the tensor's offset in the data section
            elements = 1
            for dim in dims:
                elements *= dim
            parameters += elements
            tensor_types[kind] = tensor_types.get(kind, 0) + elements
    return _header(version, values, tensor_count, parameters, tensor_types)


def _header(version: int, values: dict[str, Any], tensor_count: int, parameters: int,
            tensor_types: dict[int, int]) -> GgufHeader:
    architecture = _text(values.get("general.architecture")) or "unknown"
    if architecture in DIFFUSION_ARCHITECTURES:
        model_type = "checkpoint"
    elif architecture in TEXT_ENCODER_ARCHITECTURES:
        model_type = "text_encoder"
    else:
        model_type = "unknown"  # a llama GGUF may be a chat model or another model's text encoder: not guessed
    facts: dict[str, Any] = {"gguf_version": version, "tensor_count": tensor_count}
    # Declared where the file says it, else counted from the tensors (every element of every tensor).
    declared = values.get("general.parameter_count")
    facts["parameter_count"] = declared if isinstance(declared, int) and declared > 0 else parameters
    if title := _text(values.get("general.name")):
        facts["title"] = title
    if size_label := _text(values.get("general.size_label")):
        facts["size_label"] = size_label
    if (quant := quantization(values.get("general.file_type"), tensor_types)) is not None:
        facts["quantization"] = quant
    context = values.get(f"{architecture}.context_length")
    if isinstance(context, int) and not isinstance(context, bool):
        facts["context_length"] = context
    facts["embedded_metadata"] = {key: value for key, value in values.items() if _keepable(value)}
    return GgufHeader(model_type, architecture, facts)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _keepable(value: Any) -> bool:
    """Scalars and short strings are facts; what was skipped (None) or is a long list is not."""
    return value is not None and not (isinstance(value, float) and value != value)
