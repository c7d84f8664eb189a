"""Fixtures in the real formats of other tools: Civitai Helper, ComfyUI-Lora-Manager, Stability Matrix, A1111.

Written from those tools' public code and the Civitai API's model-version object; the variants met in
the wild are options (upper/lower-case hex, BOM, Windows paths, several files of which one is primary).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

BOM = b"\xef\xbb\xbf"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def write_json(path: Path, data: Any, *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((BOM if bom else b"") + json.dumps(data, indent=4, ensure_ascii=False).encode("utf-8"))
    return path


def civitai_version(sha256: str, size: int, file_name: str, *, with_other_files: bool = False) -> dict[str, Any]:
    """The Civitai model-version JSON that Civitai Helper saves as <stem>.civitai.info."""
    model_file = {
        "id": 301, "sizeKB": size / 1024, "name": file_name, "type": "Model",
        "metadata": {"fp": "fp16", "size": "pruned", "format": "SafeTensor"}, "pickleScanResult": "Success",
        "hashes": {"AutoV1": "B23F1D0F", "AutoV2": sha256[:10].upper(), "SHA256": sha256.upper(),
                   "CRC32": "0A1B2C3D", "BLAKE3": "AF" * 32},
        "primary": True, "downloadUrl": "https://civitai.com/api/download/models/201",
    }
    files = [model_file]
    if with_other_files:
        # A training-data archive and a second, non-primary format, as many versions carry.
        files = [
            {"id": 302, "sizeKB": 9.5, "name": "dataset.zip", "type": "Training Data",
             "hashes": {"SHA256": "11" * 32}, "primary": False},
            {**model_file, "id": 303, "name": "other_format.ckpt", "primary": False, "hashes": {"SHA256": "22" * 32}},
            {**model_file, "name": "release_name.safetensors"},
        ]
    return {
        "id": 201, "modelId": 101, "name": "v2.0", "createdAt": "2024-03-01T10:00:00.000Z",
        "trainedWords": ["inkstyle", "sketch lines"], "baseModel": "SDXL 1.0", "description": "<p>Version notes</p>",
        "model": {"name": "Ink Style", "type": "LORA", "nsfw": False, "poi": False},
        "files": files, "images": [{"url": "https://image.civitai.com/x.jpeg", "nsfw": "None", "width": 832}],
        "extensions": {"sd_civitai_helper": {"version": "1.8.0"}},
    }


def lora_manager(sha256: str, size: int, model: Path, *, windows_path: bool = False,
                 civitai: dict[str, Any] | None = None) -> dict[str, Any]:
    """ComfyUI-Lora-Manager's <stem>.metadata.json (its LoraMetadata dataclass, as saved)."""
    file_path = f"C:/ComfyUI/models/loras/{model.name}" if windows_path else str(model)
    return {
        "file_name": model.stem, "model_name": "My Ink LoRA", "file_path": file_path, "size": size,
        "modified": os.stat(model).st_mtime, "sha256": sha256, "base_model": "SDXL 1.0",
        "preview_url": str(model.with_suffix(".preview.png")), "preview_nsfw_level": 0, "notes": "",
        "from_civitai": civitai is not None, "civitai": civitai or {}, "tags": ["style"],
        "modelDescription": "", "civitai_deleted": False, "favorite": False, "exclude": False,
        "db_checked": False, "last_checked_at": 0,
    }


def stability_matrix(sha256: str) -> dict[str, Any]:
    """Stability Matrix's <stem>.cm-info.json (ConnectedModelInfo); no file size in it."""
    return {
        "ModelId": 555, "ModelName": "Portrait Helper", "ModelDescription": "<p>Helps</p>", "Nsfw": False,
        "Tags": ["portrait"], "ModelType": "Checkpoint", "VersionId": 777, "VersionName": "v1.5",
        "VersionDescription": None, "BaseModel": "SD 1.5",
        "FileMetadata": {"Fp": "fp16", "Size": "pruned", "Format": "SafeTensor"},
        "ImportedAt": "2024-05-01T12:00:00+00:00",
        "Hashes": {"SHA256": sha256.upper(), "BLAKE3": "ab" * 32, "AutoV1": None, "AutoV2": None},
        "TrainedWords": ["portrait"], "ThumbnailImageUrl": None,
    }


def a1111_cache(entries: dict[str, tuple[float, str]]) -> dict[str, Any]:
    """A web UI's cache.json: {"hashes": {key: {"mtime", "sha256"}}} beside sections we must ignore."""
    return {
        "hashes": {key: {"mtime": mtime, "sha256": sha256} for key, (mtime, sha256) in entries.items()},
        "hashes-addnet": {key: {"mtime": mtime, "sha256": "33" * 32} for key, (mtime, _) in entries.items()},
        "safetensors-metadata": {},
        "extensions-git": {},
    }


def a1111_diskcache(webui: Path) -> Any:
    """AUTOMATIC1111 1.9+'s hashes section, opened as the web UI's modules/cache.py opens it (the caller sets
    `cache[key] = {"mtime": ..., "sha256": ...}` as its modules/hashes.py does, and closes it)."""
    import diskcache

    return diskcache.Cache(str(webui / "cache" / "hashes"), size_limit=2**32, disk_min_file_size=2**18)
