"""The database's form of the "same file, unchanged" rule answers as FileIdentity's equality does, on real rows."""

from __future__ import annotations

import dataclasses

import asyncpg
import pytest

from backend.database import db, identity_sql
from backend.util.file_identity import FIELDS, FileIdentity, HashedFile

SAME = FileIdentity(device=2**64 - 3, inode=2**63 + 5, size=4096, mtime_ns=1_700_000_000_123_456_789)
OTHERS = [dataclasses.replace(SAME, **{field: getattr(SAME, field) + 1}) for field in FIELDS]


@pytest.fixture
async def pool(database_url: str):
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.mark.parametrize("other", [SAME, *OTHERS])
async def test_sql_and_python_agree_on_what_is_the_same_file(pool: asyncpg.Pool, other: FileIdentity) -> None:
    same_in_sql = await pool.fetchval(
        f"""SELECT {identity_sql.row_of('a')} = {identity_sql.row_of('b')}
            FROM (SELECT {identity_sql.params(1)}) AS a({identity_sql.COLUMNS}),
                 (SELECT {identity_sql.params(5)}) AS b({identity_sql.COLUMNS})""",
        *SAME.values(), *other.values(),
    )

    assert same_in_sql is (other == SAME)


async def test_a_record_is_found_by_its_unchanged_identity_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        written = await db.upsert_model(conn, HashedFile("/m/a.safetensors", "a" * 64, SAME), image_key=None)
        found = await db.model_with_identity(conn, SAME)
        missed = [await db.model_with_identity(conn, other) for other in OTHERS]

    assert FileIdentity.from_row(written) == SAME
    assert found is not None and found["path"] == "/m/a.safetensors"
    assert missed == [None] * len(OTHERS)


async def test_a_relocated_record_takes_the_new_identity(pool: asyncpg.Pool) -> None:
    moved = HashedFile("/m/b.safetensors", "a" * 64, OTHERS[1])
    async with pool.acquire() as conn:
        await db.upsert_model(conn, HashedFile("/m/a.safetensors", "a" * 64, SAME), image_key="k.webp")
        row = await db.relocate_model(conn, old_path="/m/a.safetensors", file=moved)

    assert row is not None
    assert (row["path"], row["image_key"], FileIdentity.from_row(row)) == ("/m/b.safetensors", "k.webp", OTHERS[1])
