"""The hub's settings (MODELVAULT_HUB_*): where to ask by hash, how fast, and which previews to take."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from backend.util.env_values import ConfigError, _bool, _float, _int

# Civitai's nsfwLevel bits: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX.
NSFW_LEVELS = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class HubConfig:
    """The hub asked by hash (Civitai's public API): nothing is sent unless a person starts a hub job."""

    url: str = "https://civitai.com"
    # Asked for what the first hub does not know (Civitai serves NSFW models from civitai.red since 2026-04).
    fallback_url: str | None = None
    # Sent as Authorization: Bearer, to the hub's own hosts only (never to an image host).
    token: str | None = None
    requests_per_s: float = 1.0
    # Hosts previews may be downloaded from, besides the hubs' own.
    image_hosts: tuple[str, ...] = ("image.civitai.com",)
    max_nsfw_level: int = 1
    # The first wait after a 5xx, a timeout or a 429 without Retry-After; doubled up to 30 s.
    backoff_s: float = 1.0
    timeout_s: float = 30.0
    # Every hash job that catalogued files is followed by a hub job (the person opted in here).
    auto: bool = False


def _hub_url(env: Mapping[str, str], name: str, default: str) -> str | None:
    """An http(s) URL without a path: the API's paths are added to it."""
    raw = env.get(name, default).strip().rstrip("/")
    if not raw:
        return None
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http:// or https:// URL without a path, got {raw!r}")
    return raw


def _nsfw_level(env: Mapping[str, str]) -> int:
    level = _int(env, "MODELVAULT_HUB_MAX_NSFW_LEVEL", 1, minimum=1)
    if level not in NSFW_LEVELS:
        raise ConfigError(f"MODELVAULT_HUB_MAX_NSFW_LEVEL must be one of {', '.join(map(str, NSFW_LEVELS))} "
                          f"(1 PG, 2 PG-13, 4 R, 8 X, 16 XXX), got {level}")
    return level


def read_hub(env: Mapping[str, str]) -> HubConfig:
    url = _hub_url(env, "MODELVAULT_HUB_URL", HubConfig.url)
    if url is None:
        raise ConfigError("MODELVAULT_HUB_URL must not be empty")
    hosts = [h.strip().lower() for h in env.get("MODELVAULT_HUB_IMAGE_HOSTS", "image.civitai.com").split(",")]
    return HubConfig(
        url=url,
        fallback_url=_hub_url(env, "MODELVAULT_HUB_FALLBACK_URL", ""),
        token=env.get("MODELVAULT_HUB_TOKEN", "").strip() or None,
        requests_per_s=_float(env, "MODELVAULT_HUB_REQUESTS_PER_S", 1.0),
        image_hosts=tuple(h for h in hosts if h),
        max_nsfw_level=_nsfw_level(env),
        backoff_s=_float(env, "MODELVAULT_HUB_BACKOFF_S", 1.0),
        timeout_s=_float(env, "MODELVAULT_HUB_TIMEOUT_S", 30.0),
        auto=_bool(env, "MODELVAULT_HUB_AUTO"),
    )
