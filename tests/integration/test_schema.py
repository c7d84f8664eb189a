"""Schema migrations: applied once, in order, refused when an applied one was edited, safe when gateways race."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from backend.database.migration.schema.apply import Migration, SchemaError, apply_migrations, load_migrations


async def test_applies_each_migration_once_and_records_its_checksum(database_url: str, db: asyncpg.Connection) -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert await apply_migrations(db) == [m.name for m in migrations]
    assert await apply_migrations(db) == []
    rows = await db.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in migrations]
    assert {"models", "pending_models"} <= {
        r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }


async def test_an_edited_applied_migration_is_refused(db: asyncpg.Connection) -> None:
    original = Migration(1, "0001_things", "CREATE TABLE things (id int)")
    await apply_migrations(db, [original])
    edited = Migration(1, "0001_things", "CREATE TABLE things (id bigint)")
    with pytest.raises(SchemaError, match="0001_things was changed after it was applied"):
        await apply_migrations(db, [edited])


async def test_a_failing_migration_rolls_back_alone(db: asyncpg.Connection) -> None:
    good = Migration(1, "0001_good", "CREATE TABLE good (id int)")
    bad = Migration(2, "0002_bad", "CREATE TABLE half (id int); SELECT no_such_function()")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await apply_migrations(db, [good, bad])
    assert await db.fetchval("SELECT array_agg(version) FROM schema_migrations") == [1]
    assert await db.fetchval("SELECT to_regclass('half')") is None


async def test_gateways_starting_together_apply_each_migration_once(database_url: str) -> None:
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(apply_migrations(conn) for conn in connections))
    finally:
        for conn in connections:
            await conn.close()
    assert sorted(len(names) for names in applied) == [0, 0, 0, len(load_migrations())]
