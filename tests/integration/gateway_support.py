"""What the gateway's tests share: model files and previews written for a test, the files a folder holds, an
error answer's status and code."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient
from PIL import Image


def write_model(root: Path, relative: str, content: bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_preview(path: Path, size: tuple[int, int] = (64, 48), colour: str = "red") -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def error_of(response) -> tuple[int, str]:
    """An error answer's status and code, after checking it has the one error shape."""
    body = await response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status, body["error"]["code"]


async def do_import(gateway: TestClient, **body) -> dict:
    """Legacy migration through its REST endpoint: the import's report."""
    reply = await gateway.post("/api/models/import", json=body)
    assert reply.status == 200, await reply.text()
    return await reply.json()
