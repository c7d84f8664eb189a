"""`modelvault find` and the gateway the command line finds by itself, as a user runs them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

import asyncpg

from backend.util.config import PROJECT_ROOT
from tests.integration.cli_support import Api, Result, cli, cli_env, finish, listen_gateway
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_model


async def _catalogued(stack: Stack, api: Api, db: asyncpg.Connection) -> dict[str, str]:
    """Two hashed models, one of them named by the hub; file name -> sha256."""
    files = {"juggernautXL_v9.safetensors": b"checkpoint" * 3000, "mystery.safetensors": b"mystery" * 100}
    for name, content in files.items():
        write_model(stack.model_root, f"Stable-diffusion/{name}", content)
    assert (await cli(api.url, "scan")).code == 0
    assert (await cli(api.url, "hash")).code == 0
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    await db.executemany(
        "INSERT INTO model_metadata (sha256, field, value, source) VALUES ($1, $2, $3::jsonb, 'civitai')",
        [(hashes["juggernautXL_v9.safetensors"], field, json.dumps(value)) for field, value in
         (("model_name", "Juggernaut XL"), ("version_name", "v9"), ("model_type", "Checkpoint"),
          ("base_model", "SDXL 1.0"))])
    return hashes


async def test_find_shows_the_models_that_match_as_a_table(stack: Stack, api: Api, db: asyncpg.Connection) -> None:
    hashes = await _catalogued(stack, api, db)
    result = await cli(api.url, "find", "juggernaut xl")
    assert result.code == 0, result.err
    header, row, *_, last = result.out.strip().splitlines()
    assert header.split() == ["NAME", "TYPE", "BASE", "MODEL", "SIZE", "HASH", "PATH"]
    assert row.split()[:7] == ["Juggernaut", "XL", "v9", "checkpoint", "SDXL", "1.0", "29.3"]
    assert hashes["juggernautXL_v9.safetensors"][:10] in row.split() and row.endswith("juggernautXL_v9.safetensors")
    assert last == "1 of 1 model match 'juggernaut xl'"

    by_hash = await cli(api.url, "find", hashes["mystery.safetensors"][:10].upper())
    assert by_hash.code == 0 and "mystery" in by_hash.out and "juggernaut" not in by_hash.out.lower()
    assert by_hash.out.strip().splitlines()[1].split()[1:3] == ["unknown", "unknown"]
    nothing = await cli(api.url, "find", "no such model", "--model-type", "lora")
    assert (nothing.code, nothing.out.strip().splitlines()[-1]) == (0, "0 of 0 models match 'no such model'")
    listed = json.loads((await cli(api.url, "--json", "find", "stable-diffusion")).out)
    assert sorted(item["name"] for item in listed["items"]) == ["juggernautXL_v9", "mystery"]


async def test_a_misspelt_filter_is_refused_with_the_apis_words(stack: Stack, api: Api) -> None:
    result = await cli(api.url, "find", "x", "--model-type", "lo-ra")
    assert result.code == 4 and "'model_type'" in result.err and "Traceback" not in result.err


async def _without_url(*args: str, **env: str) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", *args, cwd=PROJECT_ROOT, env=cli_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return await finish(process)


async def test_the_command_line_finds_the_gateway_from_its_port_and_host_settings(stack: Stack) -> None:
    runner, port = await listen_gateway(stack.app())
    try:
        for host in ("127.0.0.1", "0.0.0.0", "localhost"):
            result = await _without_url("jobs", MODELVAULT_HTTP_PORT=str(port), MODELVAULT_HTTP_HOST=host)
            assert (result.code, result.out.strip().splitlines()[-1]) == (0, "0 of 0 jobs"), (host, result.err)
        elsewhere = await _without_url("jobs", MODELVAULT_HTTP_PORT=str(port), MODELVAULT_URL="http://127.0.0.1:9")
        assert elsewhere.code == 3 and "http://127.0.0.1:9" in elsewhere.err  # an explicit URL still wins
    finally:
        await runner.cleanup()
