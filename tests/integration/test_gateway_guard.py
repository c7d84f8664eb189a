"""Only the user drives the catalogue: foreign Host names, cross-site writes, non-JSON bodies and missing
tokens are refused with a clear JSON error, and change nothing."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from backend.server.instance import create_app
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, files_under, write_model

TOKEN = "s3cret-token-for-the-tests-0123456789"


async def _nothing_registered(stack: Stack, db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert await db.fetchval("SELECT count(*) FROM models") == 0
    assert files_under(stack.data_dir / "images") == []


async def test_a_foreign_host_name_is_refused(stack: Stack, gateway: TestClient, aiohttp_client) -> None:
    for host in ("rebind.example.com", "rebind.example.com:8080", "192.168.1.5:8080", ""):
        reply = await gateway.get("/api/health", headers={"Host": host})
        assert await error_of(reply) == (403, "host_not_allowed"), host
    for host in ("localhost:8080", "LOCALHOST", "127.0.0.1:1", "[::1]:8080", "[::1]"):
        assert (await gateway.get("/api/health", headers={"Host": host})).status == 200, host
    named = await aiohttp_client(create_app(stack.config(MODELVAULT_ALLOWED_HOSTS="vault.lan,nas")))
    assert (await named.get("/api/health", headers={"Host": "vault.lan:8080"})).status == 200
    assert await error_of(await named.get("/api/health", headers={"Host": "other.lan"})) == (403, "host_not_allowed")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_write_from_another_site_is_refused(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, headers: dict[str, str]
) -> None:
    model = write_model(stack.model_root, "m.safetensors", b"m")
    reply = await gateway.post("/api/models/pending", json={"path": str(model)}, headers=headers)
    assert await error_of(reply) == (403, "cross_origin")
    await _nothing_registered(stack, db)


async def test_a_write_from_the_page_itself_is_accepted(stack: Stack, gateway: TestClient) -> None:
    own = f"http://{gateway.host}:{gateway.port}"
    for index, headers in enumerate(
        ({"Origin": own, "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {})
    ):
        model = write_model(stack.model_root, f"m{index}.safetensors", b"m%d" % index)
        reply = await gateway.post("/api/models/pending", json={"path": str(model)}, headers=headers)
        assert reply.status == 201, await reply.text()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{}", "text/plain"),
        ("{}", "text/plain;charset=UTF-8"),
        ("path=/x", "application/x-www-form-urlencoded"),
        ("--b\r\nContent-Disposition: form-data; name=path\r\n\r\n/x\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        ("{}", "application/octet-stream"),
    ],
)
async def test_a_body_that_is_not_declared_json_is_refused(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, data: str, content_type: str
) -> None:
    model = write_model(stack.model_root, "m.safetensors", b"m")
    body = data.replace("/x", str(model)).replace("{}", json.dumps({"path": str(model)}))
    reply = await gateway.post("/api/models/pending", data=body, headers={"Content-Type": content_type})
    assert await error_of(reply) == (415, "unsupported_media_type")
    assert "application/json" in (await reply.json())["error"]["message"]
    await _nothing_registered(stack, db)


async def test_with_a_token_every_api_and_image_request_needs_it(stack: Stack, aiohttp_client) -> None:
    gateway = await aiohttp_client(create_app(stack.config(MODELVAULT_API_TOKEN=TOKEN)))
    for path in ("/api/health", "/api/models", "/images/" + "ab" * 32 + ".webp"):
        reply = await gateway.get(path)
        assert await error_of(reply) == (401, "unauthorized"), path
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        wrong = await gateway.get(path, headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
        assert await error_of(wrong) == (401, "unauthorized"), path
    assert await error_of(await gateway.post("/api/models/scan", json={})) == (401, "unauthorized")
    assert (await gateway.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    # The page's own files need no token (it asks for the token itself); its data does.
    page = await gateway.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert (await gateway.get("/static/style.css")).status == 200


async def test_the_page_signs_in_for_an_httponly_cookie_of_this_instance_alone(stack: Stack, aiohttp_client) -> None:
    gateway = await aiohttp_client(create_app(stack.config(MODELVAULT_API_TOKEN=TOKEN)))
    # The token itself in a cookie, as the page once set it from JavaScript, is no credential any more.
    old = await gateway.get("/api/health", cookies={"modelvault_token": TOKEN})
    assert await error_of(old) == (401, "unauthorized")
    refused = await gateway.post("/api/session", json={"token": TOKEN[:-1] + "x"})
    assert await error_of(refused) == (401, "unauthorized") and "Set-Cookie" not in refused.headers

    signed = await gateway.post("/api/session", json={"token": TOKEN})
    assert signed.status == 204
    [(name, cookie)] = signed.cookies.items()
    assert name.startswith("modelvault_") and len(name) == len("modelvault_") + 16
    assert (cookie["httponly"], cookie["samesite"], cookie["path"], cookie["max-age"]) == (True, "Strict", "/", "")
    # Every service on this host receives the cookie (cookies ignore ports): it holds no token.
    assert TOKEN not in cookie.value and TOKEN not in name
    assert (await gateway.get("/api/health", cookies={name: cookie.value})).status == 200
    assert (await gateway.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200

    # A second instance on this host, even with the same token, has a cookie of its own and refuses this one.
    other = await aiohttp_client(create_app(stack.config(MODELVAULT_API_TOKEN=TOKEN, MODELVAULT_HTTP_PORT="8081")))
    assert await error_of(await other.get("/api/health", cookies={name: cookie.value})) == (401, "unauthorized")
    assert set((await other.post("/api/session", json={"token": TOKEN})).cookies) != {name}
