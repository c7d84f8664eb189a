"""A client that goes away stops its hash: nobody waits for the answer, and the disk has better things to do."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from backend.server.instance import HANDLER_CANCELLATION
from tests.eventually import eventually
from tests.integration.conftest import Stack

GiB = 1024 ** 3


async def _post_hash(port: int, model: Path) -> asyncio.StreamWriter:
    """A hash request on a raw connection, which the caller closes when it likes, without reading the answer."""
    body = json.dumps({"path": str(model)}).encode()
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/models/sha256 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    return writer


def _zeros_sha256(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(1024 * 1024)
    for _ in range(size // len(block)):
        digest.update(block)
    return digest.hexdigest()


@pytest.fixture
async def gateway_port(stack: Stack) -> AsyncIterator[int]:
    """The gateway on a real TCP port, run as `python -m backend.server` runs it."""
    runner = web.AppRunner(stack.app(), handler_cancellation=HANDLER_CANCELLATION)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_a_client_that_disconnects_mid_hash_stops_the_read(stack: Stack, gateway_port: int) -> None:
    model = stack.model_root / "huge.safetensors"
    with model.open("wb") as f:
        f.truncate(64 * GiB)  # sparse: minutes of hashing, no disk used
    writer = await _post_hash(gateway_port, model)
    hasher = stack.hasher.servicer
    await eventually(lambda: hasher.reads_in_flight == 1, what="the hash under way")
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: hasher.reads_in_flight == 0, timeout=5, what="the hash stopped")


async def test_a_hash_shared_with_a_caller_still_waiting_goes_on(stack: Stack, gateway_port: int) -> None:
    model = stack.model_root / "shared.safetensors"
    size = 512 * 1024 * 1024
    with model.open("wb") as f:
        f.truncate(size)
    leaving = await _post_hash(gateway_port, model)
    async with aiohttp.ClientSession() as session:
        staying = asyncio.create_task(
            session.post(f"http://127.0.0.1:{gateway_port}/api/models/sha256", json={"path": str(model)}))
        hasher = stack.hasher.servicer
        await eventually(lambda: hasher.reads_in_flight == 2, what="both callers on the one hash")
        leaving.close()
        await leaving.wait_closed()
        reply = await staying
        assert reply.status == 200
        assert (await reply.json())["sha256"] == _zeros_sha256(size)
