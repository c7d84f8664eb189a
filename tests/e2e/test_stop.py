"""`docker compose stop`: SIGTERM (SIGINT for PostgreSQL) ends every container cleanly, well within its grace."""

from __future__ import annotations

import subprocess
import time

from tests.e2e.conftest import Api, Stack

# The shortest stop_grace_period in docker-compose.yml: a container that ignored the signal would be
# killed only then, with status 137.
GRACE_S = 20.0


async def test_every_container_stops_cleanly_on_its_signal(stack: Stack, api: Api) -> None:
    containers = {
        service: stack.container_ids(service) for service in ("gateway", "hasher", "images", "postgres")
    }
    assert all(containers.values()), containers

    started = time.monotonic()
    stack.run("stop")
    try:
        elapsed = time.monotonic() - started
        states = {
            f"{service} {container[:12]}": _state(container)
            for service, ids in containers.items()
            for container in ids
        }
    finally:
        # The stack is shared by the whole package: whatever runs after this test finds it up again.
        stack.run("up", "--detach", "--wait", "--no-recreate")
        await api.wait_healthy()
    assert set(states.values()) == {"exited 0"}, states
    assert elapsed < GRACE_S, f"stopping took {elapsed:.1f} s"


def _state(container: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return done.stdout.strip()
