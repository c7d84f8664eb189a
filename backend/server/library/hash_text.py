"""What a look-up by hash was given: a bare hash, or the forms A1111 writes into an image's parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.server.http.errors import ApiError

# Hex digits of each hash people look models up by, and which hashes that length can be.
KINDS_BY_LENGTH: dict[int, tuple[str, ...]] = {
    8: ("autov1",),
    10: ("autov2",),
    # A1111 writes a LoRA's hash as 12 digits: its AutoV3 for a .safetensors file (or the header's
    # sshs_model_hash, which it believes and we do not), else the SHA-256's first 12.
    12: ("autov3", "sha256_prefix"),
    64: ("sha256",),
}
MAX_TEXT = 4000
MAX_HASHES = 50

_LABELLED = re.compile(r"(model hash|lora hashes|ti hashes)\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class WantedHash:
    """One hash to look up, lowercase, and the name A1111 gave it ("name: hash"), if any."""

    name: str | None
    hash: str

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS_BY_LENGTH[len(self.hash)]


def parse_hash_text(text: str) -> list[WantedHash]:
    """The hashes in `abcdef1234`, `Model hash: abcdef1234`, `Lora hashes: "a: 0123456789ab, b: ..."` or
    `a: 0123456789ab`; any case. An ApiError (400) names the first part that is no hash we know."""
    if len(text) > MAX_TEXT:
        raise ApiError(400, "invalid_hash", f"a hash look-up takes at most {MAX_TEXT} characters")
    text = text.strip()
    labelled = _LABELLED.fullmatch(text)
    label, rest = (labelled.group(1).lower(), labelled.group(2).strip()) if labelled else (None, text)
    if label == "model hash" or (label is None and ":" not in rest):
        return [_wanted(None, rest)]
    entries = [entry.strip() for entry in _unquoted(rest).split(",")]
    if len(entries) > MAX_HASHES:
        raise ApiError(400, "invalid_hash", f"a hash look-up takes at most {MAX_HASHES} hashes")
    wanted = []
    for entry in entries:
        # The name may hold a colon itself; the hash is what follows the last one.
        name, colon, value = entry.rpartition(":")
        if not colon or not name.strip():
            raise ApiError(400, "invalid_hash", f"{entry!r} is not of the form 'name: hash'")
        wanted.append(_wanted(name.strip(), value))
    return wanted


def _unquoted(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _wanted(name: str | None, value: str) -> WantedHash:
    value = value.strip().lower()
    if not _HEX.fullmatch(value) or len(value) not in KINDS_BY_LENGTH:
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise ApiError(400, "invalid_hash",
                       f"{shown!r} is no hash a model is looked up by: a SHA-256 (64 hex digits), AutoV1 (8), "
                       "AutoV2 (10) or AutoV3 (12)")
    return WantedHash(name, value)
