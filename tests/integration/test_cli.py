"""The command line as a user runs it: a real process against a real gateway on a real port."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import socket

import aiohttp

from tests.eventually import eventually
from tests.integration.cli_support import TOKEN, Api, Result, cli, finish, listen_gateway, serve_gateway, start_cli
from tests.integration.conftest import Stack
from tests.integration.fake_hub import FakeHub, hub_running, version
from tests.integration.gateway_support import write_model
from tests.integration.jobs_helpers import MiB, sparse_model


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err and not result.err.lstrip().startswith("{"), result.err


async def test_scan_then_hash_catalogues_the_files_and_ends_with_a_summary(stack: Stack, api: Api) -> None:
    for i in range(3):
        write_model(stack.model_root, f"sd/m{i}.safetensors", f"model {i}".encode() * 1000)

    scanned = await cli(api.url, "scan")
    assert scanned.code == 0, scanned.err
    assert scanned.out.strip().splitlines()[-1].startswith("scan job ") and "done" in scanned.out
    assert "found 3" in scanned.out and "registered 3" in scanned.out
    hashed = await cli(api.url, "hash", "--folder", str(stack.model_root / "sd"))
    assert hashed.code == 0, hashed.err
    last = hashed.out.strip().splitlines()[-1]
    assert last.startswith("hash job ") and " done" in last and "3/3 files" in last

    listed = await api.get("/api/models")
    assert sorted(m["name"] for m in listed["items"]) == ["m0", "m1", "m2"]


async def test_json_output_is_the_final_job(stack: Stack, api: Api) -> None:
    write_model(stack.model_root, "a.safetensors", b"a" * 4096)
    result = await cli(api.url, "--json", "scan")
    assert result.code == 0, result.err
    job = json.loads(result.out)
    assert job["kind"] == "scan" and job["state"] == "done" and job["result"]["registered"] == 1

    listed = json.loads((await cli(api.url, "jobs", "--json")).out)
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    shown = await cli(api.url, "jobs", "show", str(job["id"]))
    assert shown.code == 0 and "state:" in shown.out and "done" in shown.out


async def test_an_unreachable_api_exits_3_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = await cli(url, "jobs")
    assert result.code == 3
    assert f"cannot reach the ModelVault API at {url}" in result.err
    _no_traceback(result)


async def test_a_refused_request_exits_4_with_the_apis_message(stack: Stack, api: Api) -> None:
    result = await cli(api.url, "scan", "--folder", "relative/models")
    assert result.code == 4
    assert "'folder' must be an absolute path" in result.err
    _no_traceback(result)
    assert (await api.get("/api/jobs"))["total"] == 0  # nothing was started

    missing = await cli(api.url, "jobs", "show", "999")
    assert missing.code == 4 and "no job 999" in missing.err


async def test_a_folder_outside_the_roots_exits_4_and_starts_nothing(stack: Stack, api: Api) -> None:
    result = await cli(api.url, "scan", "--folder", "/etc")
    assert result.code == 4, result.err
    assert "'/etc' is outside the model roots" in result.err
    _no_traceback(result)
    assert (await api.get("/api/jobs"))["total"] == 0


async def _hash_job_running(stack: Stack, api: Api, **env: str) -> tuple[asyncio.subprocess.Process, dict]:
    """`modelvault hash` over three 2 GiB files, once its job is reading."""
    for i in range(3):
        path = sparse_model(stack.model_root, f"big{i}.safetensors", 2048 * MiB)
        async with api.session.post(api.url + "/api/models/pending", json={"path": str(path)}) as reply:
            assert reply.status == 201, await reply.text()
    process = await start_cli(api.url, "hash", **env)

    async def running_job() -> dict | None:
        jobs = (await api.get("/api/jobs"))["items"]
        return jobs[0] if jobs and jobs[0]["state"] == "running" else None

    job = await eventually(running_job, timeout=60, what="the CLI's hash job to run")
    await eventually(lambda: stack.hasher.servicer.reads_in_flight > 0, timeout=60, what="a read in flight")
    return process, job


async def test_a_followed_job_is_followed_across_a_gateway_restart(stack: Stack) -> None:
    runner, port = await listen_gateway(stack.app())
    async with aiohttp.ClientSession() as session:
        process, job = await _hash_job_running(stack, Api(f"http://127.0.0.1:{port}", session))
        # The gateway stops (its job ends interrupted, the command's stream breaks, its port refuses), then
        # starts again on the same port: the command finds the job there and reports how it ended.
        await runner.cleanup()
        runner, _ = await listen_gateway(stack.app(), port)
        try:
            result = await finish(process)
        finally:
            await runner.cleanup()
    assert result.code == 1, result.err
    assert f"hash job {job['id']} interrupted" in result.err and "cannot reach" not in result.err
    _no_traceback(result)


async def test_a_gateway_that_stays_away_is_unreachable_once_the_reconnect_time_is_over(stack: Stack) -> None:
    runner, port = await listen_gateway(stack.app())
    async with aiohttp.ClientSession() as session:
        process, _ = await _hash_job_running(stack, Api(f"http://127.0.0.1:{port}", session),
                                             MODELVAULT_RECONNECT_S="1")
        await runner.cleanup()
        result = await finish(process)
    assert result.code == 3, result.err
    assert f"cannot reach the ModelVault API at http://127.0.0.1:{port}" in result.err
    _no_traceback(result)


async def test_a_usage_error_exits_2(stack: Stack) -> None:
    result = await cli("http://127.0.0.1:9", "hash", "--limit", "zero")
    assert result.code == 2 and "not a whole number" in result.err


async def test_ctrl_c_cancels_the_running_hash_job_and_exits_130(stack: Stack, api: Api) -> None:
    for i in range(3):
        path = sparse_model(stack.model_root, f"big{i}.safetensors", 2048 * MiB)
        async with api.session.post(api.url + "/api/models/pending", json={"path": str(path)}) as reply:
            assert reply.status == 201, await reply.text()
    process = await start_cli(api.url, "hash")

    async def running_job() -> dict | None:
        jobs = (await api.get("/api/jobs"))["items"]
        return jobs[0] if jobs and jobs[0]["state"] == "running" else None

    job = await eventually(running_job, timeout=60, what="the CLI's hash job to run")
    await eventually(lambda: stack.hasher.servicer.reads_in_flight > 0, timeout=60, what="a read in flight")
    process.send_signal(signal.SIGINT)
    result = await finish(process)

    assert result.code == 130, result.err
    assert f"hash job {job['id']} cancelled" in result.err
    _no_traceback(result)
    assert (await api.get(f"/api/jobs/{job['id']}"))["state"] == "cancelled"


async def test_duplicates_shows_the_group_and_the_bytes_it_would_free(stack: Stack, api: Api) -> None:
    content = b"same weights" * 10_000
    first = write_model(stack.model_root, "a/model.safetensors", content)
    second = write_model(stack.model_root, "b/copy.safetensors", content)
    write_model(stack.model_root, "c/other.safetensors", b"other" * 100)
    assert (await cli(api.url, "scan")).code == 0
    assert (await cli(api.url, "hash")).code == 0

    result = await cli(api.url, "duplicates")
    assert result.code == 0, result.err
    assert str(first) in result.out and str(second) in result.out and "other" not in result.out
    # The short hash is AutoV2's ten digits, as on the page.
    assert f"{hashlib.sha256(content).hexdigest()[:10]}  2 copies of 117.2 KiB  frees 117.2 KiB" in result.out
    assert result.out.strip().splitlines()[-1] == (
        "1 group of duplicates; removing the extra copies would free 117.2 KiB")


async def test_import_runs_as_a_job_and_a_dry_run_writes_nothing(stack: Stack, api: Api) -> None:
    write_model(stack.model_root, "m.safetensors", b"m" * 1000)
    result = await cli(api.url, "import", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1].startswith("import job ")
    jobs = await cli(api.url, "--json", "jobs")
    assert [(job["kind"], job["params"]["dry_run"]) for job in json.loads(jobs.out)["items"]] == [("import", True)]


async def test_the_token_is_sent_and_a_missing_one_is_refused_in_words(stack: Stack) -> None:
    async for api in serve_gateway(stack.app(MODELVAULT_API_TOKEN=TOKEN)):
        refused = await cli(api.url, "jobs")
        assert refused.code == 4 and "token" in refused.err.lower()
        _no_traceback(refused)
        allowed = await cli(api.url, "jobs", MODELVAULT_API_TOKEN=TOKEN)
        assert allowed.code == 0, allowed.err
        assert "0 of 0 jobs" in allowed.out


async def test_hub_follows_its_job_and_says_what_the_hub_knew(stack: Stack) -> None:
    known = write_model(stack.model_root, "loras/ink.safetensors", b"ink" * 1000)
    write_model(stack.model_root, "loras/mine.safetensors", b"mine" * 1000)
    async with hub_running(FakeHub()) as hub:
        hub.versions = [version(hashlib.sha256(known.read_bytes()).hexdigest())]
        async for api in serve_gateway(stack.app(MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_REQUESTS_PER_S="1000")):
            assert (await cli(api.url, "scan")).code == 0 and (await cli(api.url, "hash")).code == 0
            result = await cli(api.url, "hub", "--folder", str(stack.model_root / "loras"))
            assert result.code == 0, result.err
            last = result.out.strip().splitlines()[-1]
            assert last.startswith("hub job ") and " done " in last and last.endswith("found 1, not found 1")
            again = await cli(api.url, "--json", "hub", "--refresh")
            job = json.loads(again.out)
            assert job["params"] == {"folder": "", "refresh": True} and job["result"]["found"] == 1
        assert len(hub.api_requests()) == 2


async def test_jobs_show_tells_who_started_the_job_what_it_did_and_each_problem(stack: Stack, api: Api) -> None:
    write_model(stack.model_root, "loras/a.safetensors", b"a" * 4096)
    broken = stack.model_root / "loras/a.preview.png"
    broken.write_bytes(b"this is no picture")
    scanned = json.loads((await cli(api.url, "--json", "scan")).out)
    assert scanned["started_by"] == "cli"

    shown = await cli(api.url, "jobs", "show", str(scanned["id"]))
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert "by:        the command line" in lines
    assert "did:       Found 1 file, 1 new, 1 problem." in lines
    assert any(line.startswith("took:") for line in lines)
    assert "1 problem:" in lines
    assert any(line.startswith(f"  {broken}: ") for line in lines)
