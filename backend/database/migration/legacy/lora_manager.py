"""ComfyUI-Lora-Manager's `<stem>.metadata.json`: its own hash and size, and the Civitai version when fetched.

It fills fields it does not know with placeholders: `"base_model": "Unknown"`, and the file's own stem as
`model_name`; those say nothing. Its newer releases keep the trigger words the user edits in a top-level
`trainedWords`.
"""

from __future__ import annotations

from backend.database.migration.legacy.civitai_helper import version_metadata
from backend.database.migration.legacy.claims import (
    Claim,
    LegacyFormatError,
    file_name_of,
    json_object,
    known_text,
    metadata,
    sha256_of,
    words,
)

SOURCE = "lora_manager"
SUFFIX = ".metadata.json"


def read(raw: bytes, model_file_name: str) -> Claim:
    data = json_object(raw)
    sha256 = sha256_of(data.get("sha256"), "sha256")
    file_path = data.get("file_path")
    # The side-car's place ties it to its model; file_path is only checked to name the same file,
    # since a library moved from another machine keeps the old folders in it.
    if isinstance(file_path, str) and file_path and file_name_of(file_path) != model_file_name:
        raise LegacyFormatError(f"file_path names another file: {file_path[:200]!r}")
    size = data.get("size")
    unverifiable = None
    if "size" in data and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        # A size that cannot be compared with the file: its hash cannot be checked against the disk either.
        unverifiable = f"its size field is not a number of bytes: {str(size)[:40]!r}"
        size = None
    civitai = data.get("civitai") if isinstance(data.get("civitai"), dict) else {}
    model = civitai.get("model") if isinstance(civitai.get("model"), dict) else {}
    fields = version_metadata(civitai, model)
    stem = model_file_name.rsplit(".", 1)[0]
    own = metadata(model_name=known_text(data.get("model_name"), placeholder=stem),
                   base_model=known_text(data.get("base_model")), trained_words=words(data.get("trainedWords")))
    # The tool's own name, base model and trigger words are what its user saw and may have edited.
    return Claim(source=SOURCE, sha256=sha256, size=size, metadata={**fields, **own}, unverifiable=unverifiable)
