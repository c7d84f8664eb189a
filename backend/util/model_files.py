"""What counts as a model file and as its side-car preview, and the walk that finds them under the roots."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.util.model_paths import ModelPathError, resolve_model_file

log = logging.getLogger(__name__)

MODEL_SUFFIXES = frozenset({".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf"})
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


@dataclass(frozen=True)
class Unlisted:
    """A file or folder the walk cannot report as a model; path is printable (odd bytes as \\xNN)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class FoundModel:
    """A model file the walk found: plain strings, as 100,000 of them pass through (pathlib is slow at that)."""

    path: str
    model_root: str
    relative_path: str
    size: int
    mtime_ns: int
    inode: int
    device: int
    preview: str | None


def is_model_file(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in MODEL_SUFFIXES


def printable_path(path: str) -> str:
    """A path as text that any channel carries: bytes that are not UTF-8 become \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_utf8(text: str) -> bool:
    """False for names whose bytes are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        return [rank[-1] for rank in sorted(self._by_stem.get(stem, ()))]


def previews_of(model: Path, siblings: Iterable[Path]) -> list[Path]:
    """Side-car previews of model among its siblings, best first (see PreviewIndex)."""
    siblings = list(siblings)
    by_name = {path.name: path for path in siblings}
    return [by_name[name] for name in PreviewIndex(by_name).previews(model.stem)]


def find_models(roots: Sequence[Path], folder: Path | None = None) -> Iterator[FoundModel | Unlisted]:
    """Every model file under folder (default: every root), with its best preview, in path order.

    Symlinked folders are not followed (no loops, no escapes); a symlinked file counts if it resolves
    inside the roots, once, under its resolved path. Hidden folders (.git, .cache) are skipped. A name
    that is not UTF-8 cannot be catalogued: it comes out as Unlisted, and the walk goes on.
    """
    linked: set[Path] = set()
    tops = [top.resolve() for top in ([folder] if folder is not None else roots)]
    for top in tops:
        root = str(next(r for r in roots if top == r or top.is_relative_to(r)))
        pending = [str(top)]
        while pending:
            directory = pending.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as exc:
                log.warning("cannot list %s: %s", printable_path(directory), exc.strerror)
                continue
            subdirs = []
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                    if is_utf8(entry.name):
                        subdirs.append(entry.path)
                    else:
                        yield Unlisted(printable_path(entry.path), "the folder name is not valid UTF-8")
            pending.extend(reversed(subdirs))
            yield from _models_in(entries, roots, root, tops, linked)


def _models_in(
    entries: list[os.DirEntry], roots: Sequence[Path], root: str, tops: list[Path], linked: set[Path]
) -> Iterator[FoundModel | Unlisted]:
    index = PreviewIndex(entry.name for entry in entries)
    for entry in entries:
        if not is_model_file(entry.name):
            continue
        if not is_utf8(entry.name):
            yield Unlisted(printable_path(entry.path), "the file name is not valid UTF-8; rename it to catalogue it")
            continue
        try:
            model = _linked_model(entry, roots, tops, linked) if entry.is_symlink() else _plain_model(entry, root)
        except ModelPathError:
            continue  # a broken or escaping symlink: not a model
        except OSError as exc:
            log.warning("cannot stat %s: %s", entry.path, exc.strerror)
            continue
        if model is None:
            continue
        # A plain file's path is its folder's and its own name, both checked; a link's target is not.
        if entry.is_symlink() and not is_utf8(model.path):
            yield Unlisted(printable_path(model.path), "the file's real path is not valid UTF-8")
            continue
        previews = index.previews(os.path.splitext(entry.name)[0])
        if previews:
            model = dataclasses.replace(model, preview=os.path.join(os.path.dirname(entry.path), previews[0]))
        yield model


def _plain_model(entry: os.DirEntry, root: str) -> FoundModel | None:
    """A file in a folder the walk reached without symlinks: its path is already its resolved path."""
    st = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        return None  # a FIFO or socket named like a model
    relative = entry.path[len(root) + 1:]
    return FoundModel(entry.path, root, relative, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, None)


def _linked_model(entry: os.DirEntry, roots: Sequence[Path], tops: list[Path], linked: set[Path]) -> FoundModel | None:
    """A symlinked model once, under its resolved path; None when the walk finds (or found) its target itself."""
    model = resolve_model_file(entry.path, roots)
    target = model.resolved_path
    walked = is_model_file(target.name) and any(
        target.is_relative_to(top) and not any(part.startswith(".") for part in target.relative_to(top).parts)
        for top in tops)
    if walked or target in linked:
        return None
    linked.add(target)
    return FoundModel(str(target), str(model.model_root), model.relative_path, model.size, model.mtime_ns,
                      model.inode, model.device, None)
