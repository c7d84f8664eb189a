"""The result of reading one model file's header, and the reading itself: the header's bytes, never the rest."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.hasher.headers import gguf_header, safetensors_header
from services.hasher.headers.classify import UNKNOWN, classify
from services.hasher.headers.errors import HeaderError
from services.hasher.headers.thumbnail import has_thumbnail
from services.hasher.headers.training import architecture_from_metadata, training_facts

# Pickled formats: torch.save, A1111's .ckpt, diffusers' .bin. Unpickling runs code, so they are never opened.
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


@dataclass
class ModelHeader:
    """What one file's header says; error is that file's note (malformed, truncated, oversized), never a failure."""

    format: str
    model_type: str = UNKNOWN
    architecture: str = UNKNOWN
    trigger_words: list[str] = field(default_factory=list)
    # Further facts by field name (title, training, quantization, parameter_count, ...), JSON values.
    facts: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    # The header embeds an image (modelspec.thumbnail), which read_thumbnail returns.
    has_thumbnail: bool = False


def read_header(path: Path) -> ModelHeader:
    """The header of a file already checked to lie inside the model roots; OSError when it cannot be read."""
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return ModelHeader(format="pickle")
    header = _gguf(path) if suffix == ".gguf" else _safetensors(path)
    header.trigger_words = [word for word in map(plain, header.trigger_words) if word]
    header.facts = plain(header.facts)
    header.error = plain(header.error)
    return header


def plain(value: Any) -> Any:
    """Values every consumer takes: JSON's escapes can smuggle NUL and lone surrogates into strings (which
    protobuf and PostgreSQL's jsonb refuse), and GGUF floats can be NaN or infinite (which JSON has not)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _safetensors(path: Path) -> ModelHeader:
    try:
        parsed = safetensors_header.read(path)
    except HeaderError as exc:
        return ModelHeader(format="safetensors", error=str(exc))
    kind = classify(parsed.shapes)
    architecture = kind.architecture
    if architecture == UNKNOWN:
        architecture = architecture_from_metadata(parsed.metadata)
    trigger_words, facts = training_facts(parsed.metadata)
    return ModelHeader(format="safetensors", model_type=kind.model_type, architecture=architecture,
                       trigger_words=trigger_words, facts={**kind.facts, **facts},
                       has_thumbnail=has_thumbnail(parsed.metadata))


def _gguf(path: Path) -> ModelHeader:
    try:
        parsed = gguf_header.read(path)
    except HeaderError as exc:
        return ModelHeader(format="gguf", error=str(exc))
    return ModelHeader(format="gguf", model_type=parsed.model_type, architecture=parsed.architecture,
                       facts=parsed.facts)
