"""`docker compose up --scale hasher=3`: the gateway spreads hashing over the replicas (round_robin over DNS)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

from tests.e2e.conftest import Api, Stack

# One INFO line per computed digest in the hasher's log (services/hasher).
HASHED_MARK = "hashed "


async def test_three_hasher_replicas_share_the_work(stack: Stack, api: Api) -> None:
    stack.run("up", "--detach", "--wait", "--no-recreate", "--scale", "hasher=3")
    try:
        replicas = stack.container_ids("hasher")
        assert len(replicas) == 3, replicas
        # No gateway restart: the hasher closes connections older than MODELVAULT_GRPC_MAX_CONNECTION_AGE_S
        # (3 s here), and the gateway's reconnect resolves DNS again and finds the new replicas.
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        models = []
        for _ in range(12):
            model = stack.model(size=300_000)
            models.append(model)
            status, answer = await api.hash(stack.in_container(model), "ignore")
            assert status == 200, answer
            assert answer["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
            assert answer["cached"] is False
            await asyncio.sleep(0.5)

        counts = {}
        for container in replicas:
            logs = await asyncio.to_thread(stack.docker_logs, container, since)
            counts[container[:12]] = sum(HASHED_MARK in line for line in logs.splitlines())
        assert sum(counts.values()) >= len(models), (
            f"expected one {HASHED_MARK!r} line per digest in the hasher logs, got {counts}"
        )
        assert sum(1 for n in counts.values() if n > 0) >= 2, f"work not spread over replicas: {counts}"
    finally:
        stack.run("up", "--detach", "--wait", "--no-recreate", "--scale", "hasher=1")
        await api.wait_healthy()
