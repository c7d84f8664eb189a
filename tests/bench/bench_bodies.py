"""Body benchmark: the gateway's memory while it refuses JSON bodies of millions of tiny arrays.

29 MiB bodies (one, then four at once) are over the size limit; bodies just under it are refused for their
value count before parsing. Either way the gateway's resident memory must barely move.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

from backend.util.config import MAX_BODY_BYTES
from tests.bench.stack_parts import child
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

MiB = 1024 * 1024
WIDE_BODY = 29 * MiB


def run(workdir: Path) -> dict[str, float]:
    folder = workdir / "bench_bodies"
    models, data = folder / "models", folder / "data"
    models.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = start_stack(stack_env(models, data, port))
    try:
        return asyncio.run(_measure(child(process, "backend.server"), port))
    finally:
        stop_stack(process)
        shutil.rmtree(folder, ignore_errors=True)


def _wide_array(size: int) -> bytes:
    """[[],[],...,[]] of about `size` bytes: the most Python objects per byte a JSON body can ask for."""
    return b"[" + b"[]," * ((size - 4) // 3) + b"[]]"


@contextmanager
def _peak_rss(process: psutil.Process):
    """Samples the gateway's own resident memory (not PostgreSQL's, its child) every 5 ms: yields a dict whose
    "mb" is the growth above the level before, once the block ends."""
    before = process.memory_info().rss
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth: dict[str, float] = {}
    try:
        yield growth
    finally:
        stop.set()
        sampler.join()
        growth["mb"] = round((peak[0] - before) / 2**20, 1)


async def _post(port: int, body: bytes) -> int:
    """POST /api/jobs with the body on a raw connection; the status, even when the gateway stops reading."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))

    async def send() -> None:
        try:
            writer.write(body)
            await writer.drain()
        except ConnectionError:
            pass  # the gateway answered and closed before the whole body arrived

    sending = asyncio.create_task(send())
    status = int((await reader.readline()).split()[1])
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    writer.close()
    return status


async def _measure(gateway: psutil.Process, port: int) -> dict[str, float]:
    over, under = _wide_array(WIDE_BODY), _wide_array(MAX_BODY_BYTES - 64)
    figures: dict[str, float] = {}
    for name, body, count, status in (("one_29mib", over, 1, 413), ("four_29mib", over, 4, 413),
                                      ("four_under_limit", under, 4, 400)):
        with _peak_rss(gateway) as growth:
            started = time.perf_counter()
            statuses = await asyncio.gather(*(_post(port, body) for _ in range(count)))
            figures[f"wide_json_{name}_s"] = round(time.perf_counter() - started, 3)
        assert statuses == [status] * count, statuses
        figures[f"wide_json_{name}_rss_mb"] = growth["mb"]
    figures["wide_json_rss_mb"] = max(v for k, v in figures.items() if k.endswith("_rss_mb"))
    return figures
