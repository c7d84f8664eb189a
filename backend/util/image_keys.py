"""The grammar of image keys, in one place: `<sha256>.webp` names a content's preview, `pending/<name>.webp`
the preview of a file not hashed yet, `hub/<sha256>-<16 hex>.webp` a picture the hub offers for a content.
How each is made, and how a key from outside is checked."""

from __future__ import annotations

import hashlib
import re
import uuid

PENDING_DIR = "pending"
HUB_DIR = "hub"
SUFFIX = ".webp"
# One file name on Linux file systems; longer names would fail later with a less clear ENAMETOOLONG.
MAX_NAME_BYTES = 255

_HASH_KEY = re.compile(r"[0-9a-f]{64}\.webp")
_HUB_KEY = re.compile(r"hub/[0-9a-f]{64}-[0-9a-f]{16}\.webp")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_IN_KEY = re.compile(r"[\x00-\x1f\x7f/\\]")
# A pending name from a file name: room left for a suffix and ".webp" within MAX_NAME_BYTES.
_MAX_PENDING_NAME_BYTES = 200


# A preview compressed by a registration before its row exists: pending/~staged-<start id>-<uuid>.webp, named
# for the gateway start that wrote it, so that the next start can tell whether its writer is alive.
_STAGED_PREFIX = "~staged-"
_STAGED_NAME = re.compile(r"~staged-([0-9a-f]{32})-[0-9a-f]{32}\.webp")


class InvalidKeyError(Exception):
    """A key that is neither a hash key nor a pending key, or that leaves the store: INVALID_ARGUMENT."""


def active_image_key(sha256: str) -> str:
    """The preview of a content, shared by every file with that SHA-256 (64 lowercase hex digits)."""
    return f"{sha256}{SUFFIX}"


def hub_picture_key(sha256: str, url: str) -> str:
    """A hub's picture of a content, named by its address: the hub may reorder its pictures, and a name that
    never means another picture may be cached for good."""
    return f"{HUB_DIR}/{sha256}-{hashlib.sha256(url.encode()).hexdigest()[:16]}{SUFFIX}"


def pending_image_key(name: str, path: str, *, suffixed: bool) -> str:
    """pending/<name>.webp, or with a suffix derived from the path when that name is already taken."""
    safe = _UNSAFE_IN_KEY.sub("_", name).encode("utf-8", "replace")[:_MAX_PENDING_NAME_BYTES].decode(errors="ignore")
    while ".." in safe:
        safe = safe.replace("..", "_.")
    if not safe or safe.startswith("."):
        safe = "_" + safe
    if suffixed:
        safe += "-" + hashlib.sha256(path.encode()).hexdigest()[:10]
    return f"{PENDING_DIR}/{safe}{SUFFIX}"


def staged_image_key(start_id: str) -> str:
    """A fresh key under which a registration of the gateway started as start_id compresses a preview."""
    return f"{PENDING_DIR}/{_STAGED_PREFIX}{start_id}-{uuid.uuid4().hex}{SUFFIX}"


def staged_owner(file_name: str) -> str | None:
    """The start id of the gateway that staged this file in pending/, or None when it is no staged file
    of that form (a pending preview, or one staged before staged files carried their writer)."""
    match = _STAGED_NAME.fullmatch(file_name)
    return match.group(1) if match else None


def validate_key(key: str) -> None:
    """Accept `<64 lowercase hex>.webp`, `hub/<64 lowercase hex>-<16 lowercase hex>.webp` or
    `pending/<name>.webp`, with a plain, visible file name."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("invalid key: it must be a non-empty string")
    if "\x00" in key:
        raise InvalidKeyError(f"invalid key {key!r}: it contains NUL")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKeyError(f"invalid key {key!r}: it is not valid text (it holds a lone surrogate)") from None
    if _HASH_KEY.fullmatch(key) or _HUB_KEY.fullmatch(key):
        return
    if not key.startswith(PENDING_DIR + "/"):
        raise InvalidKeyError(
            f"invalid key {key!r}: expected '<64 lowercase hex digits>.webp', 'pending/<name>.webp' "
            "or 'hub/<64 lowercase hex digits>-<16 lowercase hex digits>.webp'"
        )
    file_name = key[len(PENDING_DIR) + 1 :]
    name = file_name.removesuffix(SUFFIX)
    if name == file_name:
        raise InvalidKeyError(f"invalid key {key!r}: it must end with {SUFFIX!r}")
    if not name:
        raise InvalidKeyError(f"invalid key {key!r}: the pending name is empty")
    if "/" in name or "\\" in name:
        raise InvalidKeyError(f"invalid key {key!r}: the pending name contains a path separator")
    if ".." in name:
        raise InvalidKeyError(f"invalid key {key!r}: the pending name contains '..'")
    if name.startswith("."):
        # Leading dots are reserved for our temporary files and hidden files.
        raise InvalidKeyError(f"invalid key {key!r}: the pending name starts with '.'")
    if _CONTROL.search(name):
        raise InvalidKeyError(f"invalid key {key!r}: the pending name contains control characters")
    if len(file_name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidKeyError(f"invalid key {key!r}: the file name is longer than {MAX_NAME_BYTES} bytes")
