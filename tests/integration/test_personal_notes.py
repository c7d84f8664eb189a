"""A person's own notes, tags and favourite flag over REST: kept per content with the source "you", first."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, write_model
from tests.legacy_formats import sha, write_json


async def _catalogued(stack: Stack, gateway: TestClient, relative: str, content: bytes) -> str:
    path = write_model(stack.model_root, relative, content)
    assert (await gateway.post("/api/models/sha256", json={"path": str(path)})).status == 200
    return sha(content)


async def _yours(db: asyncpg.Connection, sha256: str) -> dict[str, str]:
    rows = await db.fetch("SELECT field, value::text FROM model_metadata WHERE sha256 = $1 AND source = 'you'", sha256)
    return {row["field"]: row["value"] for row in rows}


async def test_notes_tags_and_favourite_are_kept_per_content_and_shown_with_their_source(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    digest = await _catalogued(stack, gateway, "loras/ink.safetensors", b"ink lora")
    await _catalogued(stack, gateway, "copies/ink.safetensors", b"ink lora")  # a second copy shares the notes

    reply = await gateway.put(f"/api/models/{digest.upper()}/notes",
                              json={"notes": "  best at 0.8 \n", "tags": ["Anime", "ink", "anime ", "Ink"],
                                    "favourite": True})
    assert reply.status == 200, await reply.text()
    assert await reply.json() == {"sha256": digest,
                                  "yours": {"notes": "best at 0.8", "tags": ["Anime", "ink"], "favourite": True}}
    metadata = (await (await gateway.get(f"/api/models/{digest}")).json())["metadata"]
    assert metadata["notes"] == {"value": "best at 0.8", "source": "you"}
    assert metadata["tags"] == {"value": ["Anime", "ink"], "source": "you"}
    assert metadata["favourite"] == {"value": True, "source": "you"}

    # What the person said is searched like what the tools said.
    found = await (await gateway.get("/api/models", params={"q": "anime best"})).json()
    assert [item["sha256"] for item in found["items"]] == [digest, digest]

    # A field left out keeps its value; an empty text, an empty list and false clear theirs.
    reply = await gateway.put(f"/api/models/{digest}/notes", json={"tags": []})
    assert (await reply.json())["yours"] == {"notes": "best at 0.8", "favourite": True}
    reply = await gateway.put(f"/api/models/{digest}/notes", json={"notes": "", "favourite": False})
    assert (await reply.json())["yours"] == {}
    assert await _yours(db, digest) == {}


async def test_an_import_never_writes_over_what_the_person_said_here(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    path = write_model(stack.model_root, "loras/ink.safetensors", b"ink lora")
    digest = await _catalogued(stack, gateway, "loras/ink.safetensors", b"ink lora")
    assert (await gateway.put(f"/api/models/{digest}/notes", json={"notes": "mine"})).status == 200
    # The web UI's own editor wrote other notes in its side-car: they rank below what was said here.
    write_json(path.with_suffix(".json"), {"notes": "the web UI's", "activation text": "inkstyle"})
    reply = await gateway.post("/api/models/import", json={})
    assert reply.status == 200, await reply.text()

    metadata = (await (await gateway.get(f"/api/models/{digest}")).json())["metadata"]
    assert metadata["notes"] == {"value": "mine", "source": "you"}
    assert metadata["trained_words"] == {"value": ["inkstyle"], "source": "a1111_user_metadata"}


@pytest.mark.parametrize(("body", "code", "words"), [
    ({}, "missing_parameter", "at least one"),
    ({"rating": 5}, "invalid_parameter", "unknown field"),
    ({"notes": 5}, "invalid_parameter", "'notes' must be a string"),
    ({"notes": "x" * 10_001}, "invalid_parameter", "at most 10,000"),
    ({"notes": "\ud800"}, "invalid_parameter", "not valid Unicode"),
    ({"tags": "anime"}, "invalid_parameter", "a list of strings"),
    ({"tags": [7]}, "invalid_parameter", "must be a string"),
    ({"tags": ["a"] * 51}, "invalid_parameter", "at most 50"),
    ({"tags": ["  "]}, "invalid_parameter", "1 to 64"),
    ({"tags": ["x" * 65]}, "invalid_parameter", "1 to 64"),
    ({"tags": ["bell\u0007"]}, "invalid_parameter", "control"),
    ({"favourite": "yes"}, "invalid_parameter", "true or false"),
    ({"notes": "fine", "favourite": 1}, "invalid_parameter", "true or false"),
])
async def test_a_bad_body_is_refused_and_changes_nothing(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, body: dict, code: str, words: str
) -> None:
    digest = await _catalogued(stack, gateway, "loras/ink.safetensors", b"ink lora")
    assert (await gateway.put(f"/api/models/{digest}/notes", json={"notes": "kept"})).status == 200
    reply = await gateway.put(f"/api/models/{digest}/notes", json=body)
    assert await error_of(reply) == (400, code)
    assert words in (await reply.json())["error"]["message"]
    assert await _yours(db, digest) == {"notes": '"kept"'}


async def test_notes_need_a_catalogued_content_and_a_real_hash(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    unknown = await gateway.put(f"/api/models/{'ab' * 32}/notes", json={"notes": "x"})
    assert await error_of(unknown) == (404, "not_found")
    assert await error_of(await gateway.put("/api/models/abc/notes", json={"notes": "x"})) == (400, "invalid_parameter")
    # A form post needs no CORS preflight: it must not reach the handler.
    digest = await _catalogued(stack, gateway, "loras/ink.safetensors", b"ink lora")
    reply = await gateway.put(f"/api/models/{digest}/notes", data="notes=x", headers={"Content-Type": "text/plain"})
    assert await error_of(reply) == (415, "unsupported_media_type")
    assert await db.fetchval("SELECT count(*) FROM model_metadata WHERE source = 'you'") == 0


async def test_a_save_that_postgresql_ends_in_a_deadlock_is_tried_again(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    """Saving notes also updates the content's models rows (their search columns, by trigger): a rival that holds
    those rows and then wants the notes makes a real deadlock, and PostgreSQL ends the save's transaction."""
    digest = await _catalogued(stack, gateway, "loras/ink.safetensors", b"ink lora")
    assert (await gateway.put(f"/api/models/{digest}/notes", json={"notes": "first"})).status == 200
    rival = await asyncpg.connect(stack.database_url)
    try:
        await rival.execute("SET deadlock_timeout = '60s'")  # PostgreSQL then ends the save's side, not ours
        rival_tx = rival.transaction()
        await rival_tx.start()
        await rival.execute("SELECT 1 FROM models WHERE sha256 = $1 FOR NO KEY UPDATE", digest)
        save = asyncio.create_task(gateway.put(f"/api/models/{digest}/notes", json={"notes": "second"}))

        async def save_waits_for_the_rival() -> bool:
            return await db.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1",
                rival.get_server_pid())
        await eventually(save_waits_for_the_rival, what="the save to wait for the rival's row")
        await rival.execute("SELECT 1 FROM model_metadata WHERE sha256 = $1 AND field = 'notes' FOR UPDATE", digest)
        await rival_tx.commit()
        reply = await asyncio.wait_for(save, 30)
    finally:
        await rival.close()
    assert reply.status == 200, await reply.text()
    assert await _yours(db, digest) == {"notes": '"second"'}


async def test_the_library_lists_only_the_favourites_when_asked(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    ink = await _catalogued(stack, gateway, "loras/ink.safetensors", b"ink lora")
    await _catalogued(stack, gateway, "loras/oil.safetensors", b"oil lora")
    assert (await gateway.put(f"/api/models/{ink}/notes", json={"favourite": True})).status == 200

    favourites = await (await gateway.get("/api/models", params={"favourite": "true"})).json()
    assert [item["sha256"] for item in favourites["items"]] == [ink] and favourites["total"] == 1
    assert favourites["items"][0]["metadata"]["favourite"] is True
    every = await (await gateway.get("/api/models", params={"favourite": "false"})).json()
    assert every["total"] == 2
    assert await error_of(await gateway.get("/api/models", params={"favourite": "maybe"})) == (400, "invalid_parameter")
