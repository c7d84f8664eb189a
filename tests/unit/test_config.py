"""load_config: defaults, parsing, and a clear error naming the variable for every bad value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.util.config import ConfigError, load_config


def test_defaults_and_overrides(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    config = load_config({
        "MODELVAULT_MODEL_ROOTS": f"{one}{os.pathsep}{two}",
        "MODELVAULT_DATA_DIR": str(tmp_path / "data"),
        "MODELVAULT_HTTP_PORT": "9090",
        "MODELVAULT_DEV": "true",
        "DATABASE_URL": "postgresql://u@h/db",
    })
    assert config.model_roots == (one.resolve(), two.resolve())
    assert config.images_dir == (tmp_path / "data").resolve() / "images"
    assert config.gateway.port == 9090 and config.gateway.host == "127.0.0.1"
    assert config.dev is True and config.gateway.database_url == "postgresql://u@h/db"
    assert config.hasher.workers == (os.cpu_count() or 1)
    assert load_config({"MODELVAULT_MODEL_ROOTS": str(one)}).gateway.database_url is None


def test_jobs_settings_are_on_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    config = load_config({"MODELVAULT_MODEL_ROOTS": str(tmp_path)})
    assert config.jobs.auto_scan is True
    assert (config.hasher.rotational_devices, config.hasher.readers_per_disk) == ("auto", 1)
    assert (config.jobs.lease_s, config.jobs.stale_s) == (60.0, 30.0)
    config = load_config({"MODELVAULT_MODEL_ROOTS": str(tmp_path), "MODELVAULT_AUTO_SCAN": "0",
                          "MODELVAULT_ROTATIONAL_DEVICES": "ALL", "MODELVAULT_READERS_PER_DISK": "2"})
    assert config.jobs.auto_scan is False
    assert (config.hasher.rotational_devices, config.hasher.readers_per_disk) == ("all", 2)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODELVAULT_HTTP_PORT", "eighty", "MODELVAULT_HTTP_PORT must be an integer"),
        ("MODELVAULT_HASHER_WORKERS", "0", "MODELVAULT_HASHER_WORKERS must be at least 1"),
        ("MODELVAULT_DEV", "maybe", "MODELVAULT_DEV must be 1 or 0"),
        ("MODELVAULT_HASH_TIMEOUT_S", "-1", "MODELVAULT_HASH_TIMEOUT_S must be positive"),
        ("MODELVAULT_MODEL_ROOTS", "/no/such/folder", "MODELVAULT_MODEL_ROOTS: '/no/such/folder' is not a directory"),
        ("MODELVAULT_MODEL_ROOTS", os.pathsep, "MODELVAULT_MODEL_ROOTS must name at least one directory"),
        ("MODELVAULT_HASHER_LISTEN", " ", "MODELVAULT_HASHER_LISTEN must not be empty"),
        ("MODELVAULT_ROTATIONAL_DEVICES", "some", "MODELVAULT_ROTATIONAL_DEVICES must be auto, all or none"),
        ("MODELVAULT_AUTO_SCAN", "sometimes", "MODELVAULT_AUTO_SCAN must be 1 or 0"),
        ("MODELVAULT_LEASE_S", "0", "MODELVAULT_LEASE_S must be positive"),
    ],
)
def test_a_bad_value_is_named(tmp_path: Path, name: str, value: str, message: str) -> None:
    env = {"MODELVAULT_MODEL_ROOTS": str(tmp_path), name: value}
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_beyond_loopback_the_token_is_required(tmp_path: Path) -> None:
    base = {"MODELVAULT_MODEL_ROOTS": str(tmp_path), "MODELVAULT_HTTP_HOST": "0.0.0.0"}
    with pytest.raises(ConfigError, match="MODELVAULT_API_TOKEN is required"):
        load_config(base)
    with pytest.raises(ConfigError, match="MODELVAULT_API_TOKEN must be at least 16"):
        load_config({**base, "MODELVAULT_API_TOKEN": "short"})
    assert load_config({**base, "MODELVAULT_API_TOKEN": "t" * 32}).gateway.api_token == "t" * 32
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        gateway = load_config({**base, "MODELVAULT_HTTP_HOST": loopback}).gateway
        assert gateway.api_token is None


def test_allowed_hosts_add_to_the_loopback_names(tmp_path: Path) -> None:
    config = load_config({"MODELVAULT_MODEL_ROOTS": str(tmp_path), "MODELVAULT_ALLOWED_HOSTS": " Vault.lan, nas "})
    assert config.gateway.allowed_hosts == ("localhost", "127.0.0.1", "[::1]", "vault.lan", "nas")


def test_import_roots_are_absolute_folders_that_need_not_be_mounted_here(tmp_path: Path) -> None:
    env = {"MODELVAULT_MODEL_ROOTS": str(tmp_path)}
    assert load_config(env).import_roots == ()
    config = load_config({**env, "MODELVAULT_IMPORT_ROOTS": f"/srv/webui/{os.pathsep}/mnt/forge/../sdnext"})
    assert config.import_roots == (Path("/srv/webui"), Path("/mnt/sdnext"))
    with pytest.raises(ConfigError, match="MODELVAULT_IMPORT_ROOTS"):
        load_config({**env, "MODELVAULT_IMPORT_ROOTS": "relative/webui"})
