"""A folder is one folder however it is spelled: the one-job-per-folder rule, a job's params and the roots check."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from backend.server.jobs.control import JobRunningError
from backend.server.keys import JOB_RUNNER
from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of
from tests.integration.jobs_helpers import MiB, register, sparse_model


async def test_every_spelling_of_the_library_is_one_folder_for_the_409_rule(
    stack: Stack, gateway: TestClient
) -> None:
    await register(gateway, [sparse_model(stack.model_root, f"big{i}.safetensors", 1024 * MiB) for i in range(4)])
    root = str(stack.model_root)
    first = await (await gateway.post("/api/jobs", json={"kind": "hash", "folder": "/" + root})).json()
    try:
        for folder in ("", root, "/" + root, root + "/", root + "/./", root + "//.", root + "/sub/.."):
            reply = await gateway.post("/api/jobs", json={"kind": "hash", "folder": folder})
            body = await reply.json()
            assert (reply.status, body["error"]["code"], body["error"]["job_id"]) == (409, "job_running",
                                                                                       first["id"]), folder
        # The watcher starts its jobs with a folder of its own spelling, past the API: the same rule holds.
        try:
            await gateway.app[JOB_RUNNER].start("hash", {"folder": root, "limit": 10})
        except JobRunningError as exc:
            assert exc.job_id == first["id"]
        else:
            raise AssertionError("a second hash job over the whole library started")
    finally:
        await gateway.post(f"/api/jobs/{first['id']}/cancel")


async def test_a_job_keeps_its_folder_in_one_spelling(stack: Stack, gateway: TestClient) -> None:
    (stack.model_root / "loras").mkdir()
    reply = await gateway.post("/api/jobs", json={"kind": "scan", "folder": f"/{stack.model_root}//loras/./"})
    assert reply.status == 202, await reply.text()
    assert (await reply.json())["params"]["folder"] == f"{stack.model_root}/loras"


async def test_a_folder_named_through_a_symlink_to_the_root_is_the_roots(stack: Stack, gateway: TestClient) -> None:
    """The roots are resolved at start: a folder named the way the user knows them is the same folder."""
    (stack.model_root / "loras").mkdir()
    link = stack.model_root.parent / "my-models"
    link.symlink_to(stack.model_root)
    reply = await gateway.post("/api/jobs", json={"kind": "scan", "folder": f"{link}/loras"})
    assert reply.status == 202, await reply.text()
    assert (await reply.json())["params"]["folder"] == f"{stack.model_root}/loras"
    escape = stack.model_root / "escape"
    escape.symlink_to("/etc")
    assert await error_of(await gateway.post("/api/jobs", json={"kind": "scan", "folder": str(escape)})) == (
        403, "permission_denied")


async def test_a_folder_outside_the_roots_is_refused_before_a_job_starts(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    for folder in ("/etc", "//etc", f"{stack.model_root}/../elsewhere", f"{stack.model_root}-sibling"):
        for body in ({"kind": "scan", "folder": folder}, {"kind": "hash", "folder": folder},
                     {"kind": "import", "folder": folder}):
            reply = await gateway.post("/api/jobs", json=body)
            assert await error_of(reply) == (403, "permission_denied"), body
            assert "outside the model roots" in (await reply.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
