"""The walk that finds every model file under the roots, fast enough for 100,000 files, and what it reports."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from backend.util.model_files import MODEL_SUFFIXES, PREVIEW_SUFFIXES, PreviewIndex, is_model_file
from backend.util.model_paths import ModelPathError, resolve_model_file
from backend.util.sidecar_files import SIDECAR_SUFFIXES

log = logging.getLogger(__name__)


class FoundModel(NamedTuple):
    """A model file the walk found: plain strings and a tuple, as 100,000 of them pass through."""

    path: str
    model_root: str
    relative_path: str
    size: int
    mtime_ns: int
    inode: int
    device: int
    preview: str | None
    # A side-car JSON of another tool (.civitai.info, ...) lies beside it: legacy data to import.
    has_sidecar: bool = False
    # The preview's size and mtime: a picture replaced beside a model is another preview.
    preview_size: int = 0
    preview_mtime_ns: int = 0


class Unlisted(NamedTuple):
    """A file or folder the walk cannot report as a model; path is printable (odd bytes as \\xNN)."""

    path: str
    reason: str


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
    # One look at each name's suffix; this loop runs once per file of the library, so it stays plain.
    models, images, sidecar_stems = [], [], set()
    for entry in entries:
        name = entry.name
        suffix = name[name.rfind("."):].lower() if name.rfind(".") > 0 else ""
        if suffix in MODEL_SUFFIXES:
            models.append(entry)
        elif suffix in PREVIEW_SUFFIXES and is_utf8(name):  # a preview's path must cross gRPC too
            images.append(name)
        elif suffix in (".info", ".json"):
            sidecar_stems.update(name[: -len(s)] for s in SIDECAR_SUFFIXES if name.endswith(s))
    index = PreviewIndex(images) if images else None
    for entry in models:
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
        if isinstance(model, Unlisted):
            yield model
            continue
        if index is not None and (previews := index.previews(entry.name[: entry.name.rfind(".")])):
            model = _with_preview(model, os.path.join(os.path.dirname(entry.path), previews[0]))
        if sidecar_stems and entry.name[: entry.name.rfind(".")] in sidecar_stems:
            model = model._replace(has_sidecar=True)
        yield model


def _with_preview(model: FoundModel, preview: str) -> FoundModel:
    """The model with its side-car picture and that picture's size and mtime (none if it vanished meanwhile)."""
    try:
        st = os.stat(preview)
    except OSError:
        return model
    return model._replace(preview=preview, preview_size=st.st_size, preview_mtime_ns=st.st_mtime_ns)


def _plain_model(entry: os.DirEntry, root: str) -> FoundModel | None:
    """A file in a folder the walk reached without symlinks: its path is already its resolved path."""
    st = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        return None  # a FIFO or socket named like a model
    path = entry.path
    return FoundModel(path, root, path[len(root) + 1:], st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, None)


def _linked_model(
    entry: os.DirEntry, roots: Sequence[Path], tops: list[Path], linked: set[Path]
) -> FoundModel | Unlisted | None:
    """A symlinked model once, under its resolved path; None when the walk finds (or found) its target itself."""
    model = resolve_model_file(entry.path, roots)
    target = model.resolved_path
    walked = is_model_file(target.name) and any(
        target.is_relative_to(top) and not any(part.startswith(".") for part in target.relative_to(top).parts)
        for top in tops)
    if walked or target in linked:
        return None
    linked.add(target)
    if not is_utf8(str(target)):
        return Unlisted(printable_path(str(target)), "the file's real path is not valid UTF-8")
    return FoundModel(str(target), str(model.model_root), model.relative_path, model.size, model.mtime_ns,
                      model.inode, model.device, None)
