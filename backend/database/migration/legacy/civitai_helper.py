"""Civitai Helper's `<stem>.civitai.info`: the Civitai model-version JSON saved beside the model."""

from __future__ import annotations

from typing import Any

from backend.database.migration.legacy.claims import (
    Claim,
    LegacyFormatError,
    hub_id,
    json_object,
    metadata,
    sha256_of,
    text,
    words,
)

SOURCE = "civitai_helper"
SUFFIX = ".civitai.info"


def read(raw: bytes, model_file_name: str) -> Claim | None:
    """The claim for model_file_name: its own entry of files[], else the primary one. None for `{}`, which the
    tool writes when the hub did not know the file: nothing is known, and nothing is wrong."""
    version = json_object(raw)
    return claim_from_version(version, model_file_name, SOURCE) if version else None


def claim_from_version(version: dict[str, Any], model_file_name: str, source: str) -> Claim:
    """A Civitai model-version object (also found inside other tools' side-cars) as a claim."""
    entry = _file_entry(version.get("files"), model_file_name)
    hashes = entry.get("hashes")
    if not isinstance(hashes, dict):
        raise LegacyFormatError("files[].hashes is missing or not an object")
    sha256 = sha256_of(hashes.get("SHA256", hashes.get("sha256")), "files[].hashes.SHA256")
    size_kb = entry.get("sizeKB")
    size = None
    if isinstance(size_kb, (int, float)) and not isinstance(size_kb, bool) and size_kb >= 0:
        size = round(size_kb * 1024)
    model = version.get("model") if isinstance(version.get("model"), dict) else {}
    return Claim(
        source=source, sha256=sha256, size=size, size_tolerance=1024 if size is not None else 0,
        metadata=version_metadata(version, model),
    )


def version_metadata(version: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    return metadata(
        model_name=text(model.get("name")),
        version_name=text(version.get("name")),
        model_type=text(model.get("type")),
        base_model=text(version.get("baseModel")),
        trained_words=words(version.get("trainedWords")),
        civitai_model_id=hub_id(version.get("modelId")),
        civitai_version_id=hub_id(version.get("id")),
    )


def _file_entry(files: Any, model_file_name: str) -> dict[str, Any]:
    if not isinstance(files, list):
        raise LegacyFormatError("files is missing or not a list")
    entries = [f for f in files if isinstance(f, dict)]
    named = [f for f in entries if f.get("name") == model_file_name]
    primary = [f for f in entries if f.get("primary") is True]
    # Only one model file in the list: it is this one, whatever the user renamed it to.
    model_files = [f for f in entries if f.get("type", "Model") == "Model"]
    for candidates in (named, primary, model_files if len(model_files) == 1 else []):
        if candidates:
            return candidates[0]
    raise LegacyFormatError(f"no entry of files[] is {model_file_name!r} or primary")
