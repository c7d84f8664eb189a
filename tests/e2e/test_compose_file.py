"""docker-compose.yml with no variables set is the deployment a user with a registry gets."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, require_docker

# What scripts/ci/env.sh and the e2e stack set; a user's shell has none of them.
OVERRIDES = (
    "COMPOSE_PROJECT_NAME", "BASE_IMAGE", "POSTGRES_IMAGE", "POSTGRES_PULL_POLICY", "POSTGRES_PASSWORD",
    "MODELVAULT_IMAGE", "MODELVAULT_WHEELS", "MODELVAULT_MODELS", "MODELVAULT_HTTP_BIND", "MODELVAULT_HTTP_PORT",
    "MODELVAULT_HASHER_WORKERS", "MODELVAULT_IMAGES_WORKERS", "MODELVAULT_API_TOKEN", "MODELVAULT_ALLOWED_HOSTS",
)
# The one variable a user must set: the gateway listens beyond loopback inside its network.
TOKEN = "a-token-of-the-user-0123456789"


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-f", "docker-compose.yml", "config", "--format", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    require_docker()
    env = {name: value for name, value in os.environ.items() if name not in OVERRIDES}
    done = _compose_config({**env, "MODELVAULT_API_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _dockerfile_default(arg: str) -> str:
    """The default of an ARG in the Dockerfile: the one place that names the base image's tag."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith(f"ARG {arg}="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"no ARG {arg}= in the Dockerfile")


def test_without_a_token_compose_refuses_and_says_which_variable() -> None:
    require_docker()
    done = _compose_config({name: value for name, value in os.environ.items() if name not in OVERRIDES})
    assert done.returncode != 0
    assert "MODELVAULT_API_TOKEN" in done.stderr


def test_the_gateway_gets_the_token(config: dict[str, Any]) -> None:
    assert config["services"]["gateway"]["environment"]["MODELVAULT_API_TOKEN"] == TOKEN
    assert "MODELVAULT_API_TOKEN" not in config["services"]["hasher"].get("environment", {})


def test_defaults_are_the_official_images(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == {"postgres", "hasher", "images", "gateway"}
    # Official Docker Hub repositories, whichever tag the files pin today.
    assert services["postgres"]["image"].split(":")[0] == "postgres"
    base_image = _dockerfile_default("BASE_IMAGE")
    assert base_image.split(":")[0] == "python"
    for name in ("hasher", "images", "gateway"):
        assert services[name]["build"]["args"]["BASE_IMAGE"] == base_image
        assert services[name]["build"]["args"]["WHEELS"] == ""


def test_only_the_gateway_publishes_a_port_on_loopback(config: dict[str, Any]) -> None:
    published = {name: svc.get("ports", []) for name, svc in config["services"].items()}
    assert [name for name, ports in published.items() if ports] == ["gateway"]
    (port,) = published["gateway"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8080", 8080)


def test_every_service_is_health_checked_and_the_gateway_waits_for_them(config: dict[str, Any]) -> None:
    services = config["services"]
    for name, svc in services.items():
        assert svc["healthcheck"]["test"], name
        assert svc.get("stop_grace_period"), name
    depends = services["gateway"]["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == dict.fromkeys(
        ("postgres", "hasher", "images"), "service_healthy"
    )
    assert services["gateway"]["environment"]["MODELVAULT_HASHER_TARGET"] == "dns:///hasher:50051"


def test_volumes_models_read_only_images_shared_database_named(config: dict[str, Any]) -> None:
    services = config["services"]

    def mounts(name: str) -> dict[str, dict[str, Any]]:
        return {m["target"]: m for m in services[name]["volumes"]}

    for name in ("hasher", "images"):
        models = mounts(name)["/models"]
        assert models["type"] == "bind" and models["read_only"] is True, models
        assert models["source"] == str(ROOT / "debug_models")
    assert mounts("images")["/data/images"]["source"] == mounts("gateway")["/data/images"]["source"] == "images"
    assert mounts("postgres")["/var/lib/postgresql/data"] == {
        "type": "volume", "source": "postgres", "target": "/var/lib/postgresql/data", "volume": {}
    }
    assert set(config["volumes"]) == {"postgres", "images"}
