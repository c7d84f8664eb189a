"""The side-car JSON files each tool leaves beside a model, and the claims read from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from backend.database.migration.legacy import a1111_user_metadata, civitai_helper, lora_manager, stability_matrix
from backend.database.migration.legacy.claims import Claim, LegacyFormatError
from backend.util.sidecar_files import SIDECAR_SUFFIXES

# A reader's None: the side-car says nothing is known (not an error).
Reader = Callable[[bytes, str], Claim | None]
# The plain `.json` last: the other suffixes end with it too, and the longest match names the tool.
READERS: dict[str, tuple[str, Reader]] = {
    module.SUFFIX: (module.SOURCE, module.read)
    for module in (civitai_helper, lora_manager, stability_matrix, a1111_user_metadata)
}
SUFFIXES = tuple(READERS)
assert set(SUFFIXES) == set(SIDECAR_SUFFIXES), "the hasher reads exactly the side-cars we have readers for"


def source_of(sidecar_path: str) -> str:
    return next((source for suffix, (source, _) in READERS.items() if sidecar_path.endswith(suffix)), "unknown")


def read_sidecars(model_file_name: str, sidecars: Iterable[tuple[str, bytes]]
                  ) -> tuple[list[Claim], list[tuple[str, str, str]]]:
    """Claims from (side-car path, content) pairs, and (path, source, reason) for each one that failed."""
    claims, problems = [], []
    for path, content in sidecars:
        suffix = next((s for s in SUFFIXES if path.endswith(s)), None)
        if suffix is None:
            continue
        source, reader = READERS[suffix]
        try:
            claim = reader(content, model_file_name)
        except LegacyFormatError as exc:
            problems.append((path, source, str(exc)))
            continue
        if claim is not None:
            claims.append(claim)
    return claims, problems
