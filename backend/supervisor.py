"""One child of `make run`: started in its own process group, dying with us, restarted with backoff when it dies."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections import deque

log = logging.getLogger("modelvault")

# Longer than each child's own grace (5 s for gRPC, 5 s for aiohttp, then the database's fast stop).
STOP_TIMEOUT_S = 20.0
# A child that dies this often within the window is broken, not unlucky: the stack stops.
MAX_DEATHS = 5
DEATH_WINDOW_S = 60.0
_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 8.0
# The children read it at start (backend/util/startup.py) and die with us, even if we are SIGKILLed.
SUPERVISOR_PID = "MODELVAULT_SUPERVISOR_PID"


class GaveUp(Exception):
    """A child kept dying; the message says which and how often."""


class Child:
    """One service process; its output goes to our terminal, except the LISTENING line meant for us."""

    def __init__(self, name: str, module: str, env: dict[str, str]) -> None:
        self.name = name
        self.module = module
        self.env = env
        self.address: str | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._listening = asyncio.Event()
        self._deaths: deque[float] = deque()
        self._relay_task: asyncio.Task[None] | None = None

    async def spawn(self) -> None:
        self._listening.clear()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, env={**self.env, SUPERVISOR_PID: str(os.getpid())},
            stdout=asyncio.subprocess.PIPE,
            # Its own process group: a Ctrl-C reaches only us, and we stop the children in order.
            process_group=0,
        )
        self._relay_task = asyncio.create_task(self._relay(self.process))

    async def _relay(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace")
            if line.startswith("LISTENING ") and not self._listening.is_set():
                self.address = line.split(maxsplit=1)[1].strip()
                self._listening.set()
            else:
                sys.stdout.write(line)
                sys.stdout.flush()

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def exited(self) -> int:
        """Its exit status, once it has exited; then whatever it left in its group (pool workers) is killed.

        Polled, not `process.wait()`: on Python 3.11 that waits for its stdout to close too, which orphaned
        workers holding the pipe would delay forever."""
        assert self.process is not None
        while self.process.returncode is None:
            await asyncio.sleep(0.1)
        self.kill()
        return self.process.returncode

    async def wait_listening(self, timeout_s: float) -> str:
        """The address it printed (a port, or a unix: target); an error if it exits or takes too long."""
        assert self.process is not None
        waiting = asyncio.ensure_future(self._listening.wait())
        exited = asyncio.ensure_future(self.exited())
        await asyncio.wait((waiting, exited), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        exited.cancel()
        if self._listening.is_set() and self.address is not None:
            return self.address
        if self.process.returncode is not None:
            raise RuntimeError(f"{self.name} exited with status {self.process.returncode} while starting")
        raise RuntimeError(f"{self.name} did not start within {timeout_s:.0f} s")

    async def keep_alive(self) -> None:
        """Restart it whenever it dies, with growing pauses; raise GaveUp when it dies too often."""
        while True:
            assert self.process is not None
            status = await self.exited()
            now = time.monotonic()
            self._deaths.append(now)
            while self._deaths and now - self._deaths[0] > DEATH_WINDOW_S:
                self._deaths.popleft()
            if len(self._deaths) >= MAX_DEATHS:
                raise GaveUp(f"{self.name} died {len(self._deaths)} times within {DEATH_WINDOW_S:.0f} s "
                             f"(last exit status {status}); stopping the stack")
            pause = min(_FIRST_BACKOFF_S * 2 ** (len(self._deaths) - 1), _MAX_BACKOFF_S)
            log.error("%s exited with status %s; restarting it in %.1f s", self.name, status, pause)
            await asyncio.sleep(pause)
            await self.spawn()
            log.info("%s restarted (pid %d)", self.name, self.process.pid)

    async def stop(self, now: asyncio.Event) -> None:
        """SIGTERM, then SIGKILL to its whole group if it outstays STOP_TIMEOUT_S or `now` is set."""
        if self.process is None:
            return
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        exited = asyncio.ensure_future(self.exited())
        hurry = asyncio.ensure_future(now.wait())
        await asyncio.wait((exited, hurry), timeout=STOP_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        if not exited.done():
            if not now.is_set():
                log.error("%s did not stop within %.0f s; killing it", self.name, STOP_TIMEOUT_S)
            self.kill()
        await exited
        # Its output drained and its pipe closed, so that nothing of it is left for the loop's end.
        if self._relay_task is not None:
            await asyncio.wait((self._relay_task,), timeout=5)
        await asyncio.wait((asyncio.ensure_future(self.process.wait()),), timeout=5)

    def kill(self) -> None:
        """Its whole process group (pool workers too), at once."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
