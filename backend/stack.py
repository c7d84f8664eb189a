"""`make run`: start the hasher, the images service and the gateway (which starts the database); stop them all."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping

from backend.util.startup import start_process

log = logging.getLogger("modelvault")

_START_TIMEOUT_S = 60.0
# Longer than each child's own grace (5 s for gRPC, 5 s for aiohttp, then the database's fast stop).
_STOP_TIMEOUT_S = 20.0


class Child:
    """One service process; its output goes to our terminal, prefixed by nothing but its own log format."""

    def __init__(self, name: str, module: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", module], env=dict(env), stdout=subprocess.PIPE, text=True, bufsize=1,
            # Its own process group: a Ctrl-C reaches only us, and we stop the children in order.
            process_group=0,
        )
        self._listening = threading.Event()
        self.port = 0
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("LISTENING ") and not self._listening.is_set():
                self.port = int(line.split()[1])
                self._listening.set()
            else:
                sys.stdout.write(line)

    def wait_listening(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while not self._listening.wait(0.1):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode} while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within {timeout_s:.0f} s")
        return self.port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> int:
        try:
            return self.process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0f s; killing it", self.name, _STOP_TIMEOUT_S)
            self.process.kill()
            return self.process.wait()


def _wait_healthy(url: str, gateway: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"gateway exited with status {gateway.process.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not become healthy within {timeout_s:.0f} s")


def main() -> int:
    config = start_process("modelvault")
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    env = dict(os.environ)
    # We never fork a process that uses gRPC (pools use spawn); without this, every subprocess the
    # gateway runs (pg_ctl) makes gRPC print a fork warning.
    env.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    children: list[Child] = []
    status = 0
    try:
        hasher = Child("hasher", "services.hasher", env)
        children.append(hasher)
        images = Child("images", "services.images", env)
        children.append(images)
        env["MODELVAULT_HASHER_TARGET"] = f"127.0.0.1:{hasher.wait_listening(_START_TIMEOUT_S)}"
        env["MODELVAULT_IMAGES_TARGET"] = f"127.0.0.1:{images.wait_listening(_START_TIMEOUT_S)}"
        gateway = Child("gateway", "backend.server", env)
        children.append(gateway)
        url = f"http://{config.gateway.host}:{config.gateway.port}"
        _wait_healthy(f"{url}/api/health", gateway, _START_TIMEOUT_S)
        database = "DATABASE_URL" if config.gateway.database_url else f"embedded PostgreSQL in {config.postgres_dir}"
        log.info("ModelVault is up at %s (database: %s); Ctrl-C stops it", url, database)
        while not stopping.wait(0.5):
            exited = next((c for c in children if c.process.poll() is not None), None)
            if exited is not None:
                log.error("%s exited with status %s; stopping the others", exited.name, exited.process.returncode)
                status = 1
                break
    except RuntimeError as exc:
        log.error("%s", exc)
        status = 1
    finally:
        # The gateway first: it closes its connections and then stops the embedded database.
        for child in reversed(children):
            child.stop()
            child.wait_stopped()
    log.info("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
