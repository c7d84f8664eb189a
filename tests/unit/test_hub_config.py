"""The hub's settings: Civitai by default, nothing sent anywhere else unless configured, bad values named."""

from __future__ import annotations

import email.utils
import time

import pytest

from backend.server.hub.limits import MAX_WAIT_S, Backoff, retry_after_s
from backend.util.config import ConfigError
from backend.util.hub_config import HubConfig, read_hub


def test_the_defaults_ask_civitai_once_a_second_for_pg_previews_only() -> None:
    assert read_hub({}) == HubConfig(url="https://civitai.com", fallback_url=None, token=None, requests_per_s=1.0,
                                     image_hosts=("image.civitai.com",), max_nsfw_level=1)


def test_every_setting_is_read() -> None:
    hub = read_hub({"MODELVAULT_HUB_URL": "https://hub.example/", "MODELVAULT_HUB_FALLBACK_URL": "https://civitai.red",
                    "MODELVAULT_HUB_TOKEN": " secret ", "MODELVAULT_HUB_REQUESTS_PER_S": "0.5",
                    "MODELVAULT_HUB_IMAGE_HOSTS": "Image.Civitai.com, cdn.example",
                    "MODELVAULT_HUB_MAX_NSFW_LEVEL": "4", "MODELVAULT_HUB_AUTO": "1"})
    assert (hub.url, hub.fallback_url, hub.token) == ("https://hub.example", "https://civitai.red", "secret")
    assert (hub.requests_per_s, hub.image_hosts, hub.max_nsfw_level) == (0.5, ("image.civitai.com", "cdn.example"), 4)
    assert hub.auto is True and read_hub({}).auto is False


@pytest.mark.parametrize(("name", "value", "words"), [
    ("MODELVAULT_HUB_URL", "file:///etc/passwd", "http:// or https:// URL"),
    ("MODELVAULT_HUB_URL", "https://civitai.com/api", "without a path"),
    ("MODELVAULT_HUB_URL", " ", "must not be empty"),
    ("MODELVAULT_HUB_FALLBACK_URL", "ftp://civitai.red", "http:// or https:// URL"),
    ("MODELVAULT_HUB_REQUESTS_PER_S", "0", "positive"),
    ("MODELVAULT_HUB_MAX_NSFW_LEVEL", "3", "one of 1, 2, 4, 8, 16"),
])
def test_a_bad_value_is_refused_by_name(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        read_hub({name: value})
    assert words in str(raised.value)


def test_retry_after_reads_seconds_and_dates_and_never_waits_past_the_cap() -> None:
    assert retry_after_s("3") == 3.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    assert retry_after_s("86400") == MAX_WAIT_S
    later = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 <= retry_after_s(later) <= 10
    backoff = Backoff(1.0)
    assert [backoff.next_wait() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_the_values_compose_passes_when_unset_are_the_defaults() -> None:
    empty = {name: "" for name in ("MODELVAULT_HUB_FALLBACK_URL", "MODELVAULT_HUB_TOKEN", "MODELVAULT_HUB_AUTO",
                                   "MODELVAULT_HUB_REQUESTS_PER_S", "MODELVAULT_HUB_MAX_NSFW_LEVEL")}
    assert read_hub({**empty, "MODELVAULT_HUB_URL": "https://civitai.com",
                     "MODELVAULT_HUB_IMAGE_HOSTS": "image.civitai.com"}) == read_hub({})
