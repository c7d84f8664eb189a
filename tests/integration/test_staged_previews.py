"""Staged previews carry their gateway's start id: a start removes a dead gateway's at once, never a live one's."""

from __future__ import annotations

import http.client
import shutil
import urllib.error
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from backend.database.embedded import EmbeddedPostgres
from backend.database.gateway_queries import application_name, live_start_ids
from backend.server import keys
from backend.server.instance import create_app
from tests.eventually import eventually, eventually_blocking
from tests.integration.conftest import Stack
from tests.integration.gateway_support import files_under, write_model, write_preview
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack


def _staged(stack: Stack, start_id: str) -> str:
    """A staged preview as a registration of that gateway leaves it, written just now."""
    pending = stack.data_dir / "images" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    name = f"~staged-{start_id}-{uuid.uuid4().hex}.webp"
    (pending / name).write_bytes(b"RIFF\x00\x00\x00\x00WEBP")
    return f"pending/{name}"


async def test_a_start_removes_a_dead_gateways_staged_preview_whatever_its_age(
    stack: Stack, database_url: str, aiohttp_client
) -> None:
    dead = _staged(stack, uuid.uuid4().hex)  # a gateway that crashed mid-registration a moment ago
    # A gateway alive elsewhere (another container on the same catalogue), registering right now.
    elsewhere = uuid.uuid4().hex
    session = await asyncpg.connect(database_url, server_settings={"application_name": application_name(elsewhere)})
    try:
        in_use = _staged(stack, elsewhere)
        # Staged before files named their gateway: the age rule (ten minutes) still decides those.
        unnamed = "pending/~staged-" + uuid.uuid4().hex + ".webp"
        (stack.data_dir / "images" / unnamed).write_bytes(b"RIFF")

        await aiohttp_client(stack.app())
        await eventually(lambda: dead not in files_under(stack.data_dir / "images"), what="the dead one removed")
        assert files_under(stack.data_dir / "images") == sorted([in_use, unnamed])
    finally:
        await session.close()


async def test_a_gateway_is_alive_while_it_runs_and_gone_once_it_stops(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, aiohttp_client
) -> None:
    other = await aiohttp_client(stack.app())
    start_id, other_id = gateway.app[keys.START_ID], other.app[keys.START_ID]
    assert {start_id, other_id} <= await live_start_ids(db)
    await other.close()
    await eventually(lambda: _not_alive(db, other_id), what="the stopped gateway to be gone")
    assert start_id in await live_start_ids(db)


async def _not_alive(db: asyncpg.Connection, start_id: str) -> bool:
    return start_id not in await live_start_ids(db)


async def _alive(dsn: str, start_id: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return start_id in await live_start_ids(conn)
    finally:
        await conn.close()


async def test_a_gateway_is_alive_again_once_its_database_is_back(
    stack: Stack, aiohttp_client, tmp_path: Path
) -> None:
    server = EmbeddedPostgres(tmp_path / "restarted-pg")
    server.start()
    try:
        gateway = await aiohttp_client(create_app(stack.config(DATABASE_URL=server.dsn)))
        start_id = gateway.app[keys.START_ID]
        assert await _alive(server.dsn, start_id)
        server.stop()  # its presence session ends with the server
        server.start()
        await eventually(lambda: _alive(server.dsn, start_id), timeout=30, what="the presence session back")
    finally:
        server.stop()
        shutil.rmtree(server.pgdata, ignore_errors=True)


def test_a_gateway_killed_mid_registration_leaves_no_staged_preview_once_restarted(
    data_dir: Path, model_root: Path, tmp_path: Path
) -> None:
    model = write_model(model_root, "m.safetensors", b"m")
    preview = write_preview(model_root / "m.png")
    port = free_port()
    # The gateway dies right after its preview is staged; `make run`'s supervisor starts it again at once.
    env = stack_env(model_root, data_dir, port, MODELVAULT_DEV="1", MODELVAULT_CRASH_AT="register_after_staging",
                    MODELVAULT_HASHER_WORKERS="1", MODELVAULT_IMAGES_WORKERS="1")
    stack = start_stack(env, log=tmp_path / "stack.log")
    base = f"http://127.0.0.1:{port}"
    try:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            request_json(f"{base}/api/models/pending", {"path": str(model), "preview_path": str(preview)})
        eventually_blocking(lambda: _healthy(base), timeout=60, what="the gateway started again")
        eventually_blocking(lambda: not _staged_files(data_dir), timeout=30, what="the staged preview removed")
        assert request_json(f"{base}/api/models/pending")[1]["total"] == 0
    finally:
        stop_stack(stack)
        EmbeddedPostgres(data_dir / "postgres").stop()


def _healthy(base: str) -> bool:
    try:
        return request_json(f"{base}/api/health")[0] == 200
    except (ConnectionError, urllib.error.URLError):
        return False


def _staged_files(data_dir: Path) -> list[str]:
    return [name for name in files_under(data_dir / "images") if "~staged-" in name]
