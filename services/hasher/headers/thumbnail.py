"""The thumbnail a safetensors header may embed: Stability's modelspec.thumbnail, an image as a base64 data URI."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from services.hasher.headers import safetensors_header
from services.hasher.headers.errors import HeaderError

# Decoded, it must fit the image service's 4 MiB messages; a thumbnail is a few hundred KB at most.
MAX_THUMBNAIL_BYTES = 3 * 1024 * 1024
_DATA_URI = re.compile(r"data:(image/[a-z0-9.+-]+)(?:;[a-z0-9=.+-]+)*;base64,", re.IGNORECASE)


def has_thumbnail(metadata: dict[str, str]) -> bool:
    return _DATA_URI.match(metadata.get("modelspec.thumbnail", "")) is not None


def read_thumbnail(path: Path) -> tuple[bytes, str]:
    """(image bytes, media type) from the file's header; HeaderError when it has none that decodes."""
    if path.suffix.lower() != ".safetensors":
        raise HeaderError("only a safetensors file embeds a thumbnail")
    uri = safetensors_header.read(path).metadata.get("modelspec.thumbnail", "")
    match = _DATA_URI.match(uri)
    if match is None:
        raise HeaderError("the header has no thumbnail (modelspec.thumbnail as an image data URI)")
    encoded = uri[match.end():]
    if len(encoded) > MAX_THUMBNAIL_BYTES * 4 // 3 + 4:
        raise HeaderError(f"the thumbnail is over {MAX_THUMBNAIL_BYTES} bytes")
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HeaderError("the thumbnail's base64 is malformed") from None
    return image, match.group(1).lower()
