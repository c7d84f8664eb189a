"""On by default: the gateway catalogues what is in its roots at start, and what is copied in while it runs."""

from __future__ import annotations

import hashlib
import shutil

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_model


async def test_models_present_at_start_and_copied_in_later_appear_in_the_catalogue(
    stack: Stack, aiohttp_client, tmp_path
) -> None:
    present = write_model(stack.model_root, "present.safetensors", b"there before the gateway")
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1"))

    async def catalogued() -> set[str]:
        body = await (await gateway.get("/api/models")).json()
        return {item["path"] for item in body["items"]}

    await eventually(lambda: _has(catalogued, str(present)), timeout=60, what="the start-up scan and hash")
    outside = write_model(tmp_path, "download.safetensors", b"a model the user just downloaded")
    (stack.model_root / "loras").mkdir()
    copied = shutil.copy(outside, stack.model_root / "loras" / "download.safetensors")
    await eventually(lambda: _has(catalogued, str(copied)), timeout=60, what="the copied model to be catalogued")

    async def header_read() -> bool:
        sha256 = hashlib.sha256(b"a model the user just downloaded").hexdigest()
        return "format" in (await (await gateway.get(f"/api/models/{sha256}")).json())["metadata"]
    await eventually(header_read, timeout=60, what="the copied model's header to be read after its hash")
    kinds = [job["kind"] for job in (await (await gateway.get("/api/jobs")).json())["items"]]
    # Start-up scan, hash and headers, then again after the copy.
    assert kinds[:3] == ["headers", "hash", "scan"] and len(kinds) >= 6


async def test_a_file_name_that_is_not_utf8_does_not_stop_the_watching(stack: Stack, aiohttp_client) -> None:
    gateway = await aiohttp_client(stack.app(MODELVAULT_AUTO_SCAN="1"))

    async def catalogued() -> set[str]:
        body = await (await gateway.get("/api/models")).json()
        return {item["path"] for item in body["items"]}

    async def start_up_done() -> bool:
        return len((await (await gateway.get("/api/jobs")).json())["items"]) >= 2
    await eventually(start_up_done, timeout=60, what="the start-up scan and hash")
    # Unpacked from an old Latin-1 archive: the watcher cannot name it.
    with open(bytes(stack.model_root) + b"/caf\xe9.safetensors", "wb") as latin1:
        latin1.write(b"an old model")
    later = write_model(stack.model_root, "later.safetensors", b"copied in after it")
    await eventually(lambda: _has(catalogued, str(later)), timeout=60,
                     what="the model copied in after the Latin-1 name")


async def _has(catalogued, path: str) -> bool:
    return path in await catalogued()
