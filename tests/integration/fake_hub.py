"""A local hub that answers like Civitai's public API (by-hash, bulk and single), and fails like a real server can.

Faults are queued: each API request takes the next one (then the hub answers normally again), so a test says
exactly what the gateway meets, in order. Every request is recorded with its body and headers.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

BULK = "/api/v1/model-versions/by-hash"


def png(size: tuple[int, int] = (64, 48), colour: str | int = "green", mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else 0).save(buffer, "PNG")
    return buffer.getvalue()


def version(sha256: str, *, version_id: int = 2514310, model_id: int = 827184, images: list[dict] | None = None,
            **fields: Any) -> dict[str, Any]:
    """A model version as GET /api/v1/model-versions/by-hash/{hash} answers it (Civitai's fields and types)."""
    answer = {
        "id": version_id, "modelId": model_id, "name": "v16.0", "createdAt": "2025-12-18T08:55:00.000Z",
        "updatedAt": "2025-12-18T09:16:12.062Z", "status": "Published", "publishedAt": "2025-12-18T09:16:12.062Z",
        "trainedWords": ["inkstyle", "sketch lines"], "trainingStatus": None, "trainingDetails": None,
        "baseModel": "SDXL 1.0", "baseModelType": "Standard", "earlyAccessEndsAt": None, "earlyAccessConfig": None,
        "description": "<p>Version <b>notes</b></p>", "uploadType": "Created", "usageControl": "Download",
        "air": f"urn:air:sdxl:lora:civitai:{model_id}@{version_id}", "nsfwLevel": 1, "availability": "Public",
        "stats": {"downloadCount": 215627, "thumbsUpCount": 13828},
        "model": {"name": "Ink Style", "type": "LORA", "nsfw": False, "poi": False},
        "files": [{
            "id": 2402203, "sizeKB": 223104.3, "name": "inkStyle_v16.safetensors", "type": "Model",
            "pickleScanResult": "Success", "pickleScanMessage": "No Pickle imports", "virusScanResult": "Success",
            "virusScanMessage": None, "scannedAt": "2025-12-18T09:00:00.000Z",
            "metadata": {"format": "SafeTensor", "size": None, "fp": None},
            "hashes": {"AutoV1": "4748A7F6", "AutoV2": sha256[:10].upper(), "SHA256": sha256.upper(),
                       "CRC32": "DAEE95B7", "BLAKE3": "1A" * 32, "AutoV3": "22D8CB95B807"},
            "primary": True, "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
        }],
        "images": images if images is not None else [],
        "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
    }
    answer.update(fields)
    return answer


def gallery(hub_url: str) -> tuple[list[dict[str, Any]], dict[str, tuple[bytes, str]]]:
    """A version's images as Civitai lists them, with the files served for them: three pictures to choose from
    (each its own colour and size), a video, one above the default ceiling (X), one on a host not allowed, one
    the hub fails to serve, and one that is no image."""
    images = [
        image(f"{hub_url}/images/first.png"), image(f"{hub_url}/images/clip.mp4", kind="video"),
        image(f"{hub_url}/images/second.png", 2), image(f"{hub_url}/images/explicit.png", 8),
        image("https://evil.example/third.png"), image(f"{hub_url}/images/third.png"),
        image(f"{hub_url}/images/failing.png"), image(f"{hub_url}/images/note.png"),
    ]
    files = {"first.png": (png((64, 48), "red"), "image/png"), "second.png": (png((40, 60), "blue"), "image/png"),
             "explicit.png": (png((30, 30), "black"), "image/png"), "third.png": (png((50, 50), "yellow"), "image/png"),
             "note.png": (b"<html>not an image</html>", "image/png")}
    return images, files


def image(url: str, nsfw_level: int = 1, kind: str = "image") -> dict[str, Any]:
    return {"url": url, "nsfwLevel": nsfw_level, "width": 832, "height": 1216, "hash": "U8Fh~j00~q-;",
            "type": kind, "minor": False, "poi": False, "hasMeta": True, "onSite": False, "remixOfId": None}


@dataclass
class Seen:
    method: str
    path: str
    at: float
    body: Any
    headers: dict[str, str]


@dataclass
class FakeHub:
    versions: list[dict[str, Any]] = field(default_factory=list)
    # Each API request takes the first: "429", "429:<seconds>", "500", "timeout", "malformed", "oversize",
    # "wrong_types", "redirect", "refuse_bulk" (405 once), or None (answer normally).
    faults: list[str | None] = field(default_factory=list)
    # An older server without the bulk call: every POST is a 404 like an unknown route.
    bulk_refused: bool = False
    # Served at /images/<name>: (bytes, content type).
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # Names under /images/ the hub fails on with HTTP 500, as a struggling image host does.
    failing_files: set[str] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    # How long a "timeout" fault makes the client wait.
    stall_s: float = 5.0

    def api_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(BULK)]

    def asked_hashes(self) -> list[str]:
        """Every hash any API request named, in order (the bulk bodies' and the single paths')."""
        asked: list[str] = []
        for request in self.api_requests():
            asked += request.body if request.method == "POST" else [request.path.rsplit("/", 1)[1]]
        return asked

    def _index(self) -> dict[str, dict[str, Any]]:
        """Each version by every hash of its files, upper case (Civitai matches any of them, in any case)."""
        index: dict[str, dict[str, Any]] = {}
        for entry in self.versions:
            for file in entry.get("files", []):
                for value in file.get("hashes", {}).values() if isinstance(file.get("hashes"), dict) else ():
                    if isinstance(value, str):
                        index.setdefault(value.upper(), entry)
        return index

    async def _fault(self) -> web.StreamResponse | None:
        fault = self.faults.pop(0) if self.faults else None
        if fault is None:
            return None
        if fault.startswith("429"):
            headers = {"Retry-After": fault.split(":", 1)[1]} if ":" in fault else {}
            return web.json_response({"error": "Too Many Requests"}, status=429, headers=headers)
        if fault == "500":
            return web.json_response({"error": "Internal Server Error"}, status=500)
        if fault == "timeout":
            await asyncio.sleep(self.stall_s)
            return web.json_response([])
        if fault == "malformed":
            return web.Response(text='[{"id": 1, "modelId": ', content_type="application/json")
        if fault == "oversize":
            return web.Response(body=b"[" + b" " * (9 * 1024 * 1024) + b"]", content_type="application/json")
        if fault == "wrong_types":
            return web.json_response([{"id": "one", "modelId": 2, "files": "none"}])
        if fault == "redirect":
            raise web.HTTPFound("http://203.0.113.7/api/v1/model-versions/by-hash")
        if fault == "refuse_bulk":
            return web.json_response({"error": "Method Not Allowed"}, status=405)
        raise AssertionError(f"unknown fault {fault!r}")

    def _record(self, request: web.Request, body: Any) -> None:
        self.seen.append(Seen(request.method, request.path, time.monotonic(), body, dict(request.headers)))

    async def bulk(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._record(request, body)
        if self.bulk_refused:
            return web.json_response({"error": "Not Found"}, status=404)
        fault = await self._fault()
        if fault is not None:
            return fault
        if not isinstance(body, list) or len(body) > 100 or any(not isinstance(h, str) or len(h) != 64 for h in body):
            return web.json_response({"error": "Invalid hashes"}, status=400)
        index, answer = self._index(), {}
        for sha256 in body:
            entry = index.get(sha256.upper())
            if entry is not None:
                answer[id(entry)] = entry
        return web.json_response(list(answer.values()))

    async def single(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        fault = await self._fault()
        if fault is not None:
            return fault
        entry = self._index().get(request.match_info["hash"].upper())
        if entry is None:
            return web.json_response({"error": "Model not found"}, status=404)
        return web.json_response(entry)

    async def file(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        name = request.match_info["name"]
        if name == "elsewhere":
            raise web.HTTPFound("http://203.0.113.7/images/x.png")
        if name in self.failing_files:
            return web.json_response({"error": "Internal Server Error"}, status=500)
        if name not in self.files:
            raise web.HTTPNotFound()
        content, kind = self.files[name]
        return web.Response(body=content, content_type=kind)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(BULK, self.bulk)
        app.router.add_get(BULK + "/{hash}", self.single)
        app.router.add_get("/images/{name}", self.file)
        return app


@asynccontextmanager
async def hub_running(hub: FakeHub) -> AsyncIterator[FakeHub]:
    """The hub on a free port of 127.0.0.1; hub.url is set while it runs."""
    runner = web.AppRunner(hub.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hub.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        yield hub
    finally:
        await runner.cleanup()
