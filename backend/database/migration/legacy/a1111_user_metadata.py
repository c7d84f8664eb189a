"""The `<stem>.json` beside a model: the notes a person keeps in AUTOMATIC1111's and Forge's extra-networks
editor (sd-civitai-browser-plus writes the same file, and adds the model's hash and Civitai id).

`"activation text"` (the trigger words the web UI adds to a prompt), `"sd version"` (SD1, SD2, SDXL, ... or
Unknown), `"preferred weight"` (0 when the person never set one), `"negative text"`, `"notes"`,
`"description"`. No size or mtime is recorded: a hash found here is a claim the import never trusts without
reading the file (every other source gives a way to check it against the disk); the notes are the person's
own, and rank above every other source's.
"""

from __future__ import annotations

from typing import Any

from backend.database.migration.legacy.claims import (
    Claim,
    hub_id,
    json_object,
    known_text,
    metadata,
    sha256_of,
    text,
    words,
)

SOURCE = "a1111_user_metadata"
SUFFIX = ".json"


def read(raw: bytes, model_file_name: str) -> Claim | None:
    data = json_object(raw)
    found = metadata(
        trained_words=words(data.get("activation text")),
        base_model=known_text(data.get("sd version")),
        preferred_weight=_weight(data.get("preferred weight")),
        negative_prompt=text(data.get("negative text")),
        notes=text(data.get("notes")),
        description=text(data.get("description")),
        civitai_model_id=hub_id(data.get("modelId")),
    )
    claimed = data.get("sha256", data.get("SHA256"))
    sha256 = sha256_of(claimed, "sha256") if claimed not in (None, "") else None
    if sha256 is None and not found:
        return None
    return Claim(source=SOURCE, sha256=sha256, metadata=found,
                 unverifiable="it records no size or date to check its hash against the file" if sha256 else None)


def _weight(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value == 0:
        return None
    return float(value)
