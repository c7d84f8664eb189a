"""What counts as a model file and as its side-car preview, and the walk that finds them under the roots."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from backend.util.model_paths import ModelFile, ModelPathError, resolve_model_file

log = logging.getLogger(__name__)

MODEL_SUFFIXES = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf"})
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def is_model_file(name: str) -> bool:
    return Path(name).suffix.lower() in MODEL_SUFFIXES


def previews_of(model: Path, siblings: Iterable[Path]) -> list[Path]:
    """Side-car previews of model among its siblings, best first: <stem>.preview.png (the common
    convention of model managers), then <stem>.png, .jpg, ... and other <stem>.<tag>.<image> files."""
    stem = model.stem
    found = []
    for path in siblings:
        suffix = path.suffix.lower()
        if suffix not in PREVIEW_SUFFIXES or not path.name.startswith(stem + "."):
            continue
        middle = path.name[len(stem) + 1 : -len(suffix)]
        if "." not in middle:  # <stem>.png or <stem>.<tag>.png, not <stem>.v2.old.png
            found.append((middle != "preview", middle != "", PREVIEW_SUFFIXES.index(suffix), path.name, path))
    return [entry[-1] for entry in sorted(found)]


def find_models(roots: Sequence[Path], folder: Path | None = None) -> Iterator[tuple[ModelFile, Path | None]]:
    """Every model file under folder (default: every root), checked like any request, with its best preview.

    Symlinked folders are not followed (no loops, no escapes); a symlinked file counts if it resolves
    inside the roots, once, under its resolved path. Hidden folders (.git, .cache) are skipped.
    """
    seen: set[Path] = set()
    for top in [folder] if folder is not None else roots:
        for directory, subdirs, names in os.walk(top, onerror=lambda exc: log.warning("cannot list %s", exc)):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            files = [Path(directory, name) for name in sorted(names)]
            for path in files:
                if not is_model_file(path.name):
                    continue
                try:
                    model = resolve_model_file(str(path), roots)
                except ModelPathError:
                    continue  # a broken or escaping symlink, a FIFO named like a model: not a model
                if model.resolved_path in seen:
                    continue
                seen.add(model.resolved_path)
                previews = previews_of(path, files)
                yield model, previews[0] if previews else None
