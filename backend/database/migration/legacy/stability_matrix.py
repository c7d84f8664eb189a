"""Stability Matrix's `<stem>.cm-info.json` (its ConnectedModelInfo): Civitai ids, names and the file's hashes."""

from __future__ import annotations

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

SOURCE = "stability_matrix"
SUFFIX = ".cm-info.json"
# Our metadata field: its text field in the file.
_TEXT_FIELDS = {"model_name": "ModelName", "version_name": "VersionName", "model_type": "ModelType",
                "base_model": "BaseModel"}


def read(raw: bytes, model_file_name: str) -> Claim:
    data = json_object(raw)
    hashes = data.get("Hashes")
    if not isinstance(hashes, dict):
        raise LegacyFormatError("Hashes is missing or not an object")
    sha256 = sha256_of(hashes.get("SHA256"), "Hashes.SHA256")
    return Claim(source=SOURCE, sha256=sha256, metadata=metadata(
        **{field: text(data.get(key)) for field, key in _TEXT_FIELDS.items()},
        trained_words=words(data.get("TrainedWords")),
        civitai_model_id=hub_id(data.get("ModelId")), civitai_version_id=hub_id(data.get("VersionId")),
    ))
