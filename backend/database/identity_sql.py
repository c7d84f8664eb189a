"""FileIdentity in SQL: its columns, its typed parameters, and its "same file, unchanged" rule, all from FIELDS."""

from __future__ import annotations

from backend.util.file_identity import FIELDS

# st_dev and st_ino are unsigned 64-bit: the schema keeps them in numeric(20); size and mtime_ns fit a bigint.
_TYPES = {"device": "numeric", "inode": "numeric", "size": "bigint", "mtime_ns": "bigint"}
assert set(_TYPES) == set(FIELDS), "every FileIdentity field needs its SQL type"

COLUMNS = ", ".join(FIELDS)


def row_of(alias: str) -> str:
    """The identity of alias's row as one SQL row value.

    Two of them compared with "=" is FileIdentity's equality (the columns are NOT NULL), and PostgreSQL
    expands it to one comparison per column, so the (inode, device) index still serves it.
    """
    return "(" + ", ".join(f"{alias}.{name}" for name in FIELDS) + ")"


def set_from(alias: str) -> str:
    """The SET list that gives a row the identity of alias's row (EXCLUDED in an upsert)."""
    return ", ".join(f"{name} = {alias}.{name}" for name in FIELDS)


def params(first: int, *, arrays: bool = False) -> str:
    """Typed placeholders $first.. for FileIdentity.values() (or for one array per field, for unnest)."""
    suffix = "[]" if arrays else ""
    return ", ".join(f"${first + i}::{_TYPES[name]}{suffix}" for i, name in enumerate(FIELDS))
