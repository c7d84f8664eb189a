"""JSON bodies are bounded before they are parsed: their size, their depth and how many values they hold."""

from __future__ import annotations

import io
import json

import asyncpg
from aiohttp.test_utils import TestClient

from backend.server.http.json_limits import MAX_DEPTH, MAX_VALUES
from backend.util.config import MAX_BODY_BYTES
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of

HEADERS = {"Content-Type": "application/json"}


async def _nothing_recorded(db: asyncpg.Connection) -> None:
    counts = await db.fetchrow("SELECT (SELECT count(*) FROM models) AS models,"
                               " (SELECT count(*) FROM pending_models) AS pending, (SELECT count(*) FROM jobs) AS jobs")
    assert tuple(counts) == (0, 0, 0)


def _nested(depth: int) -> bytes:
    return b'{"kind": "scan", "folder": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


async def test_a_body_nested_too_deeply_is_a_400_before_it_is_parsed(
    gateway: TestClient, db: asyncpg.Connection
) -> None:
    for depth in (MAX_DEPTH + 1, 100_000):
        reply = await gateway.post("/api/jobs", data=_nested(depth), headers=HEADERS)
        assert reply.status == 400
        error = (await reply.json())["error"]
        assert error["code"] == "json_too_deep" and str(MAX_DEPTH) in error["message"]
    # At the limit the body is parsed, and its field judged as usual.
    assert await error_of(await gateway.post("/api/jobs", data=_nested(MAX_DEPTH), headers=HEADERS)) == (
        400, "invalid_parameter")
    await _nothing_recorded(db)


async def test_a_body_of_too_many_values_is_a_400(gateway: TestClient, db: asyncpg.Connection) -> None:
    wide = b'{"kind": "scan", "folder": [' + b",".join([b"[]"] * MAX_VALUES) + b"]}"
    reply = await gateway.post("/api/jobs", data=wide, headers=HEADERS)
    assert reply.status == 400
    error = (await reply.json())["error"]
    assert error["code"] == "json_too_many_values" and f"{MAX_VALUES}" in error["message"]
    await _nothing_recorded(db)


async def test_brackets_and_commas_inside_strings_are_text(gateway: TestClient) -> None:
    text = "[" * (MAX_DEPTH + 5) + '\\"' + "," * (MAX_VALUES + 5) + "{"
    body = json.dumps({"kind": "scan", "note": text}).encode()
    # Parsed, and refused for its unknown field, not for its shape.
    reply = await gateway.post("/api/jobs", data=body, headers=HEADERS)
    assert reply.status == 400
    error = (await reply.json())["error"]
    assert error["code"] == "invalid_parameter" and "'note'" in error["message"]


async def test_a_body_over_the_limit_is_a_413(gateway: TestClient, db: asyncpg.Connection) -> None:
    over = io.BytesIO(b'{"kind": "scan", "folder": "' + b"a" * MAX_BODY_BYTES + b'"}')
    assert await error_of(await gateway.post("/api/jobs", data=over, headers=HEADERS)) == (413, "body_too_large")
    await _nothing_recorded(db)


async def test_the_largest_real_body_is_accepted(stack: Stack, gateway: TestClient) -> None:
    """An import naming 16 web UI folders of near PATH_MAX each, every byte escaped as JSON allows."""
    folders = []
    for index in range(16):
        folder = stack.model_root / f"webui{index}"
        while len(str(folder).encode()) + 201 <= 4095:  # the longest path the gateway takes (PATH_MAX)
            folder = folder / ("\x01" * 200)  # a control character: 6 bytes of JSON each
        folders.append(str(folder))
    body = json.dumps({"a1111_root": folders, "dry_run": True}).encode()
    assert 16 * 3800 * 6 < len(body) < MAX_BODY_BYTES
    reply = await gateway.post("/api/models/import", data=body, headers=HEADERS)
    assert reply.status == 200, await reply.text()
    assert set(await reply.json()) >= {"trusted", "pending", "skipped"}
