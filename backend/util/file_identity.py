"""A file's identity on disk (device, inode, size, mtime_ns), the one "same file, unchanged" rule, and a hashed file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from typing import Any, Protocol


class _HasIdentityFields(Protocol):
    device: int
    inode: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileIdentity:
    """What tells one unchanged file from any other: a file whose four fields are all equal is the same file,
    with the same bytes (a rename or a hard link keeps them; a write changes mtime_ns, a replacement the inode).

    That rule is this class's equality and nothing else. SQL cannot call it, and the scan must decide a whole
    batch in one statement, so the database's form of it (backend/database/identity_sql.py) is generated from
    FIELDS, never written by hand: the two cannot drift apart.
    """

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def from_fields(cls, source: _HasIdentityFields) -> FileIdentity:
        """From anything with the four fields by name: the hasher's FileIdentity message, a ModelFile."""
        return cls(int(source.device), int(source.inode), int(source.size), int(source.mtime_ns))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FileIdentity:
        """From a catalogue row, whose inode and device are numeric(20) columns (unsigned 64-bit): Decimals."""
        return cls(int(row["device"]), int(row["inode"]), int(row["size"]), int(row["mtime_ns"]))

    @classmethod
    def from_stat(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def values(self) -> tuple[int, int, int, int]:
        """The four fields in the order of FIELDS, as query parameters or a column set take them."""
        return astuple(self)


# The field names, which are also the catalogue's column names, in the one order every query uses.
FIELDS: tuple[str, ...] = tuple(field.name for field in fields(FileIdentity))


@dataclass(frozen=True)
class ShortHashes:
    """A content's AutoV1 and AutoV3 as the hasher computed them while reading it; None where it has none."""

    autov1: str | None
    autov3: str | None


@dataclass(frozen=True)
class HashedFile:
    """A file whose SHA-256 is known, as it was when hashed: what an active record is written from."""

    path: str
    sha256: str
    identity: FileIdentity
    # Set when the hasher read the file now; None when the hash was recalled, taken from another tool, or
    # answered for a dev-mode shadow file: then nothing is known (or changed) about the short hashes.
    short: ShortHashes | None = None
