"""Paths in requests: over the kernel's limits they are a 400 before any call; a long path that fits is answered
as any other; a service's RESOURCE_EXHAUSTED is a full disk only when the image service says so."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import grpc
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from backend.server.adapters.grpc_failures import failure
from backend.server.http.errors import shown
from modelvault.hasher.v1 import hasher_pb2
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, files_under, write_model

# "é" is two bytes in UTF-8: limits count bytes, not characters.
NAME_254 = "é" * 127


def _long_path(root: str, size: int, name: str = NAME_254) -> str:
    """An absolute path under root of exactly size bytes, each of its names at most 255 bytes."""
    path = root
    while len((path + "/" + name).encode()) <= size:
        path += "/" + name
    rest = size - len(path.encode()) - 1
    return path + "/" + "a" * rest


async def _services_stopped(stack: Stack) -> None:
    """A 400 with both services down is one the gateway gave before calling them (a call would be a 503)."""
    await stack.hasher.stop(grace=0)
    await stack.images.stop(grace=0)


def _bodies(path: str) -> list[tuple[str, dict]]:
    return [
        ("/api/models/sha256", {"path": path}),
        ("/api/models/pending", {"path": path}),
        ("/api/models/pending", {"path": "/m.safetensors", "preview_path": path}),
        ("/api/models/scan", {"folder": path}),
        ("/api/models/import", {"folder": path}),
        ("/api/models/import", {"a1111_root": [path]}),
        ("/api/jobs", {"kind": "scan", "folder": path}),
        ("/api/jobs", {"kind": "import", "a1111_root": path}),
    ]


@pytest.mark.parametrize(("size", "code"), [(4096, "path_too_long"), (100_000, "path_too_long")])
async def test_a_path_over_path_max_is_a_400_before_any_call(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, size: int, code: str
) -> None:
    path = _long_path(str(stack.model_root), size)
    await _services_stopped(stack)
    for route, body in _bodies(path):
        reply = await gateway.post(route, json=body)
        assert await error_of(reply) == (400, code), (route, body.keys())
        assert "4,095 bytes" in (await reply.json())["error"]["message"]
    # In ASCII: percent-encoded, the two-byte names would pass aiohttp's 8 KB request line first.
    listing = await gateway.get("/api/models", params={"folder": _long_path(str(stack.model_root), 4096, "a" * 200)})
    assert await error_of(listing) == (400, code)
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert files_under(stack.data_dir / "images") == []


async def test_a_name_over_name_max_is_a_400_before_any_call(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    path = f"{stack.model_root}/{'é' * 128}.safetensors"  # 256 + 12 bytes in one name
    await _services_stopped(stack)
    for route, body in _bodies(path):
        reply = await gateway.post(route, json=body)
        assert await error_of(reply) == (400, "name_too_long"), (route, body.keys())
        assert "255 bytes" in (await reply.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0


async def test_the_longest_path_the_kernel_takes_is_answered_like_any_other(
    stack: Stack, gateway: TestClient
) -> None:
    """4,095 bytes, every name 254 bytes of two-byte characters: the hasher's error quotes it in full."""
    missing = _long_path(str(stack.model_root), 4095)
    reply = await gateway.post("/api/models/sha256", json={"path": missing})
    assert await error_of(reply) == (404, "not_found")
    outside = _long_path("/tmp", 4095)
    reply = await gateway.post("/api/models/sha256", json={"path": outside})
    assert await error_of(reply) == (403, "permission_denied")
    model = write_model(stack.model_root, f"{NAME_254[:100]}.safetensors", b"weights")
    reply = await gateway.post("/api/models/sha256", json={"path": str(model)})
    assert reply.status == 200, await reply.text()


def _on_a_full_disk(store: Path) -> list[str]:
    """A command prefix: the service runs in its own mount namespace with a 16 KiB tmpfs over the image store."""
    script = 'mount -t tmpfs -o size=16k tmpfs "$0" && mkdir "$0/pending" && exec "$@"'
    return ["unshare", "--map-root-user", "--mount", "sh", "-c", script, str(store)]


async def test_a_full_preview_disk_is_507_and_registers_nothing(
    stack: Stack, spawn_service, aiohttp_client, db: asyncpg.Connection
) -> None:
    images, port = await spawn_service("images", prefix=_on_a_full_disk(stack.data_dir / "images"))
    gateway = await aiohttp_client(stack.app(MODELVAULT_IMAGES_TARGET=f"127.0.0.1:{port}"))
    model = write_model(stack.model_root, "m.safetensors", b"weights")
    noise = Image.frombytes("RGB", (512, 512), os.urandom(512 * 512 * 3))  # its WebP cannot fit in 16 KiB
    noise.save(stack.model_root / "m.png")
    reply = await gateway.post("/api/models/pending",
                               json={"path": str(model), "preview_path": str(stack.model_root / "m.png")})
    assert await error_of(reply) == (507, "insufficient_storage")
    assert "no space left" in (await reply.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    # Stopped as docker would: its worker process goes with it (a SIGKILL would leave it holding the pipes).
    images.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(images.wait(), timeout=30) == 0


async def test_a_call_over_grpcs_size_limit_is_a_502_naming_the_service(start_hasher) -> None:
    """A real RESOURCE_EXHAUSTED that is no full disk: the hasher refuses a message over its 4 MiB."""
    hasher = await start_hasher()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hasher.stub.Stat(hasher_pb2.StatRequest(path="/" + "a" * 5 * 1024 * 1024), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error = shown(failure(caught.value, "hasher"))
    assert (error.status, error.code) == (502, "bad_gateway") and "hasher service" in error.message
