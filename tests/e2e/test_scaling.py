"""`docker compose up --scale hasher=3`: a client of the hasher spreads its calls over the replicas."""

from __future__ import annotations

import hashlib
import json

from tests.e2e.conftest import Api, Stack
from tests.eventually import eventually

# Runs inside the gateway's container, with the gateway's own channel settings (round_robin over DNS):
# hashes each path once and prints which replica answered, from the digest's replica_id.
_ASK_REPLICAS = """
import asyncio, json, sys
from backend.server.adapters.clients import open_channel
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc

async def main(paths):
    async with open_channel("dns:///hasher:50051") as channel:
        stub = hasher_pb2_grpc.HasherServiceStub(channel)
        replies = [await stub.Hash(hasher_pb2.HashRequest(path=p), timeout=60) for p in paths]
    print(json.dumps([[r.digest.sha256, r.digest.replica_id] for r in replies]))

asyncio.run(main(sys.argv[1:]))
"""


async def test_three_hasher_replicas_share_the_work(stack: Stack, api: Api) -> None:
    stack.run("up", "--detach", "--wait", "--no-recreate", "--scale", "hasher=3")
    try:
        assert len(stack.container_ids("hasher")) == 3
        models = [stack.model(size=300_000) for _ in range(9)]
        expected = [hashlib.sha256(m.read_bytes()).hexdigest() for m in models]

        def replicas_seen() -> set[str] | None:
            done = stack.run("exec", "-T", "gateway", "python", "-c", _ASK_REPLICAS,
                             *(stack.in_container(m) for m in models))
            answers = json.loads(done.stdout.strip().splitlines()[-1])
            assert [sha for sha, _ in answers] == expected
            seen = {replica for _, replica in answers}
            # A fresh channel may resolve DNS before every replica has registered its name: ask again.
            return seen if len(seen) == 3 else None

        seen = await eventually(replicas_seen, timeout=60, interval=2, what="calls spread over 3 replicas")
        assert len(seen) == 3, seen
    finally:
        stack.run("up", "--detach", "--wait", "--no-recreate", "--scale", "hasher=1")
        await api.wait_healthy()
