"""Real parts for integration tests: one embedded PostgreSQL per session, a fresh database per test,
the two gRPC services on free ports, and the gateway built from a config pointing at all of them."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from backend.database.embedded import EmbeddedPostgres
from backend.server.instance import create_app
from backend.util.config import Config
from services.grpc_runtime import GrpcService
from services.hasher.server import build_service as build_hasher
from services.images.server import build_service as build_images
from tests.conftest import make_config


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
    hasher: GrpcService
    images: GrpcService
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
async def gateway(stack: Stack, aiohttp_client) -> TestClient:
    return await aiohttp_client(create_app(stack.config()))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for asserting rows, as an operator with psql would see them."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()
