"""Cold-storage benchmark: files not in the page cache, each figure right after its own drop of the cache.

Beside each ModelVault figure, on the same file(s) after the same drop: `dd bs=1M` and AUTOMATIC1111's
`read(1 MiB)` + `update` loop. Two loop devices capped by a blkio cgroup stand for two hard disks. Needs root
(to drop the page cache, attach loop devices, cap them); without it the JSON says why each figure is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import aiohttp

from services.hasher.residency import snapshot
from tests.capped_devices import CappedLoopDevices, devices_missing
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

MiB = 1024 * 1024
FILE_SIZE = 2048 * MiB
IN_USE_SIZE = 256 * MiB  # a model the generation UI has loaded, cached before the job
ROUNDS = 3
DEVICE_FILE_SIZE = 512 * MiB
DEVICE_CAP = 100 * 1000 * 1000  # bytes/s: a hard disk
DEVICE_ROUNDS = 2
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def run(workdir: Path) -> dict[str, object]:
    missing = _cold_missing()
    if missing is not None:
        return {"cold_missing": missing}
    folder = workdir / "bench_cold"
    models, data = folder / "models", folder / "data"
    models.mkdir(parents=True, exist_ok=True)
    try:
        files = [_write(models / f"cold_{i}.safetensors", FILE_SIZE) for i in range(2)]
        in_use = _write(models / "in_use.safetensors", IN_USE_SIZE)
        idle = _write(folder / "idle.bin", IN_USE_SIZE)
        port = free_port()
        # The VM's virtual disk claims to spin; the figures are about the read path, not the one-reader rule.
        process = start_stack(stack_env(models, data, port, MODELVAULT_ROTATIONAL_DEVICES="none"))
        try:
            figures = asyncio.run(_measure(f"http://127.0.0.1:{port}", models, files, in_use, idle))
        finally:
            stop_stack(process)
        figures["cold_storage"] = _storage(models)
        figures.update(_two_devices(folder))
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cold_missing() -> str | None:
    if os.geteuid() != 0:
        return "not root: the page cache cannot be dropped, so no figure here would be cold"
    if not os.access(DROP_CACHES, os.W_OK):
        return f"{DROP_CACHES} is not writable here (a container without CAP_SYS_ADMIN?)"
    return None


def _drop_caches() -> None:
    os.sync()
    DROP_CACHES.write_text("3")


def _write(path: Path, size: int) -> Path:
    block = bytearray(os.urandom(MiB))
    with path.open("wb") as out:
        for index in range(size // MiB):
            block[:8] = index.to_bytes(8, "little")  # no two blocks alike
            out.write(block)
    return path


def _gbps(size: int, seconds: float) -> float:
    return size / seconds / 1e9


def _timed(command) -> float:
    started = time.perf_counter()
    command()
    return time.perf_counter() - started


def _dd(*paths: Path) -> float:
    """Seconds for one `dd bs=1M` per path, all at once."""
    def run() -> None:
        readers = [subprocess.Popen(["dd", f"if={p}", "of=/dev/null", "bs=1M"], stderr=subprocess.DEVNULL)
                   for p in paths]
        for reader in readers:
            assert reader.wait() == 0
    return _timed(run)


def _a1111(path: Path) -> float:
    """AUTOMATIC1111's hashes.py: read(1 MiB) and update, in a loop."""
    def run() -> None:
        sha = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(MiB):
                sha.update(chunk)
    return _timed(run)


def _hashlib_gbps() -> float:
    memory = os.urandom(512 * MiB)
    return _gbps(len(memory), _timed(lambda: hashlib.sha256(memory).hexdigest()))


def _cached_fraction(path: Path) -> float:
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        return snapshot(fd, st.st_size, st).cached_fraction
    finally:
        os.close(fd)


async def _post(session: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with session.post(url, json=body) as reply:
        assert reply.status < 300, await reply.text()
        return await reply.json()


async def _measure(base: str, models: Path, files: list[Path], in_use: Path, idle: Path) -> dict[str, object]:
    workers = int(os.environ.get("MODELVAULT_HASHER_WORKERS") or os.cpu_count() or 1)
    single: dict[str, list[float]] = {"dd": [], "a1111": [], "modelvault": [], "hashlib": [], "ratio": []}
    parallel: dict[str, list[float]] = {"dd": [], "modelvault": [], "ratio": []}
    kept: list[tuple[float, float, float]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        # Rounds interleave every reader: the storage is shared and drifts from minute to minute.
        for round_ in range(ROUNDS):
            hashlib_gbps = _hashlib_gbps()
            _drop_caches()
            dd = _gbps(FILE_SIZE, _dd(files[0]))
            _drop_caches()
            a1111 = _gbps(FILE_SIZE, _a1111(files[0]))
            _drop_caches()
            started = time.perf_counter()
            await _post(session, f"{base}/api/models/sha256",
                        {"path": str(files[0]), "pending_status": "ignore", "force": True})
            modelvault = _gbps(FILE_SIZE, time.perf_counter() - started)
            for key, value in (("dd", dd), ("a1111", a1111), ("modelvault", modelvault), ("hashlib", hashlib_gbps),
                               ("ratio", modelvault / min(dd, hashlib_gbps))):
                single[key].append(value)

            _drop_caches()
            dd2 = _gbps(2 * FILE_SIZE, _dd(*files))
            # New names each round: a path hashed once is active and no longer in the queue.
            files = [path.rename(models / f"cold_r{round_}_{i}.safetensors") for i, path in enumerate(files)]
            for path in files:
                await _post(session, f"{base}/api/models/pending", {"path": str(path)})
            _drop_caches()
            in_use.read_bytes()  # a model in use: cached before the job starts, and it must stay so
            # The same, outside the model roots: what the machine's own reclaim (DAMON here) takes meanwhile.
            idle.read_bytes()
            started = time.perf_counter()
            answer = await _post(session, f"{base}/api/models/pending/hash", {"limit": 2})
            job = _gbps(2 * FILE_SIZE, time.perf_counter() - started)
            assert len(answer["hashed"]) == 2 and not answer["errors"], answer
            parallel["dd"].append(dd2)
            parallel["modelvault"].append(job)
            parallel["ratio"].append(job / min(dd2, workers * hashlib_gbps))
            kept.append((_cached_fraction(in_use), max(_cached_fraction(path) for path in files),
                         _cached_fraction(idle)))
            print(f"  cold round {round_}: single {modelvault:.2f} GB/s (dd {dd:.2f}, a1111 {a1111:.2f}, hashlib "
                  f"{hashlib_gbps:.2f}); two files {job:.2f} GB/s (dd {dd2:.2f}); in use {kept[-1][0]:.4f} resident, "
                  f"idle {kept[-1][2]:.4f}, cold files {kept[-1][1]:.4f}", flush=True)

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    return {
        "cold_single_ratio": median(single["ratio"]),
        "cold_single_gbps": median(single["modelvault"]),
        "cold_single_dd_gbps": median(single["dd"]),
        "cold_single_a1111_gbps": median(single["a1111"]),
        "cold_hashlib_gbps": median(single["hashlib"]),
        "cold_single_rounds": [round(x, 3) for x in single["ratio"]],
        "cold_parallel_ratio": median(parallel["ratio"]),
        "cold_parallel_gbps": median(parallel["modelvault"]),
        "cold_parallel_dd_gbps": median(parallel["dd"]),
        "cold_parallel_rounds": [round(x, 3) for x in parallel["ratio"]],
        # The in-use file resident after every job, and nothing of the 4 GiB job left in the cache. Not 1.0:
        # a reclaimer outside ModelVault (this VM runs DAMON's proactive pageout) may take a folio of any
        # idle file meanwhile; the idle file outside the roots is the control.
        "page_cache_kept": all(in_cache >= 0.99 and left < 0.01 for in_cache, left, _ in kept),
        "page_cache_in_use_resident": min(in_cache for in_cache, _, _ in kept),
        "page_cache_idle_resident": min(idle for _, _, idle in kept),
        "page_cache_cold_left_resident": max(left for _, left, _ in kept),
    }


def _storage(folder: Path) -> str:
    device = os.stat(folder).st_dev
    node = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve()
    name = node.name
    model = next((p.read_text().strip() for p in (node / "device" / "model", node.parent / "device" / "model")
                  if p.exists()), "")
    return f"{name} {model}".strip()


def _two_devices(folder: Path) -> dict[str, object]:
    """One file on each of two loop devices capped at DEVICE_CAP, in one hash job ÷ the sum of the caps."""
    missing = devices_missing()
    if missing is not None:
        return {"cold_two_devices_missing": missing}
    with CappedLoopDevices(folder / "devices", 2, DEVICE_FILE_SIZE + 64 * MiB, DEVICE_CAP) as devices:
        files = [_write(mount / f"disk_{i}.safetensors", DEVICE_FILE_SIZE) for i, mount in enumerate(devices.mounts)]
        data = folder / "devices_data"
        port = free_port()
        # Both treated as spinning disks: one reader each, both read at once.
        env = stack_env(devices.mounts[0], data, port, MODELVAULT_ROTATIONAL_DEVICES="all",
                        MODELVAULT_MODEL_ROOTS=os.pathsep.join(str(m) for m in devices.mounts))
        process = devices.start_capped(lambda: start_stack(env))
        try:
            ratios = asyncio.run(_two_devices_rounds(f"http://127.0.0.1:{port}", files))
        finally:
            stop_stack(process)
    return {
        "cold_two_devices_ratio": round(statistics.median(ratios), 3),
        "cold_two_devices_rounds": [round(x, 3) for x in ratios],
        "cold_two_devices_cap_mbps": DEVICE_CAP / 1e6,
    }


async def _two_devices_rounds(base: str, files: list[Path]) -> list[float]:
    ratios = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        for round_ in range(DEVICE_ROUNDS):
            files = [path.rename(path.with_name(f"disk_r{round_}_{i}.safetensors")) for i, path in enumerate(files)]
            for path in files:
                await _post(session, f"{base}/api/models/pending", {"path": str(path)})
            _drop_caches()
            started = time.perf_counter()
            answer = await _post(session, f"{base}/api/models/pending/hash", {"limit": 2})
            seconds = time.perf_counter() - started
            assert len(answer["hashed"]) == 2 and not answer["errors"], answer
            ratios.append(2 * DEVICE_FILE_SIZE / seconds / (2 * DEVICE_CAP))
            print(f"  two capped devices round {round_}: {ratios[-1]:.3f} of the caps' sum", flush=True)
    return ratios
