"""Every bad input gets a clear JSON error with the right status, and changes nothing."""

from __future__ import annotations

import io
import os
import shutil

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from backend.database.embedded import EmbeddedPostgres
from backend.server.instance import create_app
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, files_under, write_model


async def _nothing_changed(stack: Stack, db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM models") == 0
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert files_under(stack.data_dir / "images") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (400, "missing_parameter")),
        ({"path": 5}, (400, "invalid_parameter")),
        ({"path": "/x", "pending_status": "maybe"}, (400, "invalid_parameter")),
        ({"path": "/x", "force": "perhaps"}, (400, "invalid_parameter")),
        ({"path": "relative/model.safetensors"}, (400, "invalid_parameter")),
        ({"path": "/etc/passwd"}, (403, "permission_denied")),
    ],
)
async def test_bad_parameters(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, body: dict, expected: tuple[int, str]
) -> None:
    assert await error_of(await gateway.post("/api/models/sha256", json=body)) == expected
    await _nothing_changed(stack, db)


async def test_paths_that_are_not_model_files(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    root = stack.model_root
    (root / "folder").mkdir()
    os.mkfifo(root / "pipe.safetensors")
    (root / "escape.safetensors").symlink_to("/dev/zero")
    cases = {
        str(root / "missing.safetensors"): (404, "not_found"),
        str(root / "folder"): (400, "invalid_parameter"),
        str(root / "pipe.safetensors"): (400, "invalid_parameter"),
        str(root / "escape.safetensors"): (403, "permission_denied"),
        str(root / ".." / ".." / "etc" / "passwd"): (403, "permission_denied"),
    }
    for path, expected in cases.items():
        assert await error_of(await gateway.post("/api/models/sha256", json={"path": path})) == expected, path
        assert await error_of(await gateway.post("/api/models/pending", json={"path": path})) == expected, path
    await _nothing_changed(stack, db)


async def test_malformed_bodies(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    headers = {"Content-Type": "application/json"}
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        reply = await gateway.post("/api/models/sha256", data=raw, headers=headers)
        assert await error_of(reply) == (400, "malformed_json"), raw
    too_big = io.BytesIO(b'{"path": "' + b"a" * (33 * 1024 * 1024) + b'"}')
    assert await error_of(await gateway.post("/api/models/sha256", data=too_big, headers=headers)) == (
        413, "body_too_large"
    )
    await _nothing_changed(stack, db)


async def test_broken_preview_registers_nothing(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    model = write_model(stack.model_root, "m.safetensors", b"m")
    not_an_image = write_model(stack.model_root, "m.png", b"this is text, not a PNG")
    truncated = write_model(stack.model_root, "t.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    for preview in (not_an_image, truncated):
        reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": str(preview)})
        assert await error_of(reply) == (400, "invalid_parameter")
    reply = await gateway.post("/api/models/pending", json={"path": str(model), "preview_path": "/etc/hostname"})
    assert await error_of(reply) == (403, "permission_denied")
    await _nothing_changed(stack, db)


async def test_bad_lookups(stack: Stack, gateway: TestClient) -> None:
    assert await error_of(await gateway.get("/api/models/not-a-hash")) == (400, "invalid_parameter")
    assert await error_of(await gateway.get("/api/models/" + "ab" * 32)) == (404, "not_found")
    assert await error_of(await gateway.get("/api/models", params={"limit": "0"})) == (400, "invalid_parameter")
    negative = await gateway.get("/api/models/pending", params={"offset": "-1"})
    assert await error_of(negative) == (400, "invalid_parameter")
    assert await error_of(await gateway.get("/images/" + "ab" * 32 + ".webp")) == (404, "not_found")
    assert await error_of(await gateway.get("/images/pending/..%2F..%2Fsecret.webp")) == (400, "invalid_parameter")
    assert await error_of(await gateway.get("/images/passwd")) == (400, "invalid_parameter")
    assert await error_of(await gateway.get("/api/nowhere")) == (404, "not_found")
    assert await error_of(await gateway.delete("/api/models")) == (405, "method_not_allowed")


async def test_deadline_passed_gives_504(stack: Stack, aiohttp_client, db: asyncpg.Connection) -> None:
    big = stack.model_root / "slow.safetensors"
    with big.open("wb") as out:  # sparse: slow to read, instant to create
        out.truncate(2 * 1024 * 1024 * 1024)
    gateway = await aiohttp_client(create_app(stack.config(MODELVAULT_HASH_TIMEOUT_S="0.05")))
    reply = await gateway.post("/api/models/sha256", json={"path": str(big)})
    assert await error_of(reply) == (504, "deadline_exceeded")
    assert await db.fetchval("SELECT count(*) FROM models") == 0


async def test_database_down_gives_503(stack: Stack, aiohttp_client, tmp_path) -> None:
    server = EmbeddedPostgres(tmp_path / "short-lived-pg")
    server.start()
    try:
        gateway = await aiohttp_client(create_app(stack.config(DATABASE_URL=server.dsn)))
        assert (await gateway.get("/api/models")).status == 200
    finally:
        server.stop()
        shutil.rmtree(server.pgdata, ignore_errors=True)
    assert await error_of(await gateway.get("/api/models")) == (503, "unavailable")
    health = await gateway.get("/api/health")
    assert health.status == 503 and (await health.json())["database"] == "unavailable"


async def test_text_that_is_not_unicode_is_a_400(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    model = write_model(stack.model_root, "m.safetensors", b"m")
    cases = [
        ("/api/models/sha256", {"path": "\ud800"}),
        ("/api/models/pending", {"path": "\ud800"}),
        ("/api/models/pending", {"path": str(model), "preview_path": str(stack.model_root / "\udc80.png")}),
        ("/api/models/scan", {"folder": "\ud800"}),
    ]
    for route, body in cases:
        assert await error_of(await gateway.post(route, json=body)) == (400, "invalid_parameter"), (route, body)
    await _nothing_changed(stack, db)


async def test_bodies_built_to_break_the_parser_are_400s(stack: Stack, gateway: TestClient, db: asyncpg.Connection
                                                         ) -> None:
    headers = {"Content-Type": "application/json"}
    deep = '{"path": ' + "[" * 100_000 + "]" * 100_000 + "}"
    huge_number = '{"limit": 1' + "0" * 5000 + "}"
    for route, raw, code in (("/api/models/sha256", deep, "json_too_deep"),
                             ("/api/models/pending/hash", huge_number, "malformed_json")):
        assert await error_of(await gateway.post(route, data=raw, headers=headers)) == (400, code)
    for offset in (str(2**64), "9" * 5000):
        reply = await gateway.get("/api/models", params={"offset": offset})
        assert await error_of(reply) == (400, "invalid_parameter"), offset
        assert len((await reply.json())["error"]["message"]) < 200
    await _nothing_changed(stack, db)


async def test_wrong_method_trailing_slash_and_long_names(stack: Stack, gateway: TestClient) -> None:
    # /api/models/import found by the schema fuzzer: it was taken for a malformed hash (400).
    for route in ("/api/models/sha256", "/api/models/scan", "/api/models/pending/hash", "/api/models/import"):
        reply = await gateway.get(route)
        assert await error_of(reply) == (405, "method_not_allowed"), route
        assert reply.headers["Allow"] == "POST", route  # found by the schema fuzzer: the JSON answer dropped it
    model = write_model(stack.model_root, "m.safetensors", b"m")
    for route in ("/api/models/sha256", "/api/models/pending"):
        reply = await gateway.post(route, json={"path": f"{model}/"})
        assert await error_of(reply) == (400, "invalid_parameter"), route
    # A name longer than the file system allows is the client's mistake, not a database outage.
    reply = await gateway.get("/images/pending/" + "a" * 300 + ".webp")
    assert (await reply.json())["error"]["code"] != "unavailable" and reply.status < 500


async def test_over_long_requests_get_json_errors(gateway: TestClient) -> None:
    for headers, path in (({}, "/api/models?q=" + "a" * 20_000), ({"X-Long": "b" * 20_000}, "/api/health")):
        reply = await gateway.get(path, headers=headers)
        assert reply.content_type == "application/json"
        assert await error_of(reply) == (400, "bad_request")


async def test_a_service_outage_does_not_name_its_address(stack: Stack, gateway: TestClient) -> None:
    model = write_model(stack.model_root, "m.safetensors", b"m")
    await stack.hasher.stop(grace=0)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model)})
    assert await error_of(reply) == (503, "unavailable")
    message = (await reply.json())["error"]["message"]
    assert message == "the hasher service is unavailable"
    assert str(stack.hasher.port) not in message and "127.0.0.1" not in message
