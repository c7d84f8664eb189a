"""The short hashes people look models up by (AutoV1, AutoV3), fed the same blocks as the file's SHA-256."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

# A1111's old `model_hash`: SHA-256 of the 64 KiB at offset 1 MiB, first 8 hex digits.
AUTOV1_OFFSET = 1 << 20
AUTOV1_LENGTH = 64 << 10
AUTOV1_DIGITS = 8
# sd-webui-additional-networks' hash (Civitai's AutoV3): SHA-256 of every byte after a safetensors header.
AUTOV3_DIGITS = 12
_HEADER_LENGTH_BYTES = 8
# What the format's own reader refuses: past this the first 8 bytes are no safetensors header length.
MAX_HEADER_BYTES = 100_000_000


class Digests(NamedTuple):
    """What one read of a file gives: its SHA-256 and its short hashes ("" where it has none), lowercase hex."""

    sha256: str
    autov1: str = ""
    autov3: str = ""


class _Range:
    """A SHA-256 of the bytes [start, end) of a stream of blocks, whatever the blocks' sizes."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.sha = hashlib.sha256()
        self.fed = 0

    def feed(self, block: memoryview, at: int) -> None:
        lo, hi = max(self.start, at), min(self.end, at + len(block))
        if lo < hi:
            self.sha.update(block[lo - at:hi - at])
            self.fed += hi - lo


class ShortHashes:
    """Fed each block of the file in order (with its offset); `digests` then gives every hash that applies.

    AutoV1: A1111 seeks to 1 MiB and hashes whatever read() gives, so a file shorter than 1 MiB + 64 KiB
    gets the hash of what is there, and one of 1 MiB or less the empty input's hash (e3b0c442), the same
    for all of them. Civitai lists none under 2 MiB. We keep A1111's value for every file with at least
    one byte past 1 MiB, since that is what its images' `Model hash:` says about that file, and give none
    to files of 1 MiB or less, whose shared empty-input value would match every small file.

    AutoV3 only for a file whose first 8 bytes give a header length that fits the file and leaves bytes
    after it; the header's own `sshs_model_hash` is never read (often a placeholder or wrong).
    """

    def __init__(self, size: int, *, autov3: bool) -> None:
        self._size = size
        self._autov1 = _Range(AUTOV1_OFFSET, AUTOV1_OFFSET + AUTOV1_LENGTH) if size > AUTOV1_OFFSET else None
        self._want_autov3 = autov3 and size > _HEADER_LENGTH_BYTES
        self._prefix = b""
        self._autov3: _Range | None = None

    def feed(self, block: memoryview, at: int) -> None:
        if self._autov1 is not None and at < self._autov1.end:
            self._autov1.feed(block, at)
        if self._want_autov3:
            if self._autov3 is None and at < _HEADER_LENGTH_BYTES:
                self._prefix += bytes(block[:_HEADER_LENGTH_BYTES - at])
                if len(self._prefix) == _HEADER_LENGTH_BYTES:
                    self._autov3 = self._after_header(int.from_bytes(self._prefix, "little"))
            if self._autov3 is not None:
                self._autov3.feed(block, at)

    def _after_header(self, header_length: int) -> _Range | None:
        start = _HEADER_LENGTH_BYTES + header_length
        if header_length > MAX_HEADER_BYTES or start >= self._size:
            self._want_autov3 = False
            return None
        return _Range(start, self._size)

    def digests(self, sha256: str) -> Digests:
        autov1 = self._autov1.sha.hexdigest()[:AUTOV1_DIGITS] if self._autov1 is not None else ""
        autov3 = ""
        if self._want_autov3 and self._autov3 is not None and self._autov3.fed == self._size - self._autov3.start:
            autov3 = self._autov3.sha.hexdigest()[:AUTOV3_DIGITS]
        return Digests(sha256, autov1, autov3)

