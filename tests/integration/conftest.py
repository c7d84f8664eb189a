"""Real parts for integration tests: one embedded PostgreSQL per session, a fresh database per test,
the two gRPC services on free ports, and the gateway built from a config pointing at all of them."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from backend.database.embedded import EmbeddedPostgres
from backend.server.instance import create_app
from backend.util.config import PROJECT_ROOT, Config
from modelvault.hasher.v1 import hasher_pb2_grpc
from services.hasher.server import HasherService
from services.hasher.server import build_service as build_hasher
from services.images.server import ImageService
from services.images.server import build_service as build_images
from tests.conftest import make_config
from tests.integration.cli_support import Api, serve_gateway
from tests.integration.fake_hub import FakeHub, hub_running
from tests.integration.hasher_support import Hasher, MiB, write_random
from tests.integration.images_support import Running, serve

StartHasher = Callable[..., Awaitable[Hasher]]
SpawnService = Callable[..., Awaitable[tuple[asyncio.subprocess.Process, int]]]


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DATABASE_URL when given (a server of the user's), else the project's embedded server in a temp folder."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    # Our own folder, not pytest's tmp_path: pytest prunes old base folders, which another pytest run
    # on the machine may do while this server still lives in one.
    folder = Path(tempfile.mkdtemp(prefix="modelvault-test-pg-"))
    server = EmbeddedPostgres(folder / "pgdata")
    server.start()
    try:
        yield server.dsn
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        # As root the cluster may live elsewhere (backend/database/embedded_files.py: relocated_cluster).
        shutil.rmtree(server.pgdata, ignore_errors=True)


def _with_database(dsn: str, name: str) -> str:
    base, _, query = dsn.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


@pytest.fixture
async def database_url(postgres_dsn: str) -> AsyncIterator[str]:
    """A new, empty database for one test, dropped after it."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(postgres_dsn, name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Stack:
    """The running parts of one test's stack, with handles to stop and restart the services."""

    model_root: Path
    data_dir: Path
    database_url: str
    hasher: HasherService
    images: ImageService
    env: dict[str, str] = field(default_factory=dict)

    def config(self, **env: str) -> Config:
        return make_config([self.model_root], self.data_dir, **{**self.env, **env})

    def app(self, **env: str) -> web.Application:
        """The gateway's app over this stack, with extra settings."""
        return create_app(self.config(**env))

    async def restart_images(self) -> None:
        self.images = build_images(self.config(MODELVAULT_IMAGES_LISTEN=f"127.0.0.1:{self.images.port}"))
        await self.images.start()


@pytest.fixture
async def stack(model_root: Path, data_dir: Path, database_url: str) -> AsyncIterator[Stack]:
    base = make_config([model_root], data_dir)
    hasher, images = build_hasher(base), build_images(base)
    await hasher.start()
    await images.start()
    env = {
        "DATABASE_URL": database_url,
        "MODELVAULT_HASHER_TARGET": f"127.0.0.1:{hasher.port}",
        "MODELVAULT_IMAGES_TARGET": f"127.0.0.1:{images.port}",
        "MODELVAULT_RPC_TIMEOUT_S": "10",
    }
    running = Stack(model_root, data_dir, database_url, hasher, images, env)
    try:
        yield running
    finally:
        await running.images.stop(grace=0)
        await running.hasher.stop(grace=0)


@pytest.fixture
def own_database(stack: Stack) -> Iterator[EmbeddedPostgres]:
    """The embedded cluster a gateway without DATABASE_URL starts in the test's data folder: the test's
    alone (not the session's shared server), so that it may kill it."""
    server = EmbeddedPostgres(stack.config().postgres_dir)
    yield server
    server.stop()
    shutil.rmtree(server.pgdata, ignore_errors=True)


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client) -> TestClient:
    return await aiohttp_client(create_app(stack.config()))


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    """A local hub that answers like Civitai (fake_hub.py), on a free port while the test runs."""
    async with hub_running(FakeHub()) as fake:
        yield fake


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for asserting rows, as an operator with psql would see them."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


# ---- the services alone, over gRPC or as processes ------------------------------------------------


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second model root kept for a whole test module, for files too big to write for every test."""
    return tmp_path_factory.mktemp("shared_models").resolve()


@pytest.fixture(scope="module")
def big_file(shared_root: Path) -> tuple[Path, str]:
    """300 MiB of random content and its SHA-256."""
    path = shared_root / "big.safetensors"
    return path, write_random(path, 300 * MiB)


@pytest.fixture
async def svc(config: Config, model_root: Path) -> AsyncIterator[Running]:
    """The image service over the test's config, with a stub to it."""
    async for running in serve(config, model_root):
        yield running


@pytest.fixture
async def start_hasher(model_root: Path, data_dir: Path, shared_root: Path) -> AsyncIterator[StartHasher]:
    """Start hashers over model_root and shared_root (env overrides the config); each is stopped after the test."""
    started: list[Hasher] = []

    async def start(**env: str) -> Hasher:
        service = build_hasher(make_config([model_root, shared_root], data_dir, **env))
        port = await service.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        started.append(hasher := Hasher(service, channel, hasher_pb2_grpc.HasherServiceStub(channel)))
        return hasher

    yield start
    for hasher in started:
        await hasher.channel.close()
        await hasher.service.stop(grace=0.5)


@pytest.fixture
async def spawn_service(model_root: Path, data_dir: Path) -> AsyncIterator[SpawnService]:
    """Run `python -m services.<name>` as a user would, on free ports; returns the process and its port."""
    processes: list[asyncio.subprocess.Process] = []

    async def spawn(name: str, *, prefix: Sequence[str] = (), **env: str) -> tuple[asyncio.subprocess.Process, int]:
        process = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, "-m", f"services.{name}", cwd=PROJECT_ROOT,
            env={**_service_env(model_root, data_dir), **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line.startswith(b"LISTENING "), line + await process.stderr.read()
        return process, int(line.split()[1])

    yield spawn
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _service_env(model_root: Path, data_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "protos")]),
        "MODELVAULT_MODEL_ROOTS": str(model_root),
        "MODELVAULT_DATA_DIR": str(data_dir),
        "MODELVAULT_HASHER_LISTEN": "127.0.0.1:0",
        "MODELVAULT_IMAGES_LISTEN": "127.0.0.1:0",
        "MODELVAULT_HASHER_WORKERS": "1",
        "MODELVAULT_IMAGES_WORKERS": "1",
        "MODELVAULT_ROTATIONAL_DEVICES": "none",
    }


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    """The stack's gateway on a real port, for the command line to reach (and an HTTP session with its token)."""
    async for running in serve_gateway(stack.app()):
        yield running
