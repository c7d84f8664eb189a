"""AUTOMATIC1111 since 1.9.0 (and Forge): the hashes section of its diskcache, `<web UI>/cache/hashes/cache.db`.

The web UI converts its cache.json into this once and never writes the JSON again, so a current install's
hashes are only here. It is an SQLite database in WAL mode (a running web UI keeps its newest entries in
`cache.db-wal`), with diskcache's one table `Cache`: each row's key is the entry's title as text (the same
`checkpoint/<path>` and `lora/<name>` as cache.json), its value a pickled dict {"mtime": float, "sha256": str}.

Both files come as bytes from the hasher and are opened from a private copy. The pickles are read by an
unpickler that loads no global at all, so only dicts, lists, strings and numbers can come out of one: a
planted pickle is a malformed entry, never code that runs.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from backend.database.migration.legacy.a1111 import CacheEntry, entry_of
from backend.database.migration.legacy.claims import LegacyFormatError

RELATIVE_PATH = "cache/hashes/cache.db"
_SQLITE_MAGIC = b"SQLite format 3\x00"
# diskcache's modes: how a row's value is stored. Small values (A1111 keeps up to 256 KB in SQLite) are inline.
_MODE_PICKLE = 4
# One entry is a dict of two fields: a few hundred bytes.
_MAX_VALUE_BYTES = 64 * 1024


class _NoGlobals(pickle.Unpickler):
    """Builds containers and scalars only: every class or function a pickle names is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which is never loaded")


def read_diskcache(content: bytes, wal: bytes) -> tuple[list[CacheEntry], list[tuple[str, str]]]:
    """The usable entries, and (key, reason) for each entry that is not."""
    if not content.startswith(_SQLITE_MAGIC):
        raise LegacyFormatError("not an SQLite database")
    entries: list[CacheEntry] = []
    problems: list[tuple[str, str]] = []
    for key, raw, mode, filename, value in _rows(content, wal):
        if not raw or not isinstance(key, str):
            problems.append((repr(key)[:80], "a key that is not text"))
            continue
        try:
            entries.append(entry_of(key, _value(mode, filename, value)))
        except LegacyFormatError as exc:
            problems.append((key, str(exc)))
    return entries, problems


def _rows(content: bytes, wal: bytes) -> list[tuple[Any, ...]]:
    with tempfile.TemporaryDirectory(prefix="modelvault-a1111-") as folder:
        database = Path(folder) / "cache.db"
        database.write_bytes(content)
        if wal:
            database.with_name("cache.db-wal").write_bytes(wal)
        try:
            conn = sqlite3.connect(database)
        except sqlite3.Error as exc:
            raise LegacyFormatError(f"cannot open the database: {exc}") from None
        try:
            # A view or trigger in a planted file must not call functions; only the table is read.
            conn.execute("PRAGMA trusted_schema = OFF")
            kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Cache'").fetchone()
            if kind is None or kind[0] != "table":
                raise LegacyFormatError("no diskcache table in the database")
            return conn.execute("SELECT key, raw, mode, filename, value FROM Cache ORDER BY rowid").fetchall()
        except sqlite3.Error as exc:
            raise LegacyFormatError(f"a malformed database: {exc}") from None
        finally:
            conn.close()


def _value(mode: Any, filename: Any, value: Any) -> Any:
    if mode != _MODE_PICKLE or filename or not isinstance(value, bytes):
        raise LegacyFormatError("the value is not a small pickled entry")
    if len(value) > _MAX_VALUE_BYTES:
        raise LegacyFormatError("the value is too large for a hash entry")
    try:
        return _NoGlobals(io.BytesIO(value)).load()
    except Exception as exc:  # noqa: BLE001 - whatever an untrusted pickle makes the unpickler raise
        raise LegacyFormatError(f"a malformed pickle: {type(exc).__name__}: {exc}") from None
