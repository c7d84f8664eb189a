"""What counts as a model file and as its side-car preview."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

MODEL_SUFFIXES = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf"})
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def is_model_file(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in MODEL_SUFFIXES


class PreviewIndex:
    """The side-car previews of one folder by the model stem they belong to, best first: <stem>.preview.png
    (the common convention of model managers), then <stem>.png, .jpg, ... and other <stem>.<tag>.<image>."""

    def __init__(self, names: Iterable[str]) -> None:
        self._by_stem: dict[str, list[tuple[bool, bool, int, str]]] = {}
        for name in names:
            suffix = os.path.splitext(name)[1].lower()
            if suffix not in PREVIEW_SUFFIXES:
                continue
            base = name[: -len(suffix)]
            # <stem>.png, or <stem>.<tag>.png with a tag free of dots (not <stem>.v2.old.png).
            self._add(base, "", suffix, name)
            if "." in base:
                stem, tag = base.rsplit(".", 1)
                self._add(stem, tag, suffix, name)

    def _add(self, stem: str, tag: str, suffix: str, name: str) -> None:
        rank = (tag != "preview", tag != "", PREVIEW_SUFFIXES.index(suffix), name)
        self._by_stem.setdefault(stem, []).append(rank)

    def previews(self, stem: str) -> list[str]:
        ranks = self._by_stem.get(stem)
        return [rank[-1] for rank in sorted(ranks)] if ranks else []


def previews_of(model: Path, siblings: Iterable[Path]) -> list[Path]:
    """Side-car previews of model among its siblings, best first (see PreviewIndex)."""
    siblings = list(siblings)
    by_name = {path.name: path for path in siblings}
    return [by_name[name] for name in PreviewIndex(by_name).previews(model.stem)]
