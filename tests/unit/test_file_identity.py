"""FileIdentity: built alike from a row, a message and a stat, and the one rule that says a file is unchanged."""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path

import pytest

from backend.util.file_identity import FIELDS, FileIdentity
from backend.util.model_paths import resolve_model_file
from modelvault.hasher.v1 import hasher_pb2

# st_dev and st_ino are unsigned 64-bit; past 2**63 they no longer fit a bigint, hence numeric(20) in the schema.
BIG = 2**64 - 3
SAME = FileIdentity(device=BIG, inode=BIG - 1, size=4096, mtime_ns=1_700_000_000_123_456_789)


def test_a_row_converts_its_numeric_inode_and_device_to_int() -> None:
    # What asyncpg hands back for the numeric(20) columns: Decimals, which a message's ints must equal.
    row = {"device": Decimal(BIG), "inode": Decimal(BIG - 1), "size": 4096, "mtime_ns": 1_700_000_000_123_456_789,
           "path": "/m/a.safetensors", "sha256": "0" * 64}

    identity = FileIdentity.from_row(row)

    assert identity == SAME
    assert all(type(value) is int for value in identity.values())
    assert hash(identity) == hash(SAME)  # usable as the hasher's key for one shared read


def test_a_message_gives_the_same_identity_as_its_row() -> None:
    message = hasher_pb2.FileIdentity(resolved_path="/m/a.safetensors", device=BIG, inode=BIG - 1, size=4096,
                                      mtime_ns=1_700_000_000_123_456_789)

    assert FileIdentity.from_fields(message) == SAME


@pytest.mark.parametrize("field", FIELDS)
def test_any_one_field_changed_is_another_file(field: str) -> None:
    changed = dataclasses.replace(SAME, **{field: getattr(SAME, field) + 1})

    assert changed != SAME
    assert FileIdentity.from_row({**dataclasses.asdict(SAME), field: Decimal(getattr(changed, field))}) == changed


def test_values_follow_the_field_order_the_queries_use() -> None:
    assert FIELDS == ("device", "inode", "size", "mtime_ns")
    assert SAME.values() == (BIG, BIG - 1, 4096, 1_700_000_000_123_456_789)


def test_a_file_on_disk_is_unchanged_until_it_is_written(tmp_path: Path) -> None:
    model = tmp_path / "a.safetensors"
    model.write_bytes(b"weights")
    checked = FileIdentity.from_fields(resolve_model_file(str(model), [tmp_path]))

    assert FileIdentity.from_stat(os.stat(model)) == checked
    os.utime(model, ns=(checked.mtime_ns, checked.mtime_ns + 1))
    assert FileIdentity.from_stat(os.stat(model)) != checked
