"""Legacy migration end to end: other tools' side-cars and cache.json, imported over REST into real services."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from tests.eventually import eventually
from tests.integration.conftest import Stack
from tests.integration.gateway_support import do_import, files_under, write_model, write_preview
from tests.legacy_formats import (
    a1111_cache,
    a1111_diskcache,
    civitai_version,
    lora_manager,
    sha,
    stability_matrix,
    write_json,
)


def civitai_model(root: Path, relative: str, content: bytes, *, preview: bool = False) -> tuple[Path, str]:
    model = write_model(root, relative, content)
    write_json(model.with_suffix(".civitai.info"), civitai_version(sha(content), len(content), model.name))
    if preview:
        write_preview(model.with_suffix(".preview.png"))
    return model, sha(content)


async def test_a_civitai_helper_model_becomes_active_without_being_read(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model, digest = civitai_model(stack.model_root, "loras/ink.safetensors", os.urandom(5000), preview=True)
    report = await do_import(gateway)
    assert (report["trusted"], report["pending"], report["already_known"]) == (1, 0, 0)
    assert report["conflicts"] == [] and report["skipped"] == [] and report["metadata"] == 7
    assert stack.hasher.servicer.pool.bytes_read == 0
    assert files_under(stack.data_dir / "images") == [f"{digest}.webp"]
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0

    detail = await (await gateway.get(f"/api/models/{digest}")).json()
    assert [f["path"] for f in detail["files"]] == [str(model)]
    assert detail["files"][0]["image_url"] == f"/images/{digest}.webp"
    assert detail["metadata"]["trained_words"] == {"value": ["inkstyle", "sketch lines"], "source": "civitai_helper"}
    assert detail["metadata"]["civitai_version_id"] == {"value": 201, "source": "civitai_helper"}
    listed = await (await gateway.get("/api/models")).json()
    assert listed["items"][0]["metadata"]["model_name"] == "Ink Style"
    assert model.with_suffix(".civitai.info").exists() and model.with_suffix(".preview.png").exists()


async def test_lora_manager_and_stability_matrix_side_cars_are_trusted(stack: Stack, gateway: TestClient) -> None:
    content_a, content_b = os.urandom(3000), os.urandom(4000)
    lora = write_model(stack.model_root, "loras/a.safetensors", content_a)
    write_json(lora.with_suffix(".metadata.json"), lora_manager(sha(content_a), len(content_a), lora,
                                                                windows_path=True), bom=True)
    ckpt = write_model(stack.model_root, "ckpt/b.safetensors", content_b)
    write_json(ckpt.with_suffix(".cm-info.json"), stability_matrix(sha(content_b)))
    report = await do_import(gateway)
    assert (report["trusted"], report["pending"], report["skipped"]) == (2, 0, [])
    detail = await (await gateway.get(f"/api/models/{sha(content_b)}")).json()
    assert detail["metadata"]["model_type"] == {"value": "Checkpoint", "source": "stability_matrix"}
    detail = await (await gateway.get(f"/api/models/{sha(content_a)}")).json()
    assert detail["metadata"]["model_name"] == {"value": "My Ink LoRA", "source": "lora_manager"}
    assert stack.hasher.servicer.pool.bytes_read == 0


async def test_a1111_cache_is_trusted_until_the_file_is_newer(stack: Stack, gateway: TestClient, db) -> None:
    webui = stack.model_root / "webui"
    fresh = write_model(webui, "models/Stable-diffusion/sdxl/base.safetensors", b"base model")
    lora = write_model(webui, "models/Lora/ink.safetensors", b"ink lora")
    entries = {
        "checkpoint/sdxl/base.safetensors": (os.stat(fresh).st_mtime, sha(b"base model")),
        "lora/ink": (os.stat(lora).st_mtime - 60, sha(b"ink lora")),  # the file changed after the web UI hashed it
        "lora/gone": (1.0, "44" * 32),
    }
    write_json(webui / "cache.json", a1111_cache(entries))
    report = await do_import(gateway, a1111_root=[str(webui)])
    assert (report["trusted"], report["pending"]) == (1, 1)
    assert {(s["path"], s["source"]) for s in report["skipped"]} == {
        (str(lora), "a1111"), (str(webui / "cache.json"), "a1111")}
    assert "modified after" in next(s["reason"] for s in report["skipped"] if s["path"] == str(lora))
    assert await db.fetchval("SELECT sha256 FROM models WHERE path = $1", str(fresh)) == sha(b"base model")
    assert await db.fetchval("SELECT path FROM pending_models") == str(lora)


async def test_a_current_a1111_diskcache_is_read_while_the_web_ui_runs_and_no_planted_pickle_runs(
    stack: Stack, gateway: TestClient, db, tmp_path: Path
) -> None:
    webui = stack.model_root / "webui"
    base = write_model(webui, "models/Stable-diffusion/sdxl/base.safetensors", b"base model")
    lora = write_model(webui, "models/Lora/ink.safetensors", b"ink lora")
    old = write_model(webui, "models/Lora/old.safetensors", b"converted from cache.json")
    # What 1.9 left of the old format: converted once, never written again; the diskcache's entry is newer.
    converted = {"lora/old": (os.stat(old).st_mtime, sha(b"converted from cache.json")),
                 "lora/ink": (os.stat(lora).st_mtime, "55" * 32)}
    write_json(webui / "cache.json", a1111_cache(converted))
    marker = tmp_path / "pwned"
    cache = a1111_diskcache(webui)
    try:  # left open, as by a running web UI: its newest entries are still in cache.db-wal
        cache["checkpoint/sdxl/base.safetensors"] = {"mtime": os.stat(base).st_mtime, "sha256": sha(b"base model")}
        cache["lora/ink"] = {"mtime": os.stat(lora).st_mtime, "sha256": sha(b"ink lora")}
        cache["vae"] = {"mtime": 1.0, "sha256": "66" * 32}
        cache["lora/planted"] = _PlantedPickle(f"touch {marker}")
        assert (webui / "cache/hashes/cache.db-wal").stat().st_size > 0
        report = await do_import(gateway, a1111_root=[str(webui)])
    finally:
        cache.close()
    assert not marker.exists()
    assert (report["trusted"], report["pending"]) == (3, 0)
    reasons = {s["reason"].split(":")[0]: s["path"] for s in report["skipped"]}
    database = str(webui / "cache/hashes/cache.db")
    assert reasons == {"vae": database, "lora/planted": database}
    assert "refers to posix.system" in next(s["reason"] for s in report["skipped"] if "planted" in s["reason"])
    active = {r["path"]: r["sha256"] for r in await db.fetch("SELECT path, sha256 FROM models")}
    assert active == {str(base): sha(b"base model"), str(lora): sha(b"ink lora"),
                      str(old): sha(b"converted from cache.json")}
    assert stack.hasher.servicer.pool.bytes_read == 0


class _PlantedPickle:
    """A value whose pickle runs a shell command when a plain pickle.loads reads it."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


async def test_a_persons_own_notes_from_the_web_uis_editor_rank_first_and_wait_for_an_unhashed_file(
    stack: Stack, gateway: TestClient, db
) -> None:
    ink, ink_sha = civitai_model(stack.model_root, "loras/ink.safetensors", b"ink lora")
    write_json(ink.with_suffix(".json"), {"description": "", "sd version": "SDXL", "preferred weight": 0.8,
                                           "activation text": "inkstyle, sketch", "negative text": "",
                                           "notes": "best at 0.8"})
    hashed = write_model(stack.model_root, "loras/hashed.safetensors", b"hashed already")
    assert (await gateway.post("/api/models/sha256", json={"path": str(hashed)})).status == 200
    write_json(hashed.with_suffix(".json"), {"activation text": "hashedstyle", "sd version": "Unknown",
                                              "preferred weight": 0})
    fresh = write_model(stack.model_root, "loras/fresh.safetensors", b"not hashed yet")
    write_json(fresh.with_suffix(".json"), {"activation text": "freshstyle"})
    # sd-civitai-browser-plus adds the hash (either case) and the model's id; no size to check the hash by.
    browsed = write_model(stack.model_root, "loras/browsed.safetensors", b"browsed")
    write_json(browsed.with_suffix(".json"), {"activation text": "browsedstyle", "SHA256": sha(b"browsed").upper(),
                                               "modelId": 4242})

    report = await do_import(gateway)
    assert report["trusted"] == 1  # ink, by its .civitai.info; browsed's hash is not checkable, so it is read
    skipped = {(s["path"], s["source"]): s["reason"] for s in report["skipped"]}
    assert set(skipped) == {(str(fresh), "a1111_user_metadata"), (str(browsed), "a1111_user_metadata")}
    assert "when the file is hashed" in skipped[(str(fresh), "a1111_user_metadata")]
    assert "no size or date" in skipped[(str(browsed), "a1111_user_metadata")]

    ink_detail = (await (await gateway.get(f"/api/models/{ink_sha}")).json())["metadata"]
    assert ink_detail["trained_words"] == {"value": ["inkstyle", "sketch"], "source": "a1111_user_metadata"}
    assert ink_detail["base_model"] == {"value": "SDXL", "source": "a1111_user_metadata"}
    assert ink_detail["preferred_weight"] == {"value": 0.8, "source": "a1111_user_metadata"}
    assert ink_detail["notes"] == {"value": "best at 0.8", "source": "a1111_user_metadata"}
    assert ink_detail["model_name"] == {"value": "Ink Style", "source": "civitai_helper"}
    hashed_detail = (await (await gateway.get(f"/api/models/{sha(b'hashed already')}")).json())["metadata"]
    assert hashed_detail == {"trained_words": {"value": ["hashedstyle"], "source": "a1111_user_metadata"}}
    assert await db.fetchval("SELECT count(*) FROM model_metadata WHERE sha256 = $1", sha(b"browsed")) == 2
    pending = {r["path"] for r in await db.fetch("SELECT path FROM pending_models")}
    assert pending == {str(fresh), str(browsed)}


async def test_placeholders_empty_answers_and_unverifiable_sizes_are_not_knowledge(
    stack: Stack, gateway: TestClient, db
) -> None:
    odd = write_model(stack.model_root, "loras/odd_size.safetensors", b"odd size")
    side_car = lora_manager(sha(b"odd size"), 8, odd)
    write_json(odd.with_suffix(".metadata.json"), {**side_car, "size": "8 B"})
    placeholder = write_model(stack.model_root, "loras/placeholder.safetensors", b"placeholder")
    side_car = lora_manager(sha(b"placeholder"), len(b"placeholder"), placeholder)
    write_json(placeholder.with_suffix(".metadata.json"), {**side_car, "model_name": "placeholder",
                                                           "base_model": "Unknown", "trainedWords": ["plc"]})
    unknown = write_model(stack.model_root, "loras/unknown_to_the_hub.safetensors", b"never on the hub")
    write_json(unknown.with_suffix(".civitai.info"), {})  # what Civitai Helper writes when the hub says "not found"

    report = await do_import(gateway)
    assert report["trusted"] == 1  # only the placeholder's: its size is checkable
    assert [(s["path"], s["source"]) for s in report["skipped"]] == [(str(odd), "lora_manager")]
    assert "size field" in report["skipped"][0]["reason"]
    assert await db.fetchval("SELECT path FROM pending_models") == str(odd)
    fields = {r["field"]: r["value"] for r in await db.fetch(
        "SELECT field, value FROM model_metadata WHERE sha256 = $1", sha(b"placeholder"))}
    assert fields == {"trained_words": '["plc"]'}


async def test_a_wrong_size_and_a_conflict_send_the_file_to_the_queue(stack: Stack, gateway: TestClient) -> None:
    resized = write_model(stack.model_root, "resized.safetensors", os.urandom(10_000))
    write_json(resized.with_suffix(".civitai.info"), civitai_version(sha(b"old"), 50_000, resized.name))
    disputed = write_model(stack.model_root, "disputed.safetensors", b"disputed")
    write_json(disputed.with_suffix(".civitai.info"), civitai_version(sha(b"disputed"), 8, disputed.name))
    write_json(disputed.with_suffix(".cm-info.json"), stability_matrix(sha(b"something else")))
    report = await do_import(gateway)
    assert (report["trusted"], report["pending"]) == (0, 2)
    assert report["conflicts"] == [{"path": str(disputed), "claims": [
        {"source": "civitai_helper", "sha256": sha(b"disputed")},
        {"source": "stability_matrix", "sha256": sha(b"something else")}]}]
    assert [(s["path"], s["source"]) for s in report["skipped"]] == [(str(resized), "civitai_helper")]
    pending = await (await gateway.get("/api/models/pending")).json()
    assert sorted(p["path"] for p in pending["items"]) == sorted([str(resized), str(disputed)])


async def test_bad_side_cars_are_reported_one_by_one_and_the_rest_is_imported(
    stack: Stack, gateway: TestClient
) -> None:
    good, digest = civitai_model(stack.model_root, "good.safetensors", b"good")
    bad = {
        "malformed": b'{"files": [',
        "wrongtypes": b'{"files": {"name": 1}}',
        "badhash": None,
        "huge": None,
    }
    for name, content in bad.items():
        model = write_model(stack.model_root, f"{name}.safetensors", name.encode())
        if content is not None:
            model.with_suffix(".civitai.info").write_bytes(content)
    write_json(stack.model_root / "badhash.civitai.info", civitai_version("zz" * 32, 7, "badhash.safetensors"))
    with open(stack.model_root / "huge.civitai.info", "wb") as huge:
        huge.truncate(5 * 1024 * 1024)  # a "JSON" file refused by its size, never read
    loop = write_model(stack.model_root, "loop.safetensors", b"loop")
    os.symlink(loop.with_name("loop.cm-info.json"), loop.with_name("loop.cm-info.json.tmp"))
    os.rename(loop.with_name("loop.cm-info.json.tmp"), loop.with_name("loop.cm-info.json"))
    report = await do_import(gateway)
    assert report["trusted"] == 1
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"malformed.civitai.info", "wrongtypes.civitai.info", "badhash.civitai.info",
                            "huge.civitai.info", "loop.cm-info.json"}
    assert "malformed JSON" in reasons["malformed.civitai.info"]
    assert "not a SHA-256" in reasons["badhash.civitai.info"]
    assert "MiB" in reasons["huge.civitai.info"] and "symlink loop" in reasons["loop.cm-info.json"]
    assert (await gateway.get(f"/api/models/{digest}")).status == 200
    assert good.exists()


async def test_dry_run_writes_nothing_and_a_second_import_changes_nothing(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    civitai_model(stack.model_root, "a.safetensors", b"a", preview=True)
    stale = write_model(stack.model_root, "stale.safetensors", b"stale")
    write_json(stale.with_suffix(".civitai.info"), civitai_version(sha(b"before"), 90_000, stale.name))
    dry = await do_import(gateway, dry_run=True)
    assert (dry["trusted"], dry["pending"], dry["metadata"]) == (1, 1, 14)
    for table in ("models", "pending_models", "model_metadata", "legacy_hashes"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert files_under(stack.data_dir / "images") == []

    first = await do_import(gateway)
    assert (first["trusted"], first["pending"], first["metadata"]) == (1, 1, 14)
    before = await db.fetch("SELECT * FROM models ORDER BY path")
    second = await do_import(gateway)
    assert (second["trusted"], second["pending"], second["already_known"], second["metadata"]) == (0, 0, 2, 0)
    assert await db.fetch("SELECT * FROM models ORDER BY path") == before


async def test_a_pending_file_is_promoted_with_its_preview(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model, digest = civitai_model(stack.model_root, "p.safetensors", b"pending one", preview=True)
    reply = await gateway.post("/api/models/pending", json={"path": str(model),
                                                             "preview_path": str(model.with_suffix(".preview.png"))})
    assert reply.status == 201
    report = await do_import(gateway)
    assert report["trusted"] == 1
    assert await db.fetchval("SELECT count(*) FROM pending_models") == 0
    assert files_under(stack.data_dir / "images") == [f"{digest}.webp"]


async def test_verify_finds_a_planted_wrong_hash_and_fixes_the_record(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    right, right_digest = civitai_model(stack.model_root, "right.safetensors", b"right")
    liar = write_model(stack.model_root, "liar.safetensors", b"liar!")
    planted = sha(b"not the liar")
    write_json(liar.with_suffix(".civitai.info"), civitai_version(planted, 5, liar.name))
    write_preview(liar.with_suffix(".png"))
    assert (await do_import(gateway))["trusted"] == 2
    assert files_under(stack.data_dir / "images") == [f"{planted}.webp"]

    report = await do_import(gateway, verify=True)
    assert report["verify"] == {"verified": 1, "errors": [], "wrong": [
        {"path": str(liar), "legacy_sha256": planted, "sha256": sha(b"liar!"), "sources": ["civitai_helper"]}]}
    assert await db.fetchval("SELECT sha256 FROM models WHERE path = $1", str(liar)) == sha(b"liar!")
    assert files_under(stack.data_dir / "images") == [f"{sha(b'liar!')}.webp"]
    assert stack.hasher.servicer.pool.bytes_read == len(b"right") + len(b"liar!")
    again = await do_import(gateway, verify=True)
    assert again["verify"] == {"verified": 0, "errors": [], "wrong": []} and again["already_known"] == 2


async def test_a_library_of_200_legacy_files_is_imported_reading_0_bytes(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    sizes = 0
    for index in range(200):
        content = os.urandom(1000 + index)
        sizes += len(content)
        model = write_model(stack.model_root, f"lib/{index % 4}/m{index}.safetensors", content)
        if index % 3 == 0:
            write_json(model.with_suffix(".civitai.info"), civitai_version(sha(content), len(content), model.name))
        elif index % 3 == 1:
            write_json(model.with_suffix(".metadata.json"), lora_manager(sha(content), len(content), model))
        else:
            write_json(model.with_suffix(".cm-info.json"), stability_matrix(sha(content)))
    report = await do_import(gateway)
    assert (report["trusted"], report["pending"], report["skipped"]) == (200, 0, [])
    assert await db.fetchval("SELECT count(*) FROM models") == 200
    assert stack.hasher.servicer.pool.bytes_read == 0
    # The counter does count: verifying reads every byte of the library once.
    report = await do_import(gateway, verify=True)
    assert report["verify"]["verified"] == 200
    assert stack.hasher.servicer.pool.bytes_read == sizes


async def test_bad_requests_are_refused_and_change_nothing(stack: Stack, gateway: TestClient, db) -> None:
    civitai_model(stack.model_root, "a.safetensors", b"a")
    for body, status in (({"a1111_root": ["/etc"]}, 403), ({"a1111_root": [1]}, 400),
                         ({"a1111_root": ["relative/webui"]}, 400), ({"folder": "/etc"}, 403),
                         ({"dry_run": "maybe"}, 400),
                         ({"folder": str(stack.model_root / "nope")}, 404),
                         # Found by probing: a lone surrogate in a root reached the hasher's protobuf (a 500).
                         ({"a1111_root": [str(stack.model_root / "\ud800")]}, 400)):
        reply = await gateway.post("/api/models/import", json=body)
        assert reply.status == status, (body, await reply.text())
        assert set((await reply.json())["error"]) == {"code", "message"}
    assert await db.fetchval("SELECT count(*) FROM models") == 0


async def test_a1111_root_outside_the_model_roots_needs_an_import_root(
    stack: Stack, tmp_path: Path, aiohttp_client
) -> None:
    from backend.server.instance import create_app
    from services.hasher.server import build_service

    webui = tmp_path / "webui"
    model = write_model(stack.model_root, "models/Lora/ink.safetensors", b"ink")
    write_json(webui / "cache.json", a1111_cache({"lora/ink": (os.stat(model).st_mtime, sha(b"ink"))}))
    # The web UI's folder holds only cache.json; its model folder is a model root.
    (webui / "models").symlink_to(stack.model_root / "models")
    env = {"MODELVAULT_IMPORT_ROOTS": str(webui), "MODELVAULT_MODEL_ROOTS": f"{stack.model_root}"}
    hasher = build_service(stack.config(MODELVAULT_HASHER_LISTEN="127.0.0.1:0", **env))
    await hasher.start()
    try:
        client = await aiohttp_client(create_app(stack.config(
            MODELVAULT_HASHER_TARGET=f"127.0.0.1:{hasher.port}", **env)))
        report = await (await client.post("/api/models/import", json={"a1111_root": [str(webui)]})).json()
    finally:
        await hasher.stop(grace=0)
    assert (report["trusted"], report["skipped"]) == (1, []), report


async def test_a_scan_catalogues_a_new_model_from_its_side_car_without_reading_it(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    model, digest = civitai_model(stack.model_root, "new/copied.safetensors", b"copied in", preview=True)
    plain = write_model(stack.model_root, "new/plain.safetensors", b"no side-car")
    report = await (await gateway.post("/api/models/scan", json={})).json()
    assert (report["registered"], report["imported"]) == (2, 1), report
    assert await db.fetchval("SELECT path FROM pending_models") == str(plain)
    assert await db.fetchval("SELECT sha256 FROM models WHERE path = $1", str(model)) == digest
    assert f"{digest}.webp" in files_under(stack.data_dir / "images")
    assert stack.hasher.servicer.pool.bytes_read == 0


async def test_import_for_paths_reports_a_file_that_is_gone(stack: Stack, gateway: TestClient) -> None:
    from backend.server import keys
    from backend.server.legacy import LegacyServices, import_for_paths

    app = gateway.server.app
    services = LegacyServices(app[keys.POOL], app[keys.HASHER], app[keys.IMAGES], app[keys.CATALOGUE])
    report = await import_for_paths(services, [str(stack.model_root / "gone.pt")])
    assert (report.trusted, report.pending, report.already_known) == (0, 0, 0)
    assert [s["path"] for s in report.skipped] == [str(stack.model_root / "gone.pt")]


async def test_the_image_service_down_stops_the_import_with_503(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    for index in range(12):
        civitai_model(stack.model_root, f"p{index}.safetensors", f"model {index}".encode(), preview=True)
    await stack.images.stop(grace=0)
    reply = await gateway.post("/api/models/import", json={})
    assert reply.status == 503
    assert "images" in (await reply.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM models") == 0


async def test_import_runs_as_a_job_with_progress(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    digests = [civitai_model(stack.model_root, f"job/m{index}.safetensors", f"job {index}".encode())[1]
               for index in range(5)]
    reply = await gateway.post("/api/jobs", json={"kind": "import", "dry_run": False})
    assert reply.status == 202, await reply.text()
    job_id = (await reply.json())["id"]

    async def finished() -> dict | None:
        body = await (await gateway.get(f"/api/jobs/{job_id}")).json()
        return body if body["state"] not in ("queued", "running") else None

    done = await eventually(finished, timeout=60, what="the import job to end")
    assert (done["state"], done["result"]["trusted"], done["files_done"]) == ("done", 5, 5), done
    assert sorted(await db.fetchval("SELECT array_agg(sha256) FROM models")) == sorted(digests)
    assert stack.hasher.servicer.pool.bytes_read == 0
    bad = await gateway.post("/api/jobs", json={"kind": "import", "a1111_root": "relative/webui"})
    assert bad.status == 400 and "a1111_root" in (await bad.json())["error"]["message"]
