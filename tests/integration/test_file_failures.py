"""A file's failure is that file's, in every job: a read error or a picture that kills a worker is reported for that
file, and every other file is imported."""

from __future__ import annotations

import asyncio
import math
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_model, write_preview
from tests.legacy_formats import civitai_version, sha, write_json

# Holds a write lease on a file, as a file server (Samba's oplocks, the NFS server's delegations) does: until it is
# broken, the kernel refuses any other process's non-blocking open with EWOULDBLOCK. The hasher opens every model
# non-blocking (a FIFO swapped in must not hang it), so the file cannot be read: a real read error, without a
# failing disk. The holder ignores the kernel's SIGIO asking it to give the lease up; the kernel then takes it
# back after /proc/sys/fs/lease-break-time (45 s by default), far longer than a verify of three small files.
_LEASE_HOLDER = """
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
sys.stdin.read()
"""


def civitai_model(root: Path, relative: str, content: bytes) -> Path:
    model = write_model(root, relative, content)
    write_json(model.with_suffix(".civitai.info"), civitai_version(sha(content), len(content), model.name))
    return model


@pytest.fixture
async def leased() -> AsyncIterator:
    """leased(path): another process holds a write lease on path until the test ends."""
    holders: list[asyncio.subprocess.Process] = []

    async def hold(path: Path) -> None:
        holder = await asyncio.create_subprocess_exec(sys.executable, "-c", _LEASE_HOLDER, str(path),
                                                      stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        holders.append(holder)
        assert await asyncio.wait_for(holder.stdout.readline(), timeout=30) == b"held\n"

    yield hold
    for holder in holders:
        holder.stdin.close()
        await asyncio.wait_for(holder.wait(), timeout=30)


async def _job(gateway: TestClient, **body) -> dict:
    reply = await gateway.post("/api/jobs", json=body)
    assert reply.status == 202, await reply.text()
    job_id = (await reply.json())["id"]

    async def ended() -> dict | None:
        job = await (await gateway.get(f"/api/jobs/{job_id}")).json()
        return job if job["state"] not in ("queued", "running") else None

    return await eventually(ended, timeout=120, what=f"the {body['kind']} job to end")


async def test_a_file_that_cannot_be_read_is_verifys_error_and_the_others_are_verified(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, leased
) -> None:
    models = [civitai_model(stack.model_root, f"v/m{index}.safetensors", f"model {index}".encode())
              for index in range(3)]
    imported = await _job(gateway, kind="import")
    assert (imported["state"], imported["result"]["trusted"]) == ("done", 3), imported
    await leased(models[1])

    job = await _job(gateway, kind="import", verify=True)
    assert job["state"] == "done", job
    verify = job["result"]["verify"]
    assert (verify["verified"], verify["wrong"]) == (2, []), verify
    assert [error["path"] for error in verify["errors"]] == [str(models[1])]
    verified = await db.fetchval(
        "SELECT array_agg(path ORDER BY path) FROM legacy_hashes WHERE verified_at IS NOT NULL")
    assert verified == [str(models[0]), str(models[2])]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _limit_cpu_of_idle_workers(pids: list[int], seconds: float) -> None:
    """Give each worker a CPU-time limit (an operator's `ulimit -t`, in whole seconds), `seconds` to `seconds` + 1
    beyond what it has used once started: over it, the kernel kills the worker with SIGXCPU."""
    async def idle() -> dict[int, float] | None:
        before = {pid: _cpu_seconds(pid) for pid in pids}
        await asyncio.sleep(0.5)
        return before if before == {pid: _cpu_seconds(pid) for pid in pids} else None

    assert pids
    used = await eventually(idle, timeout=60, what="the image workers to finish starting")
    for pid, spent in used.items():
        soft = math.ceil(spent + seconds)
        resource.prlimit(pid, resource.RLIMIT_CPU, (soft, soft + 60))
        resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))  # no core file of a half-gigabyte image


def _costly_picture(path: Path) -> Path:
    """180 million RGBA pixels (just under the limit a source may have) in a 3 MB PNG: decoding and shrinking it
    takes a worker about two CPU-seconds, where a preview of a few hundred pixels a side takes milliseconds."""
    Image.linear_gradient("L").resize((13_400, 13_400)).convert("RGBA").save(path, compress_level=1)
    return path


async def test_a_side_car_picture_that_kills_an_image_worker_is_that_files_and_the_import_goes_on(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    models = [civitai_model(stack.model_root, f"p/m{index}.safetensors", f"model {index}".encode())
              for index in range(4)]
    write_preview(models[0].with_suffix(".preview.png"))
    picture = _costly_picture(models[2].with_suffix(".preview.png"))
    pool = stack.images.servicer.pool
    await asyncio.gather(*(pool.run(time.sleep, 0.5) for _ in range(pool.workers)))  # every worker started
    await _limit_cpu_of_idle_workers(pool.worker_pids(), seconds=0.25)
    killed = set(pool.worker_pids())

    job = await _job(gateway, kind="import")
    assert job["state"] == "done", job
    assert job["result"]["trusted"] == 4, job["result"]
    refused = {"path": str(picture), "source": "preview", "reason": "the images service failed"}
    assert refused in job["result"]["skipped"], job["result"]["skipped"]
    catalogued = await db.fetch("SELECT path, sha256, image_key FROM models ORDER BY path")
    assert [row["path"] for row in catalogued] == [str(model) for model in models]
    assert catalogued[2]["image_key"] is None
    assert not killed & set(pool.worker_pids())  # the worker really died, and the pool was replaced
