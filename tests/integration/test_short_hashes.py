"""AutoV1, AutoV2 and AutoV3 end to end: the real hasher computes them in its one read, the gateway stores them
per SHA-256 (hash job and single file) in real PostgreSQL, and a model is found by any of them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import asyncpg
import grpc
import pytest
from aiohttp.test_utils import TestClient

from backend.database import short_hash_queries
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.hasher.server import build_service
from tests.conftest import make_config
from tests.integration.conftest import Stack
from tests.integration.gateway_support import do_import
from tests.integration.jobs_helpers import finished, register
from tests.legacy_formats import civitai_version, write_json
from tests.short_hash_files import autov1_as_a1111, autov3_as_civitai, lora


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def hasher(model_root: Path, data_dir: Path, request) -> AsyncIterator[hasher_pb2_grpc.HasherServiceStub]:
    env = getattr(request, "param", {})
    service = build_service(make_config([model_root], data_dir, **env))
    port = await service.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield hasher_pb2_grpc.HasherServiceStub(channel)
    await service.stop(grace=0)


async def test_every_hash_call_answers_the_short_hashes(hasher, model_root: Path) -> None:
    model = lora(model_root / "loras/alice.safetensors", 1, rank=600)
    ckpt = model_root / "old.ckpt"
    ckpt.write_bytes(os.urandom(3 << 20))

    one = (await hasher.Hash(hasher_pb2.HashRequest(path=str(model)))).digest
    streamed = [m async for m in hasher.HashStream(hasher_pb2.HashStreamRequest(path=str(model)))][-1].digest
    many = await hasher.HashMany(hasher_pb2.HashManyRequest(files=[hasher_pb2.HashRequest(path=str(model)),
                                                                  hasher_pb2.HashRequest(path=str(ckpt))]))

    for digest in (one, streamed, many.results[0].digest):
        assert (digest.sha256, digest.autov1, digest.autov3) == (
            sha(model), autov1_as_a1111(model), autov3_as_civitai(model))
    assert autov3_as_civitai(model) != "e3b0c442e3b0"  # the header's claim is not what we answer
    pickle = many.results[1].digest
    assert (pickle.autov1, pickle.autov3) == (autov1_as_a1111(ckpt), "")


@pytest.mark.parametrize("hasher", [{"MODELVAULT_AUTOV3": "none"}], indirect=True)
async def test_autov3_none_leaves_it_out(hasher, model_root: Path) -> None:
    model = lora(model_root / "alice.safetensors", 1)

    digest = (await hasher.Hash(hasher_pb2.HashRequest(path=str(model)))).digest

    assert (digest.sha256, digest.autov3) == (sha(model), "")


async def _hash_job(gateway: TestClient, paths: list[Path]) -> None:
    await register(gateway, paths)
    reply = await gateway.post("/api/jobs", json={"kind": "hash"})
    assert (await finished(gateway, (await reply.json())["id"]))["state"] == "done"


async def _by_hash(gateway: TestClient, text: str) -> tuple[int, dict]:
    reply = await gateway.get("/api/models/by-hash/" + quote(text, safe=""))
    return reply.status, await reply.json()


def _found(body: dict) -> list[list[str]]:
    return [[match["sha256"] for match in result["matches"]] for result in body["results"]]


async def test_a_hash_job_stores_them_and_a_model_is_found_by_any_of_them(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    alice = lora(stack.model_root / "loras/alice.safetensors", 1, rank=600)
    bob = lora(stack.model_root / "loras/bob.safetensors", 2)
    await _hash_job(gateway, [alice, bob])
    autov1, autov3, full = autov1_as_a1111(alice), autov3_as_civitai(alice), sha(alice)

    shown = await (await gateway.get(f"/api/models/{full}")).json()

    assert shown["hashes"] == {"sha256": full, "autov1": autov1, "autov2": full[:10], "autov3": autov3,
                               "short_hashes_computed": True}
    small = (await (await gateway.get(f"/api/models/{sha(bob)}")).json())["hashes"]
    assert (small["autov1"], small["autov3"]) == (None, autov3_as_civitai(bob))  # under 1 MiB: no AutoV1
    for text in (full, full.upper(), autov1, autov1.upper(), full[:10], autov3, f"Model hash: {full[:10].upper()}",
                 f"alice: {autov3}", f'Lora hashes: "alice: {autov3}"'):
        status, body = await _by_hash(gateway, text)
        assert status == 200, (text, body)
        assert _found(body) == [[full]], text
        assert body["results"][0]["matches"][0]["files"][0]["path"] == str(alice)
        assert body["ambiguous"] is False
    status, body = await _by_hash(gateway, f'Lora hashes: "alice: {autov3}, styles/bob: {sha(bob)[:12]}"')
    assert status == 200
    assert [(r["name"], r["hash"]) for r in body["results"]] == [("alice", autov3), ("styles/bob", sha(bob)[:12])]
    assert _found(body) == [[full], [sha(bob)]]
    assert body["results"][1]["matches"][0]["matched_by"] == ["sha256_prefix"]
    assert await db.fetchval("SELECT count(*) FROM model_short_hashes") == 2


async def test_short_hashes_that_collide_answer_every_match(stack: Stack, gateway: TestClient) -> None:
    # Same 64 KiB at 1 MiB, different elsewhere: one AutoV1, two contents (AutoV1 is known to collide).
    middle = os.urandom(64 << 10)
    first, second = stack.model_root / "a.ckpt", stack.model_root / "b.ckpt"
    for path in (first, second):
        path.write_bytes(os.urandom(1 << 20) + middle + os.urandom(4096))
    await _hash_job(gateway, [first, second])

    status, body = await _by_hash(gateway, autov1_as_a1111(first))

    assert status == 200 and body["ambiguous"] is True
    assert _found(body) == [sorted([sha(first), sha(second)])]
    assert all(match["matched_by"] == ["autov1"] for match in body["results"][0]["matches"])


async def test_one_file_posted_stores_them_and_older_hashes_say_they_are_not_known(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model = lora(stack.model_root / "alice.safetensors", 1)
    reply = await gateway.post("/api/models/sha256", json={"path": str(model)})
    assert reply.status == 200, await reply.text()
    full = sha(model)
    assert (await (await gateway.get(f"/api/models/{full}")).json())["hashes"]["autov3"] == \
        autov3_as_civitai(model)
    # As a file hashed before short hashes existed: its hash is recalled, not read, and nothing is invented.
    await db.execute("DELETE FROM model_short_hashes")
    await gateway.post("/api/models/sha256", json={"path": str(model)})

    hashes = (await (await gateway.get(f"/api/models/{full}")).json())["hashes"]
    assert hashes == {"sha256": full, "autov1": None, "autov2": full[:10], "autov3": None,
                      "short_hashes_computed": False}
    assert (await _by_hash(gateway, autov3_as_civitai(model)))[0] == 404
    # Read again on request: now known.
    await gateway.post("/api/models/sha256", json={"path": str(model), "force": True})
    assert (await _by_hash(gateway, autov3_as_civitai(model)))[0] == 200


@pytest.mark.parametrize("text", ["abc", "abcdef12345", "zzzzzzzz", "Model hash: ", 'Lora hashes: "alice"',
                                  "x" * 5000, ": abcdef12"])
async def test_a_malformed_hash_is_refused_in_words(gateway: TestClient, text: str) -> None:
    status, body = await _by_hash(gateway, text)

    assert status == 400
    assert body["error"]["code"] == "invalid_hash" and body["error"]["message"]


async def test_a_hash_nobody_has_is_not_found(gateway: TestClient) -> None:
    status, body = await _by_hash(gateway, "0123abcd")

    assert status == 404 and "0123abcd" in body["error"]["message"]


async def test_the_look_ups_use_indexes_at_a_hundred_thousand_rows(stack: Stack, gateway: TestClient,
                                                                     db: asyncpg.Connection) -> None:
    await gateway.get("/api/health")  # the gateway's start has applied the migrations
    await db.execute(
        """INSERT INTO models (path, sha256, size, mtime_ns, inode, device)
           SELECT '/m/' || i, encode(sha256(i::text::bytea), 'hex'), i, i, i, 1 FROM generate_series(1, 100000) i;
           INSERT INTO model_short_hashes (sha256, autov1, autov3)
           SELECT sha256, left(md5(sha256), 8), left(md5(path), 12) FROM models;
           ANALYZE models; ANALYZE model_short_hashes""")
    plans = []
    for query, arg in [(short_hash_queries.BY_PREFIX, "abcdef1234"),
                       (short_hash_queries.BY_SHORT_HASH["autov1"], "abcdef12"),
                       (short_hash_queries.BY_SHORT_HASH["autov3"], "abcdef123456")]:
        plans.append("\n".join(r[0] for r in await db.fetch(f"EXPLAIN {query}", arg, 100)))

    assert all("Seq Scan" not in plan and "Index" in plan for plan in plans), plans


async def test_an_imported_hash_has_none_until_import_verify_reads_the_file(stack: Stack, gateway: TestClient) -> None:
    model = lora(stack.model_root / "alice.safetensors", 1)
    full = sha(model)
    write_json(model.with_suffix(".civitai.info"), civitai_version(full, model.stat().st_size, model.name))
    assert (await do_import(gateway))["trusted"] == 1

    taken = (await (await gateway.get(f"/api/models/{full}")).json())["hashes"]
    assert (taken["short_hashes_computed"], taken["autov3"]) == (False, None)
    assert (await do_import(gateway, verify=True))["verify"]["verified"] == 1
    read = (await (await gateway.get(f"/api/models/{full}")).json())["hashes"]
    assert (read["short_hashes_computed"], read["autov3"]) == (True, autov3_as_civitai(model))
