"""Search over what is known, the model type and base model filters, the folder tree, and strict parameters."""

from __future__ import annotations

import hashlib
import json

import asyncpg
from aiohttp.test_utils import TestClient

from backend.database import library_queries
from backend.server.library.service import Library
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of


def _sha(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()


# path: {field: (value, source)} as the import, the header job and the hub write them.
KNOWN = {
    "Stable-diffusion/SDXL/juggernautXL_v9.safetensors": {
        "model_name": ("Juggernaut XL", "civitai"), "version_name": ("v9 + RunDiffusion", "civitai"),
        "model_type": ("Checkpoint", "civitai"), "base_model": ("SDXL 1.0", "civitai")},
    "Lora/characters/miku_v15.safetensors": {
        "model_name": ("Hatsune Miku [初音ミク]", "lora_manager"), "version_name": ("v1.5", "lora_manager"),
        "model_type": ("LORA", "lora_manager"), "base_model": ("Pony", "lora_manager"),
        "trained_words": (["hatsune miku", "twintails"], "lora_manager")},
    "Lora/styles/inkwash.safetensors": {
        "model_type": ("lora", "safetensors"), "architecture": ("sd1", "safetensors"),
        "trigger_words": (["sumi-e", "ink wash painting"], "safetensors")},
    "VAE/sdxl_vae.safetensors": {"model_type": ("vae", "safetensors"), "architecture": ("unknown", "safetensors")},
    "embeddings/easynegative.pt": {"model_type": ("TextualInversion", "civitai_helper")},
    "misc/mystery.ckpt": {},
}


async def _library(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> dict[str, str]:
    """The models above under the stack's root, their facts written after the rows (as jobs do); path -> sha256."""
    assert (await gateway.get("/api/health")).status in (200, 503)  # the gateway has migrated the schema
    root = str(stack.model_root)
    paths = {f"{root}/{relative}": _sha(relative) for relative in KNOWN}
    await db.copy_records_to_table(
        "models", columns=["path", "sha256", "size", "mtime_ns", "inode", "device"],
        records=[(path, sha, 1000 + i, i, i, 1) for i, (path, sha) in enumerate(paths.items())])
    await db.executemany(
        "INSERT INTO model_metadata (sha256, field, value, source) VALUES ($1, $2, $3::jsonb, $4)",
        [(_sha(relative), field, json.dumps(value), source)
         for relative, fields in KNOWN.items() for field, (value, source) in fields.items()])
    return paths


async def _found(gateway: TestClient, **params: str) -> list[str]:
    reply = await gateway.get("/api/models", params={"limit": "100", **params})
    assert reply.status == 200, await reply.text()
    body = await reply.json()
    assert body["total"] == len(body["items"])
    return sorted(item["path"].rsplit("/", 1)[1] for item in body["items"])


async def test_search_finds_models_by_what_is_known_and_by_a_pasted_hash(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    await _library(stack, gateway, db)
    assert await _found(gateway, q="juggernaut xl") == ["juggernautXL_v9.safetensors"]  # the name, any case
    assert await _found(gateway, q="RunDiffusion") == ["juggernautXL_v9.safetensors"]  # the version
    assert await _found(gateway, q="初音ミク v1.5") == ["miku_v15.safetensors"]  # words in any field, all needed
    assert await _found(gateway, q="twintails") == ["miku_v15.safetensors"]  # a hub/tool trigger word
    assert await _found(gateway, q="ink wash") == ["inkwash.safetensors"]  # a header's trigger phrase
    assert await _found(gateway, q="pony") == ["miku_v15.safetensors"]  # the base model
    assert await _found(gateway, q="characters") == ["miku_v15.safetensors"]  # the folder
    assert await _found(gateway, q="easyneg") == ["easynegative.pt"]  # the file name
    assert await _found(gateway, q="nothing like this") == []

    sha = _sha("misc/mystery.ckpt")
    assert await _found(gateway, q=sha[:10].upper()) == ["mystery.ckpt"]  # AutoV2, as A1111 writes it
    assert await _found(gateway, q=f"  {sha}  ") == ["mystery.ckpt"]  # the full SHA-256, pasted with spaces
    assert await _found(gateway, q=sha[:9]) == []  # shorter than AutoV2 is no hash, and no word of any name


async def test_facts_follow_the_metadata_as_it_is_written_changed_and_removed(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    paths = await _library(stack, gateway, db)
    mystery = _sha("misc/mystery.ckpt")
    await db.execute("INSERT INTO model_metadata (sha256, field, value, source) VALUES "
                     "($1, 'model_name', '\"Dreamshaper\"', 'civitai'), ($1, 'model_type', '\"LoCon\"', 'civitai')",
                     mystery)
    assert await _found(gateway, q="dreamshaper") == ["mystery.ckpt"]
    assert "mystery.ckpt" in await _found(gateway, model_type="lora")
    await db.execute("UPDATE model_metadata SET value = '\"Deliberate\"' WHERE sha256 = $1 AND field = 'model_name'",
                     mystery)
    assert (await _found(gateway, q="dreamshaper"), await _found(gateway, q="deliberate")) == ([], ["mystery.ckpt"])
    await db.execute("DELETE FROM model_metadata WHERE sha256 = $1", mystery)
    assert await _found(gateway, q="deliberate") == [] and "mystery.ckpt" in await _found(gateway, model_type="unknown")

    # A new file of a known content (a copy) knows what its content is at once.
    copy = paths[f"{stack.model_root}/Lora/characters/miku_v15.safetensors"]
    await db.execute("INSERT INTO models (path, sha256, size, mtime_ns, inode, device) VALUES ($1, $2, 1, 1, 99, 1)",
                     f"{stack.model_root}/backup/miku_copy.safetensors", copy)
    assert await _found(gateway, q="hatsune") == ["miku_copy.safetensors", "miku_v15.safetensors"]


async def test_model_type_and_base_model_filters_with_unknown_as_a_value(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    await _library(stack, gateway, db)
    assert await _found(gateway, model_type="lora") == ["inkwash.safetensors", "miku_v15.safetensors"]
    assert await _found(gateway, model_type="checkpoint") == ["juggernautXL_v9.safetensors"]
    assert await _found(gateway, model_type="embedding") == ["easynegative.pt"]
    assert await _found(gateway, model_type="TextualInversion") == ["easynegative.pt"]  # as the hub names it
    assert await _found(gateway, model_type="unknown") == ["mystery.ckpt"]
    assert await _found(gateway, base_model="Pony") == ["miku_v15.safetensors"]
    assert await _found(gateway, base_model="SD 1.x") == ["inkwash.safetensors"]  # from the header's architecture
    assert await _found(gateway, base_model="unknown") == ["easynegative.pt", "mystery.ckpt", "sdxl_vae.safetensors"]
    assert await _found(gateway, model_type="lora", base_model="Pony", q="miku") == ["miku_v15.safetensors"]

    item = (await (await gateway.get("/api/models", params={"q": "juggernaut"})).json())["items"][0]
    assert (item["model_type"], item["base_model"], item["metadata"]["model_name"]) == (
        "checkpoint", "SDXL 1.0", "Juggernaut XL")

    # Paging by cursor keeps the filters: two pages of one model each.
    first = await (await gateway.get("/api/models", params={"model_type": "lora", "limit": "1"})).json()
    second = await (await gateway.get("/api/models", params={"model_type": "lora", "limit": "1",
                                                             "cursor": first["next_cursor"]})).json()
    assert [i["name"] for i in first["items"] + second["items"]] == ["miku_v15", "inkwash"]  # by path
    assert second["next_cursor"] is None
    assert await error_of(await gateway.get("/api/models", params={"model_type": "vae", "cursor": first["next_cursor"]}
                                            )) == (400, "invalid_parameter")


async def test_facets_give_the_folder_tree_and_the_filters_values_with_counts(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    await _library(stack, gateway, db)
    reply = await gateway.get("/api/models/facets")
    assert reply.status == 200
    body = await reply.json()
    root = str(stack.model_root)
    assert body["roots"] == [root]
    assert {f["path"].removeprefix(root): f["count"] for f in body["folders"]} == {
        "": 6, "/Stable-diffusion": 1, "/Stable-diffusion/SDXL": 1, "/Lora": 2, "/Lora/characters": 1,
        "/Lora/styles": 1, "/VAE": 1, "/embeddings": 1, "/misc": 1}
    assert body["model_types"] == [{"value": "lora", "count": 2}, {"value": "checkpoint", "count": 1},
                                   {"value": "embedding", "count": 1}, {"value": "vae", "count": 1},
                                   {"value": "unknown", "count": 1}]
    assert {b["value"]: b["count"] for b in body["base_models"]} == {"SDXL 1.0": 1, "Pony": 1, "SD 1.x": 1,
                                                                      "unknown": 3}


async def test_unknown_and_bad_query_parameters_are_refused_like_unknown_body_fields(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    await _library(stack, gateway, db)
    for path, params in (("/api/models", {"base_modell": "Pony"}), ("/api/models", {"model_type": "lo ra"}),
                         ("/api/models", {"base_model": "x" * 101}), ("/api/models/facets", {"q": "x"}),
                         ("/api/models/duplicates", {"sort": "size"}), ("/api/models/pending", {"folder": "/x"}),
                         ("/api/jobs", {"state": "running"}), ("/api/jobs/1", {"verbose": "1"}),
                         ("/api/health", {"verbose": "1"}), ("/api/events", {"since": "5"}),
                         ("/api/jobs/1/events", {"after": "2"}), ("/api/openapi.json", {"version": "3"}),
                         (f"/api/models/{_sha('misc/mystery.ckpt')}", {"verbose": "1"})):
        reply = await gateway.get(path, params=params)
        assert await error_of(reply) == (400, "invalid_parameter"), (path, params)
        message = (await reply.json())["error"]["message"]
        assert repr(next(iter(params))) in message or path == "/api/models", (path, message)


async def test_a_common_word_is_counted_up_to_a_bound_and_its_pages_still_reach_every_match(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    assert (await gateway.get("/api/health")).status in (200, 503)  # the gateway has migrated the schema
    root = str(stack.model_root)
    limit = library_queries.SEARCH_COUNT_LIMIT
    # Dragons, more than a search reads to count them, one in fifty of them "xq"; a few griffins; other models.
    dragons = [f"Dragon_{i:04d}{'_xq' if i % 50 == 0 else ''}" for i in range(4100)]
    names = ([f"Lora/{name}.safetensors" for name in dragons] + [f"Lora/GRIFFIN_{i:02d}.safetensors" for i in range(40)]
             + [f"Checkpoints/plain_{i:03d}.safetensors" for i in range(200)])
    await db.copy_records_to_table(
        "models", columns=["path", "sha256", "size", "mtime_ns", "inode", "device"],
        records=[(f"{root}/{name}", _sha(name), 1000 + i, i, i, 1) for i, name in enumerate(names)])

    async def every_page(**params: str) -> tuple[list[str], set[tuple[int, bool]]]:
        """Each match's name, following the cursors, and each page's (total, total_exact)."""
        seen, said, cursor = [], set(), {}
        while True:
            reply = await gateway.get("/api/models", params={**params, **cursor})
            assert reply.status == 200, await reply.text()
            body = await reply.json()
            seen += [item["name"] for item in body["items"]]
            said.add((body["total"], body["total_exact"]))
            if not body["next_cursor"]:
                return seen, said
            cursor = {"cursor": body["next_cursor"]}

    # A word in thousands of models: "1,000+", and every one of them reached, once, in path order.
    seen, said = await every_page(q="dragon", limit="1000")
    assert (seen, said) == (dragons, {(limit, False)})
    # A short word among them: at least as many as the page found, and every one reached.
    seen, said = await every_page(q="xq DRAGON", limit="30")
    assert seen == dragons[::50]
    assert len(said) == 1 and 30 <= next(iter(said))[0] <= len(seen) and not next(iter(said))[1]

    # A search with few matches is counted exactly, whatever the case typed; the whole library, and a filter
    # without words, always exactly.
    griffins = await (await gateway.get("/api/models", params={"q": "griffin", "sort": "name", "order": "desc",
                                                              "limit": "30"})).json()
    assert (griffins["total"], griffins["total_exact"], griffins["items"][0]["name"]) == (40, True, "GRIFFIN_39")
    for params, total in (({}, len(names)), ({"folder": f"{root}/Lora"}, 4140)):
        body = await (await gateway.get("/api/models", params=params)).json()
        assert (body["total"], body["total_exact"]) == (total, True), params


async def test_a_word_is_found_by_its_rare_part_and_still_matched_whole(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    """With a sample of the catalogue, "group_414" is asked of the index as "414" (every row says "group"):
    the rows it lets through that hold "414" elsewhere are not matches, and the answers are the same."""
    assert (await gateway.get("/api/health")).status in (200, 503)  # the gateway has migrated the schema
    root = str(stack.model_root)
    names = ([f"Lora/group_{i:03d}/model_{i:03d}.safetensors" for i in range(500)]
             + ["Lora/group_414/second.safetensors", "Lora/other_414/not_this.safetensors",
                "Lora/group_4140/this_too.safetensors"])
    await db.copy_records_to_table(
        "models", columns=["path", "sha256", "size", "mtime_ns", "inode", "device"],
        records=[(f"{root}/{name}", _sha(name), 1000 + i, i, i, 1) for i, name in enumerate(names)])
    await db.execute("ANALYZE models")
    shares = await library_queries.sample_trigrams(db, 2000)
    assert shares.sampled == len(names) and shares.probe("group_414") == "414"

    async def found(shares: object, search: str, sort: str = "path") -> tuple[list[str], object]:
        query = library_queries.ModelQuery(limit=100, sort=sort, search=search)
        matches = await library_queries.count_models(db, query, shares)
        rows = await library_queries.list_models(db, query, matches, shares)
        return [row["path"].removeprefix(root + "/") for row in rows], matches

    expected = ["Lora/group_414/model_414.safetensors", "Lora/group_414/second.safetensors",
                "Lora/group_4140/this_too.safetensors"]
    for search in ("group_414", "GROUP_414 model", "lora group_414"):
        with_sample, without = await found(shares, search), await found(None, search)
        assert with_sample == without, search
    assert await found(shares, "group_414") == (expected, library_queries.Count(3, True))
    assert (await found(shares, "group_414 second"))[0] == ["Lora/group_414/second.safetensors"]
    # Through the gateway, whose first search takes its own sample beside it: the same rows, before and after.
    for _ in range(2):
        assert await _found(gateway, q="group_414") == ["model_414.safetensors", "second.safetensors",
                                                        "this_too.safetensors"]


async def test_a_common_search_finds_its_page_beside_its_count_and_answers_the_same(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection, database_url: str
) -> None:
    """A search the sample says is common finds its page while it is counted; what it answers is what the count,
    then the page, would have: also when the library changed since the sample and the word became rare."""
    assert (await gateway.get("/api/health")).status in (200, 503)  # the gateway has migrated the schema
    root = str(stack.model_root)
    names = [f"Lora/dragon_{i:05d}{'_q7' if i % 500 == 0 else ''}.safetensors" for i in range(9000)]
    await db.copy_records_to_table(
        "models", columns=["path", "sha256", "size", "mtime_ns", "inode", "device"],
        records=[(f"{root}/{name}", _sha(name), 1000 + i, i, i, 1) for i, name in enumerate(names)])
    await db.execute("ANALYZE models")
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    try:
        library = Library(pool)
        shares = await library.sample()

        async def one_after_the_other(query: library_queries.ModelQuery) -> tuple[list[str], library_queries.Count]:
            """The count, then the page the count says how to find; the total as a page says it (at least the
            page's rows)."""
            async with pool.acquire() as conn:
                matches = await library_queries.count_models(conn, query, shares)
                rows = await library_queries.list_models(conn, query, matches, shares)
            if not matches.exact:
                matches = library_queries.Count(max(matches.total, len(rows)), False)
            return [row["path"] for row in rows], matches

        async def at_once(query: library_queries.ModelQuery) -> tuple[list[str], library_queries.Count]:
            page = await library.models(query)
            return [row["path"] for row in page.rows], page.matches

        for search, sort in (("dragon", "name"), ("DRAGON q7", "path"), ("dragon zz", "size"), ("dragon_0", "date")):
            query = library_queries.ModelQuery(limit=60, sort=sort, search=search)
            assert library_queries.surely_common(query, shares), search
            assert await at_once(query) == await one_after_the_other(query), search
        paged, counted = await at_once(library_queries.ModelQuery(limit=60, search="q7 dragon"))
        assert len(paged) == 18 and counted.total >= 8

        # Most dragons gone since the sample: "dragon" is rare now, counted exactly, and its page the same.
        await db.execute("DELETE FROM models WHERE path NOT LIKE '%\\_q7.safetensors'")
        query = library_queries.ModelQuery(limit=60, sort="name", search="dragon")
        assert library_queries.surely_common(query, shares)
        paged, counted = await at_once(query)
        assert counted == library_queries.Count(18, True)
        assert paged == sorted(f"{root}/{name}" for name in names if name.endswith("_q7.safetensors"))
    finally:
        await pool.close()
