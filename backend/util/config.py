"""Configuration: one frozen dataclass tree, filled from MODELVAULT_* variables by load_config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class HasherConfig:
    listen: str
    workers: int


@dataclass(frozen=True)
class ImagesConfig:
    listen: str
    workers: int
    # Decompression-bomb guard: sources with more pixels are refused before decoding.
    max_source_pixels: int


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    port: int
    hasher_target: str
    images_target: str
    # None: start the project's embedded PostgreSQL under data/postgres.
    database_url: str | None
    # A 7 GB model on a cold spinning disk takes minutes; the default leaves room for that.
    hash_timeout_s: float
    rpc_timeout_s: float
    max_body_bytes: int


@dataclass(frozen=True)
class Config:
    model_roots: tuple[Path, ...]
    data_dir: Path
    dev: bool
    # The services close client connections this old (after their calls finish), so clients resolve DNS
    # again and a hasher replica added by `--scale` gets work without restarting the gateway.
    grpc_max_connection_age_s: float
    hasher: HasherConfig
    images: ImagesConfig
    gateway: GatewayConfig
    # Folders outside the model roots whose legacy data (a web UI's cache.json) may be imported.
    import_roots: tuple[Path, ...] = ()

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip()
    if not value:
        raise ConfigError(f"{name} must not be empty")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def _model_roots(env: Mapping[str, str]) -> tuple[Path, ...]:
    name = "MODELVAULT_MODEL_ROOTS"
    raw = env.get(name, str(PROJECT_ROOT / "debug_models"))
    roots = []
    for part in raw.split(os.pathsep):
        if not part.strip():
            continue
        root = Path(part).expanduser()
        if not root.is_absolute():
            root = PROJECT_ROOT / root
        if not root.is_dir():
            raise ConfigError(f"{name}: {str(root)!r} is not a directory")
        # Resolved once here so that every later containment check compares real paths.
        roots.append(root.resolve())
    if not roots:
        raise ConfigError(f"{name} must name at least one directory")
    return tuple(roots)


def _import_roots(env: Mapping[str, str]) -> tuple[Path, ...]:
    # Not checked on disk: the gateway may not see the folder (in compose only the hasher mounts it).
    roots = []
    for part in env.get("MODELVAULT_IMPORT_ROOTS", "").split(os.pathsep):
        if part.strip():
            root = Path(part.strip()).expanduser()
            if not root.is_absolute():
                raise ConfigError(f"MODELVAULT_IMPORT_ROOTS: {part!r} is not an absolute path")
            roots.append(Path(os.path.normpath(root)))
    return tuple(roots)


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the whole configuration, failing fast on the first bad variable."""
    env = os.environ if environ is None else environ
    cpus = os.cpu_count() or 1
    data_dir = Path(_text(env, "MODELVAULT_DATA_DIR", str(PROJECT_ROOT / "data"))).expanduser()
    if not data_dir.is_absolute():
        data_dir = PROJECT_ROOT / data_dir
    database_url = env.get("DATABASE_URL", "").strip() or None
    return Config(
        model_roots=_model_roots(env),
        data_dir=data_dir.resolve(),
        dev=_bool(env, "MODELVAULT_DEV"),
        grpc_max_connection_age_s=_float(env, "MODELVAULT_GRPC_MAX_CONNECTION_AGE_S", 30.0),
        import_roots=_import_roots(env),
        hasher=HasherConfig(
            listen=_text(env, "MODELVAULT_HASHER_LISTEN", "127.0.0.1:50051"),
            workers=_int(env, "MODELVAULT_HASHER_WORKERS", cpus, minimum=1),
        ),
        images=ImagesConfig(
            listen=_text(env, "MODELVAULT_IMAGES_LISTEN", "127.0.0.1:50052"),
            workers=_int(env, "MODELVAULT_IMAGES_WORKERS", cpus, minimum=1),
            max_source_pixels=_int(env, "MODELVAULT_IMAGE_MAX_SOURCE_PIXELS", 180_000_000, minimum=1),
        ),
        gateway=GatewayConfig(
            host=_text(env, "MODELVAULT_HTTP_HOST", "127.0.0.1"),
            port=_int(env, "MODELVAULT_HTTP_PORT", 8080),
            hasher_target=_text(env, "MODELVAULT_HASHER_TARGET", "127.0.0.1:50051"),
            images_target=_text(env, "MODELVAULT_IMAGES_TARGET", "127.0.0.1:50052"),
            database_url=database_url,
            hash_timeout_s=_float(env, "MODELVAULT_HASH_TIMEOUT_S", 900.0),
            rpc_timeout_s=_float(env, "MODELVAULT_RPC_TIMEOUT_S", 30.0),
            max_body_bytes=_int(env, "MODELVAULT_MAX_BODY_BYTES", 32 * 1024 * 1024, minimum=1024),
        ),
    )
