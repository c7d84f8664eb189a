"""Errors say what happened: a full disk is 507, an outage does not leak addresses, a log record is one line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import grpc

from backend.server.adapters.grpc_failures import failure
from backend.server.http.errors import ApiError, shown
from backend.server.jobs.failure import job_error
from backend.util.status_reasons import DISK_FULL, REASON_KEY

PROJECT = Path(__file__).resolve().parents[2]


def _rpc_error(code: grpc.StatusCode, details: str, *trailing: tuple[str, str]) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details=details)


def from_rpc_error(exc: grpc.aio.AioRpcError, service: str) -> ApiError:
    """What a client is answered when a call to service fails with exc."""
    return shown(failure(exc, service))


def test_a_full_disk_is_insufficient_storage_not_too_many_requests() -> None:
    full = _rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "no space left in the image store", (REASON_KEY, DISK_FULL))
    error = from_rpc_error(full, "images")
    assert (error.status, error.code) == (507, "insufficient_storage")


def test_resource_exhausted_without_the_image_services_word_is_no_full_disk() -> None:
    """gRPC's own limits say RESOURCE_EXHAUSTED too: a reply's metadata or a message over its size."""
    too_large = _rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "received trailing metadata size exceeds limit")
    for service in ("hasher", "images"):
        error = from_rpc_error(too_large, service)
        assert (error.status, error.code) == (502, "bad_gateway")
        assert f"the {service} service's answer" in error.message and "size limits" in error.message
    # Only the image service writes: a hasher claiming a full disk is not the previews' disk.
    claimed = _rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "no space", (REASON_KEY, DISK_FULL))
    assert from_rpc_error(claimed, "hasher").status == 502


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
