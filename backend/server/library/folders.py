"""The folder tree of the catalogue: every folder that holds models, with how many it holds below it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath


def root_of(path: str, roots: Sequence[str]) -> str | None:
    """The model root a path lies in (the longest, when roots nest)."""
    found = None
    for root in roots:
        if (path == root or path.startswith(root.rstrip("/") + "/")) and (found is None or len(root) > len(found)):
            found = root
    return found


def folder_tree(direct: Iterable[tuple[str, int]], roots: Sequence[str]) -> list[dict[str, object]]:
    """[{"path", "count"}] for every root and every folder between a root and a folder holding models,
    sorted by path; count is every model at or below the folder. Folders outside the roots (a root that was
    removed from the settings) are their own tops."""
    counts: dict[str, int] = {root: 0 for root in roots}
    for folder, count in direct:
        top = root_of(folder, roots)
        counts[folder] = counts.get(folder, 0) + count
        for parent in PurePosixPath(folder).parents:
            parent_text = str(parent)
            if top is None or len(parent_text) < len(top):
                break
            counts[parent_text] = counts.get(parent_text, 0) + count
    return [{"path": path, "count": count} for path, count in sorted(counts.items())]
