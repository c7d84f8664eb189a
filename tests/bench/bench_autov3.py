"""AutoV3's cost: the same page-cached .safetensors files hashed by a hasher that computes it and one that does not."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import statistics
import struct
import sys

from tests.bench.bench_hasher import _hash_all, _hasher, _read_through, _timed

MiB = 1024 * 1024
FILES, FILE_SIZE = 4, 256 * MiB
# Median of these rounds, each timing both hashers back to back: load elsewhere on the machine hits both alike.
ROUNDS = 7


def run(workdir: pathlib.Path) -> dict[str, float]:
    return asyncio.run(_run(pathlib.Path(workdir)))


def _write_safetensors(path: pathlib.Path, index: int, size: int) -> None:
    """A real safetensors layout (8-byte length, JSON header, then the tensor bytes), incompressible data."""
    header = json.dumps({"__metadata__": {"ss_network_dim": "32"},
                         "w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    block = bytearray(os.urandom(MiB))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        for offset in range(0, size, MiB):
            block[:16] = index.to_bytes(8, "little") + offset.to_bytes(8, "little")
            f.write(block)


async def _run(workdir: pathlib.Path) -> dict[str, float]:
    workers = os.cpu_count() or 1
    root, data = workdir / "bench_autov3_models", workdir / "bench_autov3_data"
    root.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    try:
        files = [root / f"lora_{index}.safetensors" for index in range(FILES)]
        for index, path in enumerate(files):
            _write_safetensors(path, index, FILE_SIZE)
            _read_through(path)
        total = sum(path.stat().st_size for path in files)
        with_s, without_s = [], []
        async with _hasher(root, data, workers, MODELVAULT_AUTOV3="all") as with_autov3, \
                _hasher(root, data, workers, MODELVAULT_AUTOV3="none") as without_autov3:
            for _ in range(ROUNDS):
                with_s.append(await _timed(_hash_all(with_autov3, files)))
                without_s.append(await _timed(_hash_all(without_autov3, files)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    with_median, without_median = statistics.median(with_s), statistics.median(without_s)
    return {
        # Throughput with AutoV3 over throughput without it: 1.0 would be free, 0.5 twice the time.
        "autov3_cost_ratio": round(without_median / with_median, 3),
        "autov3_with_gbps": round(total / with_median / 1e9, 3),
        "autov3_without_gbps": round(total / without_median / 1e9, 3),
    }


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path.cwd() / "data" / "bench"
    print(json.dumps(run(target)))
