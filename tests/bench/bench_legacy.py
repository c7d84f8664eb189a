"""Legacy import benchmark: 10,000 models with side-car JSON, imported by the whole stack without reading a model.

Run alone: `python -m tests.bench legacy` (or `make bench BENCH=legacy`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from tests.legacy_formats import civitai_version, lora_manager, stability_matrix, write_json
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack

FILES = 10_000


def run(workdir: Path) -> dict[str, float]:
    models, data = workdir / "bench_legacy_models", workdir / "bench_legacy_data"
    _library(models)
    port = free_port()
    process = start_stack(stack_env(models, data, port))
    try:
        started = time.perf_counter()
        status, report = request_json(f"http://127.0.0.1:{port}/api/models/import", {}, timeout=1800)
        seconds = time.perf_counter() - started
    finally:
        stop_stack(process)
        shutil.rmtree(models, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    if status != 200 or report["trusted"] != FILES:
        raise RuntimeError(f"the import did not trust every file: {status} {json.dumps(report)[:500]}")
    return {"import_files_per_s": round(FILES / seconds, 1)}


def _library(models: Path) -> None:
    """Small model files (their size does not matter: they are never read), one side-car each, three tools."""
    for index in range(FILES):
        content = index.to_bytes(4, "little") * 64
        digest = hashlib.sha256(content).hexdigest()
        model = models / f"{index % 50:02d}" / f"model_{index}.safetensors"
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(content)
        if index % 3 == 0:
            write_json(model.with_suffix(".civitai.info"), civitai_version(digest, len(content), model.name))
        elif index % 3 == 1:
            write_json(model.with_suffix(".metadata.json"), lora_manager(digest, len(content), model))
        else:
            write_json(model.with_suffix(".cm-info.json"), stability_matrix(digest))
