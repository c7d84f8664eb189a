"""Errors say what happened: a full disk is 507, an outage does not leak addresses, a log record is one line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import grpc

from backend.server.http.errors import from_rpc_error
from backend.server.jobs.failure import job_error

PROJECT = Path(__file__).resolve().parents[2]


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


def test_a_full_disk_is_insufficient_storage_not_too_many_requests() -> None:
    error = from_rpc_error(_rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "no space left in the image store"), "images")
    assert (error.status, error.code) == (507, "insufficient_storage")


def test_an_outage_names_the_service_but_not_its_address() -> None:
    details = "failed to connect to all addresses; last error: UNKNOWN: unix:/home/u/data/run/images.sock: refused"
    error = from_rpc_error(_rpc_error(grpc.StatusCode.UNAVAILABLE, details), "images")
    assert (error.status, error.message) == (503, "the images service is unavailable")
    late = from_rpc_error(_rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"), "hasher")
    assert (late.status, late.message) == (504, "the hasher service did not answer in time")


def test_a_newline_in_a_logged_file_name_does_not_forge_a_line(tmp_path: Path) -> None:
    program = (
        "import logging; from backend.util.startup import start_process; start_process('hasher'); "
        "logging.getLogger('t').info('hashed %s', '/m/a.safetensors\\n2026-01-01 hasher INFO forged: yes')"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(PROJECT), "MODELVAULT_MODEL_ROOTS": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].endswith("hashed /m/a.safetensors\\n2026-01-01 hasher INFO forged: yes")


async def test_a_job_whose_database_cannot_be_reached_names_the_database_but_not_its_address() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=10)
    except OSError as exc:
        error = job_error(exc)
    assert (error.code, error.message) == (
        "database_unavailable", "PostgreSQL stopped answering: ConnectionRefusedError: Connection refused")
