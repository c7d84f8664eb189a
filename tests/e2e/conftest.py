"""The compose deployment, started once for the e2e package with testcontainers, and an HTTP client for it."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from testcontainers.compose import DockerCompose

from tests.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "modelvault-e2e"
# Compose's `--wait` covers start-up; this covers a service brought back by a test.
HEALTHY_WITHIN_S = 90.0


def _docker_missing() -> str | None:
    """Why the e2e tests cannot run here, or None when Docker and compose v2 answer."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    checks = ((["docker", "info"], "the Docker engine"), (["docker", "compose", "version"], "docker compose v2"))
    for cmd, what in checks:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{what} does not answer: {exc}"
        if done.returncode != 0:
            return f"{what} is not available: {(done.stderr or done.stdout).strip()[:300]}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """The running deployment: where its gateway listens and where its model folder is on the host."""

    compose: DockerCompose
    base_url: str
    models: Path
    # The gateway binds 0.0.0.0 in its container, so it requires MODELVAULT_API_TOKEN.
    token: str

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A `docker compose` command on this project, as an operator would type it."""
        done = subprocess.run(
            [*self.compose.compose_command_property, *args],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def container_ids(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).stdout.split()

    def docker_logs(self, container: str, since: str) -> str:
        """One container's log (stdout and stderr) since an RFC 3339 time."""
        done = subprocess.run(
            ["docker", "logs", "--since", since, container], capture_output=True, text=True, timeout=60
        )
        return done.stdout + done.stderr

    def logs(self, tail: int = 200) -> str:
        done = self.run("logs", "--no-color", "--tail", str(tail), check=False)
        return done.stdout + done.stderr

    def model(self, size: int = 1_500_000, suffix: str = ".safetensors") -> Path:
        """A new model file of random bytes, in its own folder, readable by the containers' user."""
        folder = self.models / uuid.uuid4().hex[:12]
        folder.mkdir(mode=0o755)
        path = folder / f"model_{uuid.uuid4().hex[:8]}{suffix}"
        path.write_bytes(os.urandom(size))
        path.chmod(0o644)
        return path

    def preview(self, model: Path, size: tuple[int, int] = (1200, 900)) -> Path:
        """A PNG preview beside the model, as model managers keep them."""
        path = model.with_suffix(".png")
        Image.new("RGB", size, (30, 120, 200)).save(path)
        path.chmod(0o644)
        return path

    def in_container(self, path: Path) -> str:
        """The path as the hasher and the image service see it: the model folder is mounted at /models."""
        return "/models/" + path.relative_to(self.models).as_posix()


def require_docker() -> None:
    """Skip without Docker, with the reason; fail instead when MODELVAULT_REQUIRE_DOCKER=1 (CI)."""
    missing = _docker_missing()
    if missing is not None:
        if os.environ.get("MODELVAULT_REQUIRE_DOCKER") == "1":
            pytest.fail(f"MODELVAULT_REQUIRE_DOCKER=1 but {missing}; run scripts/ci/setup-docker.sh", pytrace=False)
        pytest.skip(f"end-to-end tests need Docker with compose v2: {missing}")


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    require_docker()

    # The containers run as an unprivileged user: the model folder must be readable by everyone.
    models = Path(tempfile.mkdtemp(prefix="modelvault-e2e-models-"))
    models.chmod(0o755)
    port = _free_port()
    token = secrets.token_hex(32)
    env = {
        "COMPOSE_PROJECT_NAME": PROJECT,
        # Its own tag, so that the tests never replace an image a user runs.
        "MODELVAULT_IMAGE": "modelvault:e2e",
        "MODELVAULT_MODELS": str(models),
        "MODELVAULT_HTTP_BIND": "127.0.0.1",
        "MODELVAULT_HTTP_PORT": str(port),
        "MODELVAULT_API_TOKEN": token,
        # Two cores here: one worker per replica leaves room for three replicas and the rest.
        "MODELVAULT_HASHER_WORKERS": "1",
        "MODELVAULT_IMAGES_WORKERS": "1",
        # The gateway re-resolves hasher replicas within seconds, not the default 30 s.
        "MODELVAULT_GRPC_MAX_CONNECTION_AGE_S": "3",
        # Files written a moment before they are scanned are hashed at once.
        "MODELVAULT_SETTLE_S": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        compose = DockerCompose(ROOT, compose_file_name="docker-compose.yml", build=True, wait=True)
        stack = Stack(compose, f"http://127.0.0.1:{port}", models, token)
        # Whatever a killed run left behind under this project name goes first.
        stack.run("down", "--volumes", "--remove-orphans", check=False)
        try:
            compose.start()
        except subprocess.CalledProcessError as exc:
            logs = stack.logs()
            stack.run("down", "--volumes", "--remove-orphans", check=False)
            shutil.rmtree(models, ignore_errors=True)
            pytest.fail(
                f"docker compose up failed ({exc.returncode}):\n{exc.stderr.decode(errors='replace')}\n{logs}",
                pytrace=False,
            )
        try:
            yield stack
        finally:
            compose.stop(down=True)
            shutil.rmtree(models, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failing e2e test shows what the containers logged."""
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.when == "call" and report.failed and isinstance(stack, Stack):
        report.sections.append(("docker compose logs", stack.logs(tail=80)))
    return report


class Api:
    """The gateway as a client sees it: JSON in, (status, JSON) out."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        async with self.session.get(self.base_url + path, params=params) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def raw(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        async with self.session.get(self.base_url + path, headers=headers or {}) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def hash(self, path: str, pending_status: str = "pending") -> tuple[int, Any]:
        return await self.post("/api/models/sha256", {"path": path, "pending_status": pending_status})

    async def all_items(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paginated list, page after page."""
        items: list[dict[str, Any]] = []
        while True:
            status, page = await self.get(path, limit=100, offset=len(items))
            assert status == 200, page
            items.extend(page["items"])
            if not page["items"] or len(items) >= page["total"]:
                return items

    async def wait_healthy(self, timeout_s: float = HEALTHY_WITHIN_S) -> dict[str, Any]:
        async def healthy() -> dict[str, Any] | None:
            status, body = await self.get("/api/health")
            return body if status == 200 else None

        return await eventually(healthy, timeout_s, interval=0.5, what="the gateway's /api/health")


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        yield Api(session, stack.base_url)


@dataclass
class PendingModel:
    """A model file with a side-car preview, registered as pending through the API."""

    file: Path
    path: str  # as the containers see it
    record: dict[str, Any]  # the answer to the registration


RegisterPending = Callable[..., Awaitable[PendingModel]]


@pytest.fixture
def register_pending(stack: Stack, api: Api) -> RegisterPending:
    """Write a new model (size bytes) with a preview, register it as pending, and check the 201."""

    async def register(size: int = 1_500_000) -> PendingModel:
        model = stack.model(size=size)
        preview = stack.preview(model)
        path = stack.in_container(model)
        status, record = await api.post(
            "/api/models/pending", {"path": path, "preview_path": stack.in_container(preview)}
        )
        assert status == 201, record
        return PendingModel(model, path, record)

    return register
