"""Configuration: one frozen dataclass tree, filled from MODELVAULT_* variables by load_config."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from backend.util.env_values import ConfigError, _bool, _float, _int, _text
from backend.util.hub_config import HubConfig, read_hub

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# The largest real body, an import naming 16 web UI folders and a folder, each up to PATH_MAX (4096 bytes)
# and each byte escaped as \u00XX at worst (6 bytes), is 17 * 4096 * 6 = 418 KB: 1 MiB leaves a margin.
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HasherConfig:
    listen: str
    workers: int
    # Files read at once from one spinning disk; SSDs and page-cached data get every worker.
    readers_per_disk: int
    # auto: /sys/block/<dev>/queue/rotational decides; all / none override the detection.
    rotational_devices: str
    # Which .safetensors files get an AutoV3 (a second SHA-256 in the same read): small (at most
    # AUTOV3_SMALL_BYTES, where LoRAs and embeddings are), all, or none.
    autov3: str = "small"

    @property
    def autov3_max_bytes(self) -> int:
        """The largest file that gets an AutoV3; -1 for none."""
        return {"none": -1, "small": AUTOV3_SMALL_BYTES, "all": 1 << 62}[self.autov3]


# MODELVAULT_AUTOV3=small: LoRAs, embeddings and VAEs are under this, most checkpoints over it.
AUTOV3_SMALL_BYTES = 2 << 30


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
    # Open event streams (GET /api/jobs/{id}/events); each holds a connection and a little memory.
    max_event_streams: int
    # Required when `host` is not loopback; then every /api and /images request must carry it.
    api_token: str | None
    # Host header names (without port) the gateway answers to; anything else is refused (DNS rebinding).
    allowed_hosts: tuple[str, ...]


# How much longer than the settling time a file seen growing waits: a copy that paused once may pause again.
GROWING_SETTLE_FACTOR = 3.0


@dataclass(frozen=True)
class JobsConfig:
    # Scan the roots at start, hash what is new, and watch the roots; 0 leaves everything to the user.
    auto_scan: bool
    # The fallback for file systems that do not notify (some network mounts).
    rescan_interval_s: float
    # A pending row's lease; renewed while its file is hashed, so a dead gateway's rows return this soon.
    lease_s: float
    # A running job whose gateway has not beaten its heart for this long died with it.
    stale_s: float
    # A file is hashed once its size and mtime have stood still this long (one still being copied is not);
    # a file seen growing waits GROWING_SETTLE_FACTOR times as long from then.
    settle_s: float


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
    jobs: JobsConfig
    # Folders outside the model roots whose legacy data (a web UI's cache.json) may be imported.
    import_roots: tuple[Path, ...] = ()
    hub: HubConfig = HubConfig()

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"


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


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _allowed_hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    extra = [name.strip().lower() for name in env.get("MODELVAULT_ALLOWED_HOSTS", "").split(",") if name.strip()]
    return tuple(dict.fromkeys((*LOOPBACK_NAMES, *extra)))


def _api_token(env: Mapping[str, str], host: str) -> str | None:
    token = env.get("MODELVAULT_API_TOKEN", "").strip() or None
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"MODELVAULT_API_TOKEN is required when MODELVAULT_HTTP_HOST is not loopback (it is {host!r})"
        )
    if token is not None and len(token) < 16:
        raise ConfigError("MODELVAULT_API_TOKEN must be at least 16 characters")
    return token


def _gateway(env: Mapping[str, str]) -> GatewayConfig:
    host = _text(env, "MODELVAULT_HTTP_HOST", "127.0.0.1")
    return GatewayConfig(
        host=host,
        port=_int(env, "MODELVAULT_HTTP_PORT", 8080),
        hasher_target=_text(env, "MODELVAULT_HASHER_TARGET", "127.0.0.1:50051"),
        images_target=_text(env, "MODELVAULT_IMAGES_TARGET", "127.0.0.1:50052"),
        database_url=env.get("DATABASE_URL", "").strip() or None,
        hash_timeout_s=_float(env, "MODELVAULT_HASH_TIMEOUT_S", 900.0),
        rpc_timeout_s=_float(env, "MODELVAULT_RPC_TIMEOUT_S", 30.0),
        max_body_bytes=_int(env, "MODELVAULT_MAX_BODY_BYTES", MAX_BODY_BYTES, minimum=1024),
        max_event_streams=_int(env, "MODELVAULT_MAX_EVENT_STREAMS", 1000, minimum=1),
        api_token=_api_token(env, host),
        allowed_hosts=_allowed_hosts(env),
    )


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
    return Config(
        model_roots=_model_roots(env),
        data_dir=data_dir.resolve(),
        dev=_bool(env, "MODELVAULT_DEV"),
        grpc_max_connection_age_s=_float(env, "MODELVAULT_GRPC_MAX_CONNECTION_AGE_S", 30.0),
        import_roots=_import_roots(env),
        hasher=HasherConfig(
            listen=_text(env, "MODELVAULT_HASHER_LISTEN", "127.0.0.1:50051"),
            workers=_int(env, "MODELVAULT_HASHER_WORKERS", cpus, minimum=1),
            readers_per_disk=_int(env, "MODELVAULT_READERS_PER_DISK", 1, minimum=1),
            rotational_devices=_rotational_devices(env),
            autov3=_autov3(env),
        ),
        images=ImagesConfig(
            listen=_text(env, "MODELVAULT_IMAGES_LISTEN", "127.0.0.1:50052"),
            workers=_int(env, "MODELVAULT_IMAGES_WORKERS", cpus, minimum=1),
            max_source_pixels=_int(env, "MODELVAULT_IMAGE_MAX_SOURCE_PIXELS", 180_000_000, minimum=1),
        ),
        gateway=_gateway(env),
        jobs=_jobs(env),
        hub=read_hub(env),
    )


def _rotational_devices(env: Mapping[str, str]) -> str:
    rotational = env.get("MODELVAULT_ROTATIONAL_DEVICES", "auto").strip().lower() or "auto"
    if rotational not in ("auto", "all", "none"):
        raise ConfigError(f"MODELVAULT_ROTATIONAL_DEVICES must be auto, all or none, got {rotational!r}")
    return rotational


def _autov3(env: Mapping[str, str]) -> str:
    autov3 = env.get("MODELVAULT_AUTOV3", "small").strip().lower() or "small"
    if autov3 not in ("small", "all", "none"):
        raise ConfigError(f"MODELVAULT_AUTOV3 must be small, all or none, got {autov3!r}")
    return autov3


def _jobs(env: Mapping[str, str]) -> JobsConfig:
    return JobsConfig(
        auto_scan=_bool(env, "MODELVAULT_AUTO_SCAN", default=True),
        rescan_interval_s=_float(env, "MODELVAULT_RESCAN_INTERVAL_S", 3600.0),
        lease_s=_float(env, "MODELVAULT_LEASE_S", 60.0),
        stale_s=_float(env, "MODELVAULT_JOB_STALE_S", 30.0),
        settle_s=_float(env, "MODELVAULT_SETTLE_S", 5.0, zero=True),
    )

