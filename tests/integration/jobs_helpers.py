"""What the job tests share: big sparse model files, registering them, and waiting for a job's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.eventually import eventually

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


async def finished(client, job_id: int, timeout_s: float = 60) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        body = await job(client, job_id)
        return body if body["state"] not in ("queued", "running") else None
    return await eventually(ended, timeout=timeout_s, what=f"job {job_id} to end")
