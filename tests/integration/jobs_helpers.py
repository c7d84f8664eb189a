"""What the job tests share: big sparse model files, registering them, and waiting for a job's state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def sparse_model(root: Path, relative: str, size: int) -> Path:
    """A model of `size` zero bytes that takes no disk: its reads come from no platter, only memory."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(size)
        out.seek(0)
        out.write(relative.encode())  # distinct contents: distinct hashes
    return path


async def register(client, paths: list[Path]) -> None:
    for path in paths:
        reply = await client.post("/api/models/pending", json={"path": str(path)})
        assert reply.status == 201, await reply.text()


async def job(client, job_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/jobs/{job_id}")
    assert reply.status == 200, await reply.text()
    return await reply.json()


async def until(check: Callable[[], Any], timeout_s: float = 60, what: str = "a condition") -> Any:
    """Poll an async or plain check until it returns something truthy, or fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def finished(client, job_id: int, timeout_s: float = 60) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        body = await job(client, job_id)
        return body if body["state"] not in ("queued", "running") else None
    return await until(ended, timeout_s, f"job {job_id} to end")
