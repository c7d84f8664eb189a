"""`python -m backend` (what `make run` starts) as a child process, for tests and benchmarks that use it whole."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.eventually import eventually_blocking

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_env(model_root: Path, data_dir: Path, http_port: int, **extra: str) -> dict[str, str]:
    """The caller's environment, on the embedded database, with services on `make run`'s private sockets."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.endswith(("_LISTEN", "_TARGET"))}
    env.update({
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'protos'}",
        "MODELVAULT_MODEL_ROOTS": str(model_root),
        "MODELVAULT_DATA_DIR": str(data_dir),
        "MODELVAULT_HTTP_PORT": str(http_port),
        "MODELVAULT_AUTO_SCAN": "0",
        "MODELVAULT_SETTLE_S": "0",  # files written a moment before they are scanned are hashed at once
        # Page-cached files, whatever this machine's disk claims to be (a VM's virtual disk often "spins").
        "MODELVAULT_ROTATIONAL_DEVICES": "none",
    })
    env.update(extra)
    return env


def request_json(url: str, body: dict | None = None, timeout: float = 10) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start_stack(env: dict[str, str], timeout_s: float = 60, log: Path | None = None) -> subprocess.Popen:
    """Start the stack and return once its /api/health says every part is up; its log goes to `log` if given."""
    base = f"http://127.0.0.1:{env['MODELVAULT_HTTP_PORT']}"
    stderr = log.open("w") if log is not None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "backend"], env=env, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=stderr
    )
    if stderr is not None:
        stderr.close()

    def healthy_or_exited() -> str | None:
        if process.poll() is not None:
            return "exited"
        return "healthy" if request_json(f"{base}/api/health")[0] == 200 else None

    try:
        outcome = eventually_blocking(healthy_or_exited, timeout_s, interval=0.3, what="the stack's /api/health")
    except AssertionError:
        process.kill()
        raise RuntimeError(f"the stack did not become healthy within {timeout_s:.0f} s") from None
    if outcome == "exited":
        raise RuntimeError(f"the stack exited with status {process.returncode} while starting")
    return process


def stop_stack(process: subprocess.Popen, timeout_s: float = 30) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout_s)


class Gateway:
    """A running stack's gateway, asked over HTTP as a user would."""

    def __init__(self, base: str, process: subprocess.Popen) -> None:
        self.base = base
        self.process = process

    def stop(self) -> None:
        stop_stack(self.process)

    def post(self, route: str, body: dict) -> tuple[int, dict]:
        return request_json(self.base + route, body, timeout=60)

    def get(self, route: str) -> dict:
        status, body = request_json(self.base + route)
        assert status == 200, body
        return body

    def image_status(self, url: str) -> int:
        try:
            with urllib.request.urlopen(self.base + url, timeout=10) as reply:
                return reply.status
        except urllib.error.HTTPError as exc:
            return exc.code
