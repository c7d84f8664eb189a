"""`make bench`: every benchmark in one run, side by side on this machine; the last line is one JSON object.

`python -m tests.bench library page` (or `make bench BENCH="library page"`) runs only the named ones.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import (
    bench_autov3,
    bench_bodies,
    bench_cold,
    bench_events,
    bench_gateway,
    bench_hasher,
    bench_headers,
    bench_hub,
    bench_images,
    bench_legacy,
    bench_library,
    bench_load,
    bench_million,
    bench_page,
    bench_queue,
    bench_search,
    bench_streams,
)

# Goals from the issues; each figure is printed next to its goal so a reader sees both.
GOALS = {
    "hash_single_ratio": ">= 0.90",
    "hash_parallel_speedup": ">= 0.85 x P",
    "hash_vs_baseline": ">= 0.85 x P",
    "rest_single_ratio": ">= 0.85",
    "loop_p99_ms_while_hashing": "< 50",
    "queue_parallel_ratio": ">= 0.85",
    "queue_files_per_s": ">= 1000",
    "scan_100k_s": "<= 30",
    "rescan_100k_s": "<= 5",
    "list_p99_ms_100k": "<= 20",
    "search_p99_ms_100k": "<= 20",
    "gateway_rss_mb_delta_100k": "<= 150",
    "page_load_ms": "< 1000 with 10,000 models",
    "load_5xx": "== 0",
    "sse_idle_2000_health_p99_ms": "< 100",
    "wide_json_rss_mb": "< 50",
    "queue_1m_state": "== done",
    "autov3_cost_ratio": "measured (no goal): decides MODELVAULT_AUTOV3's default",
    "cold_single_ratio": ">= 0.95, and never below the A1111 loop beside it",
    "cold_parallel_ratio": ">= 0.95",
    "cold_two_devices_ratio": ">= 0.95",
    "page_cache_kept": "== true",
    "events_fanout_ms": "p99 of a change seen by 50 open pages",
}
BENCHMARKS = {"hasher": bench_hasher, "images": bench_images, "gateway": bench_gateway, "queue": bench_queue,
              "library": bench_library, "legacy": bench_legacy, "page": bench_page, "load": bench_load,
              "streams": bench_streams, "bodies": bench_bodies, "million": bench_million, "headers": bench_headers,
              "hub": bench_hub, "autov3": bench_autov3, "cold": bench_cold, "events": bench_events,
              "search": bench_search}


def main(names: list[str]) -> int:
    """Every benchmark, or only those named (`make bench BENCH=queue`)."""
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(BENCHMARKS)}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="modelvault-bench-", dir=os.environ.get("MODELVAULT_BENCH_DIR")))
    figures: dict[str, object] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        for name, module in BENCHMARKS.items():
            if names and name not in names:
                continue
            print(f"benchmark: {name} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            figures.update(module.run(workdir))
            print(f"benchmark: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures["goals"] = GOALS
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
