"""Running the command line against a real gateway on a real port: the helpers the CLI tests share."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from backend.server.instance import HANDLER_CANCELLATION
from backend.util.config import PROJECT_ROOT

TOKEN = "a-long-enough-test-token"


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Api:
    url: str
    session: aiohttp.ClientSession

    async def get(self, path: str) -> dict:
        async with self.session.get(self.url + path) as reply:
            assert reply.status == 200, await reply.text()
            return await reply.json()


async def listen_gateway(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """The gateway on a real port (a free one by default); runner.cleanup() stops it as a SIGTERM would, though
    sooner: open event streams get 1 s to end (5 s in backend/server/__main__.py)."""
    runner = web.AppRunner(app, shutdown_timeout=1, handler_cancellation=HANDLER_CANCELLATION)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def serve_gateway(app: web.Application) -> AsyncIterator[Api]:
    runner, port = await listen_gateway(app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            yield Api(f"http://127.0.0.1:{port}", session)
    finally:
        await runner.cleanup()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELVAULT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "protos")])
    return {**env, **extra}


async def start_cli(url: str, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", *args, cwd=PROJECT_ROOT, env=cli_env(MODELVAULT_URL=url, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def finish(process: asyncio.subprocess.Process) -> Result:
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return Result(process.returncode, out.decode(), err.decode())


async def cli(url: str, *args: str, **env: str) -> Result:
    return await finish(await start_cli(url, *args, **env))
