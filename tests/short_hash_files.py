"""Real LoRA files for the short-hash tests, and the short hashes as the other tools define them, computed the
plain way (the whole file in memory) so that the hasher's one streamed read has an independent answer to meet."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ONE_MIB = 1 << 20


def autov1_as_a1111(path: Path) -> str:
    """A1111's old `model_hash`: the SHA-256 of the 64 KiB that start at 1 MiB (however few are there), 8 digits."""
    return sha256(path.read_bytes()[ONE_MIB:ONE_MIB + (64 << 10)]).hexdigest()[:8]


def autov3_as_civitai(path: Path) -> str:
    """Civitai's AutoV3 (kohya's and the additional-networks' hash): the SHA-256 of all that follows the safetensors
    header (8 bytes of little-endian length, then that many bytes of JSON), 12 digits."""
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    return sha256(data[header_end:]).hexdigest()[:12]


def lora(path: Path, seed: int, rank: int = 8, metadata: dict[str, str] | None = None) -> Path:
    """A real kohya-named LoRA; rank 600 makes it about 1.5 MiB (an AutoV1 of its own). Its header claims the
    empty input's hash, as many real files' `sshs_model_hash` does: never what the hasher answers."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight":
               rng.standard_normal((rank, 320)).astype(np.float32),
               "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight":
               rng.standard_normal((320, rank)).astype(np.float32)},
              str(path), metadata={"sshs_model_hash": "0x" + "e3b0c442" * 8} if metadata is None else metadata)
    return path
