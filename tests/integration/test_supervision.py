"""`make run` keeps itself alive and stops whatever happens: dead children come back, a child that keeps dying
stops the stack, two Ctrl-C in a row stop it at once, and killing the supervisor leaves nothing running."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from backend.database.embedded import EmbeddedPostgres
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack


class RunningStack:
    def __init__(self, process: subprocess.Popen, base: str, data_dir: Path, log: Path) -> None:
        self.process = process
        self.base = base
        self.data_dir = data_dir
        self.log = log

    def child(self, module: str) -> psutil.Process:
        """The supervisor's child running `python -m module` now."""
        for child in psutil.Process(self.process.pid).children():
            if module in child.cmdline():
                return child
        raise LookupError(module)

    def family(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)


def _poll(condition: Callable[[], object], timeout_s: float, what: str, log: Path | None = None) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = condition()
        except (OSError, LookupError, psutil.Error):
            result = None
        if result:
            return result
        time.sleep(0.2)
    said = "" if log is None else "\n" + "\n".join(
        line for line in log.read_text().splitlines() if "aiohttp.access" not in line)[-4000:]
    raise AssertionError(f"not within {timeout_s} s: {what}{said}")


def _gone(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return alive


@pytest.fixture
def running(data_dir: Path, model_root: Path, tmp_path: Path) -> Iterator[RunningStack]:
    port = free_port()
    env = stack_env(model_root, data_dir, port, MODELVAULT_HASHER_WORKERS="1", MODELVAULT_IMAGES_WORKERS="1")
    log = tmp_path / "stack.log"
    process = start_stack(env, log=log)
    stack = RunningStack(process, f"http://127.0.0.1:{port}", data_dir, log)
    # The gateway answers before the supervisor has seen it do so: a child killed in between is a failed start.
    _poll(lambda: "ModelVault is up" in log.read_text(), 60, "the supervisor's 'up'", log)
    yield stack
    if process.poll() is None:
        family = stack.family()
        stop_stack(process)
        _gone(family, 30)
    EmbeddedPostgres(data_dir / "postgres").stop()


def test_the_services_listen_only_on_private_sockets(running: RunningStack) -> None:
    sockets = running.data_dir / "run"
    assert stat.S_IMODE(sockets.stat().st_mode) == 0o700
    assert sorted(p.name for p in sockets.iterdir()) == ["hasher.sock", "images.sock"]
    for module in ("services.hasher", "services.images"):
        listening = [c for c in running.child(module).net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert listening == [], (module, listening)


def test_a_dead_service_and_a_dead_database_come_back(running: RunningStack, model_root: Path) -> None:
    model = model_root / "m.safetensors"
    model.write_bytes(b"a model")
    hasher = running.child("services.hasher")
    hasher.kill()
    _poll(lambda: running.child("services.hasher").pid != hasher.pid, 60, "a new hasher", running.log)
    _poll(lambda: request_json(f"{running.base}/api/models/sha256", {"path": str(model)})[0] == 200, 60,
          "hashing works again", running.log)

    server = EmbeddedPostgres(running.data_dir / "postgres")
    postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    _poll(lambda: not psutil.pid_exists(postmaster), 30, "the postmaster is gone")
    _poll(lambda: request_json(f"{running.base}/api/health")[0] == 200, 90, "the database is back", running.log)
    status, body = request_json(f"{running.base}/api/models")
    assert status == 200 and [item["path"] for item in body["items"]] == [str(model)]
    assert "restarting it" in running.log.read_text() and "is gone; starting it again" in running.log.read_text()


def test_a_service_that_keeps_dying_stops_the_stack(running: RunningStack) -> None:
    family = running.family()
    killed: set[int] = set()
    while running.process.poll() is None:
        try:
            images = running.child("services.images")
        except (LookupError, psutil.Error):
            time.sleep(0.1)
            continue
        if images.pid not in killed:
            killed.add(images.pid)
            images.kill()
        time.sleep(0.1)
    log = running.log.read_text()
    assert running.process.wait(60) == 1, log
    assert "images died 5 times within 60 s" in log, log
    assert len(killed) == 5
    assert _gone(family, 30) == []


def test_two_signals_in_a_row_stop_it_at_once(running: RunningStack) -> None:
    family = running.family()
    running.process.send_signal(signal.SIGINT)
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(30) == 0
    assert _gone(family, 10) == []
    _poll(lambda: not EmbeddedPostgres(running.data_dir / "postgres").is_running(), 30, "the database stopped",
          running.log)


def test_killing_the_supervisor_leaves_nothing_running(running: RunningStack) -> None:
    family = running.family()
    running.process.kill()
    running.process.wait()
    assert _gone(family, 30) == []
    _poll(lambda: not EmbeddedPostgres(running.data_dir / "postgres").is_running(), 30, "the database stopped",
          running.log)
