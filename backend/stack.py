"""`make run`: start the hasher, the images service and the gateway (which starts the database), keep them
alive, and stop them all: on the first Ctrl-C in order, on the second at once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp

from backend.database.embedded import EmbeddedPostgres
from backend.supervisor import Child, GaveUp
from backend.util.config import Config, is_loopback
from backend.util.private_folder import UnsafeFolderError, private_dir, short_private_path
from backend.util.startup import start_process

log = logging.getLogger("modelvault")

# A busy 2-core machine may take a minute to start PostgreSQL and both worker pools.
_START_TIMEOUT_S = 120.0
# Unix socket paths are capped at 107 bytes; "/hasher.sock" takes 12 of them.
_MAX_SOCKET_DIR = 90


def service_sockets(config: Config) -> Path:
    """A folder only this user may enter, for the services' unix sockets: no other local user can call them."""
    folder = config.data_dir / "run"
    if len(str(folder)) > _MAX_SOCKET_DIR:
        folder = short_private_path("modelvault-run", folder)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return private_dir(folder)


def _target(address: str) -> str:
    """What a service printed (a port, or its unix: address) as a gRPC target for the gateway."""
    return f"127.0.0.1:{address}" if address.isdigit() else address


def _pin(child: Child, variable: str) -> None:
    """A restarted service must come back where the gateway looks for it: ":0" becomes the port it got."""
    assert child.address is not None
    if child.address.isdigit():
        host = child.env[variable].rsplit(":", 1)[0]
        child.env[variable] = f"{host}:{child.address}"


class Stack:
    """The three children, started in order and stopped in reverse (the gateway closes the database)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.stop_now = asyncio.Event()

    def on_signal(self) -> None:
        if self.stopping.is_set():
            log.warning("second signal: stopping now")
            self.stop_now.set()
            for child in self.children:
                child.kill()
        else:
            log.info("stopping (a second Ctrl-C stops at once)")
            self.stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.on_signal)
        status = 0
        try:
            status = await self._until_stopped()
        finally:
            for child in reversed(self.children):
                await child.stop(self.stop_now)
            if self.stop_now.is_set() and self.config.gateway.database_url is None:
                # The gateway was killed before it could stop its database: we do it.
                await asyncio.to_thread(EmbeddedPostgres(self.config.postgres_dir).stop)
        log.info("stopped")
        return status

    async def _until_stopped(self) -> int:
        starting = asyncio.ensure_future(self._start())
        stopping = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait((starting, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return 0
        try:
            starting.result()
        except (RuntimeError, UnsafeFolderError) as exc:
            log.error("%s", exc)
            return 1
        watchers = [asyncio.ensure_future(child.keep_alive()) for child in self.children]
        try:
            await asyncio.wait((stopping, *watchers), return_when=asyncio.FIRST_COMPLETED)
            for watcher in watchers:
                if watcher.done() and isinstance(watcher.exception(), GaveUp):
                    log.error("%s", watcher.exception())
                    return 1
            return 0
        finally:
            for waiting in (stopping, *watchers):
                waiting.cancel()
            await asyncio.gather(stopping, *watchers, return_exceptions=True)

    async def _start(self) -> None:
        env = dict(os.environ)
        # We never fork a process that uses gRPC (pools use spawn); without this, every subprocess the
        # gateway runs (pg_ctl) makes gRPC print a fork warning.
        env.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        sockets = service_sockets(self.config)
        env.setdefault("MODELVAULT_HASHER_LISTEN", f"unix:{sockets / 'hasher.sock'}")
        env.setdefault("MODELVAULT_IMAGES_LISTEN", f"unix:{sockets / 'images.sock'}")
        hasher = Child("hasher", "services.hasher", dict(env))
        images = Child("images", "services.images", dict(env))
        self.children += [hasher, images]
        await hasher.spawn()
        await images.spawn()
        env["MODELVAULT_HASHER_TARGET"] = _target(await hasher.wait_listening(_START_TIMEOUT_S))
        env["MODELVAULT_IMAGES_TARGET"] = _target(await images.wait_listening(_START_TIMEOUT_S))
        _pin(hasher, "MODELVAULT_HASHER_LISTEN")
        _pin(images, "MODELVAULT_IMAGES_LISTEN")
        gateway = Child("gateway", "backend.server", env)
        self.children.append(gateway)
        await gateway.spawn()
        url = await self._wait_healthy()
        database = self.config.postgres_dir if self.config.gateway.database_url is None else "DATABASE_URL"
        log.info("ModelVault is up at %s (database: %s); Ctrl-C stops it", url, database)

    async def _wait_healthy(self) -> str:
        gateway_config = self.config.gateway
        # Asked on loopback even when it listens on every address: that is a name it always answers to.
        host = gateway_config.host if is_loopback(gateway_config.host) else "127.0.0.1"
        url = f"http://{'[::1]' if host == '::1' else host}:{gateway_config.port}"
        token = gateway_config.api_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT_S
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as session:
            while asyncio.get_running_loop().time() < deadline:
                for child in self.children:
                    if not child.alive():
                        raise RuntimeError(f"{child.name} exited with status {child.process.returncode} while starting")
                try:
                    async with session.get(f"{url}/api/health") as reply:
                        if reply.status == 200:
                            return url
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the gateway did not become healthy within {_START_TIMEOUT_S:.0f} s")


def main() -> int:
    return asyncio.run(Stack(start_process("modelvault")).run())


if __name__ == "__main__":
    sys.exit(main())
