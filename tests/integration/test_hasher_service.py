"""The hasher over real gRPC on port 0, real files and real worker processes: digests, errors, coalescing, cancels."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.hasher.hashing import WORKER_NICENESS
from services.hasher.server import HasherService, build_service
from tests.conftest import make_config

MiB = 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parents[2]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Long enough to take seconds to hash (zeros hash as fast as anything), so a stopped worker is told apart
# from a finished one; sparse, so it costs no disk and no time to create.
SLOW_SIZE = 8 * 1024 * MiB


@dataclass
class Hasher:
    service: HasherService
    channel: grpc.aio.Channel
    stub: hasher_pb2_grpc.HasherServiceStub

    @property
    def pool(self):
        return self.service.servicer.pool

    @property
    def coalescer(self):
        return self.service.servicer.coalescer


StartHasher = Callable[..., Awaitable[Hasher]]


def write_random(path: Path, size: int) -> str:
    """Real, incompressible content (every 1 MiB block different) without paying for os.urandom(size)."""
    sha = hashlib.sha256()
    block = bytearray(os.urandom(MiB))
    with open(path, "wb") as f:
        for index, start in enumerate(range(0, size, MiB)):
            block[:8] = index.to_bytes(8, "little")
            chunk = memoryview(block)[: min(MiB, size - start)]
            f.write(chunk)
            sha.update(chunk)
    return sha.hexdigest()


def make_sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def file_key(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared_models").resolve()


@pytest.fixture(scope="module")
def big_file(shared_root: Path) -> tuple[Path, str]:
    path = shared_root / "big.safetensors"
    return path, write_random(path, 300 * MiB)


@pytest.fixture
async def start_hasher(model_root: Path, data_dir: Path, shared_root: Path) -> AsyncIterator[StartHasher]:
    services: list[HasherService] = []
    channels: list[grpc.aio.Channel] = []

    async def start(**env: str) -> Hasher:
        service = build_service(make_config([model_root, shared_root], data_dir, **env))
        services.append(service)
        port = await service.start()
        channels.append(channel := grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        return Hasher(service, channel, hasher_pb2_grpc.HasherServiceStub(channel))

    yield start
    for channel in channels:
        await channel.close()
    for service in services:
        await service.stop(grace=0.5)
        service.servicer.close()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def first_progress(call) -> int:
    """Read a HashStream until the worker reports bytes read; proves it is busy on that file."""
    async for message in call:
        assert message.WhichOneof("event") == "progress"
        if message.progress.bytes_done > 0:
            return message.progress.bytes_done
    raise AssertionError("stream ended before any progress")


# ---- digests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, MiB - 1, MiB + 1])
async def test_digest_equals_hashlib_and_identity_equals_stat(start_hasher, model_root: Path, size: int):
    path = model_root / "sub" / f"model_{size}.safetensors"
    path.parent.mkdir()
    expected = write_random(path, size)
    hasher = await start_hasher()

    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    stat_reply = await hasher.stub.Stat(hasher_pb2.StatRequest(path=str(path)))

    assert reply.digest.sha256 == expected
    assert not reply.digest.shadow
    st = os.stat(path)
    identity = reply.digest.identity
    assert (identity.size, identity.mtime_ns, identity.inode, identity.device) == (
        size, st.st_mtime_ns, st.st_ino, st.st_dev)
    assert identity.resolved_path == str(path)
    assert identity.relative_path == f"sub/model_{size}.safetensors"
    assert identity.model_root == str(model_root)
    assert stat_reply.identity == identity
    if size == MiB + 1:
        openssl = subprocess.run(["openssl", "dgst", "-sha256", "-r", str(path)], capture_output=True, text=True)
        assert openssl.stdout.split()[0] == expected


async def test_big_file_streams_progress_then_digest(start_hasher, big_file):
    path, expected = big_file
    hasher = await start_hasher()

    messages = [m async for m in hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))]

    *progress, last = messages
    assert last.WhichOneof("event") == "digest"
    assert last.digest.sha256 == expected
    assert last.digest.identity.size == 300 * MiB
    assert progress and all(m.WhichOneof("event") == "progress" for m in progress)
    done = [m.progress.bytes_done for m in progress]
    assert done == sorted(done) and done[-1] <= 300 * MiB
    assert {m.progress.bytes_total for m in progress} == {300 * MiB}
    # The same file through the unary call, and a symlink to it inside the root: same digest.
    link = path.parent / "link.safetensors"
    link.unlink(missing_ok=True)
    link.symlink_to(path)
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(link)))
    assert reply.digest.sha256 == expected
    assert reply.digest.identity.resolved_path == str(path)


# ---- bad paths -----------------------------------------------------------------------------------


def _bad_path(kind: str, model_root: Path, tmp_path: Path) -> str:
    if kind == "outside":
        outside = tmp_path / "outside.safetensors"
        outside.write_bytes(b"x")
        return str(outside)
    if kind == "symlink_to_dev_zero":
        (model_root / "zero.safetensors").symlink_to("/dev/zero")
        return str(model_root / "zero.safetensors")
    if kind == "missing":
        return str(model_root / "missing.safetensors")
    if kind == "directory":
        (model_root / "folder").mkdir()
        return str(model_root / "folder")
    if kind == "fifo":
        os.mkfifo(model_root / "pipe.safetensors")
        return str(model_root / "pipe.safetensors")
    if kind == "device":
        try:
            os.mknod(model_root / "null.safetensors", 0o600 | 0o020000, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("creating a device node needs root")
        return str(model_root / "null.safetensors")
    if kind == "relative":
        return "models/model.safetensors"
    if kind == "empty":
        return ""
    if kind == "nul":
        return str(model_root / "a\x00b")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "code", "words"),
    [
        ("outside", grpc.StatusCode.PERMISSION_DENIED, "outside the model roots"),
        ("symlink_to_dev_zero", grpc.StatusCode.PERMISSION_DENIED, "outside the model roots"),
        ("missing", grpc.StatusCode.NOT_FOUND, "no such file"),
        ("directory", grpc.StatusCode.INVALID_ARGUMENT, "is a directory"),
        ("fifo", grpc.StatusCode.INVALID_ARGUMENT, "is a FIFO"),
        ("device", grpc.StatusCode.INVALID_ARGUMENT, "is a device"),
        ("relative", grpc.StatusCode.INVALID_ARGUMENT, "must be absolute"),
        ("empty", grpc.StatusCode.INVALID_ARGUMENT, "non-empty"),
        ("nul", grpc.StatusCode.INVALID_ARGUMENT, "NUL"),
    ],
)
async def test_bad_path_gives_a_clear_status_on_every_rpc(
    start_hasher, model_root: Path, tmp_path: Path, kind: str, code: grpc.StatusCode, words: str
):
    path = _bad_path(kind, model_root, tmp_path)
    hasher = await start_hasher()
    calls = {
        "Stat": lambda: hasher.stub.Stat(hasher_pb2.StatRequest(path=path), timeout=5),
        "Hash": lambda: hasher.stub.Hash(hasher_pb2.HashRequest(path=path), timeout=5),
        "HashStream": lambda: _drain(hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=path), timeout=5)),
    }
    for name, call in calls.items():
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call()
        assert caught.value.code() == code, name
        assert words in caught.value.details(), name
        assert time.monotonic() - started < 2, name
    assert hasher.pool.submissions == 0
    if kind == "fifo":
        # Opening the write end without blocking fails with ENXIO exactly when no reader has the FIFO open.
        with pytest.raises(OSError) as nobody_reads:
            os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        assert nobody_reads.value.errno == errno.ENXIO


async def _drain(call) -> list:
    return [message async for message in call]


async def test_malformed_known_sha256_is_invalid(start_hasher, model_root: Path):
    path = model_root / "model.safetensors"
    path.write_bytes(b"weights")
    hasher = await start_hasher()
    for bad in ("abc", "g" * 64, "a" * 65):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path), known_sha256=bad))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "known_sha256 must be 64 hex digits" in caught.value.details()


# ---- coalescing and cancellation -----------------------------------------------------------------


async def test_concurrent_calls_for_one_file_share_one_computation(start_hasher, big_file):
    path, expected = big_file
    link = path.parent / "alias.safetensors"
    link.unlink(missing_ok=True)
    link.symlink_to(path)
    hasher = await start_hasher()

    unary = [hasher.stub.Hash(hasher_pb2.HashRequest(path=str(p))) for p in [path] * 5 + [link]]
    streams = [_drain(hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))) for _ in range(2)]
    results = await asyncio.gather(*unary, *streams)

    digests = [r.digest.sha256 for r in results[:6]] + [r[-1].digest.sha256 for r in results[6:]]
    assert digests == [expected] * 8
    assert hasher.coalescer.started == 1
    assert hasher.pool.submissions == 1
    # Nothing is cached once the computation ends: the next call reads the file again.
    await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    assert hasher.pool.submissions == 2


async def test_one_caller_leaving_does_not_stop_the_others(start_hasher, big_file):
    path, expected = big_file
    hasher = await start_hasher()
    leaving = hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(path)))
    await leaving.read()
    staying = asyncio.ensure_future(hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path))))
    await wait_for(lambda: hasher.coalescer.waiters(file_key(path)) == 2)

    leaving.cancel()

    assert (await staying).digest.sha256 == expected
    assert hasher.coalescer.started == 1
    assert hasher.pool.cancellations == 0


async def test_cancelled_call_frees_the_worker(start_hasher, shared_root: Path, model_root: Path):
    slow = make_sparse(shared_root / "slow_cancel.safetensors", SLOW_SIZE)
    small = model_root / "small.safetensors"
    expected = write_random(small, 3 * MiB)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    calls = [hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(slow))) for _ in range(2)]
    first = await first_progress(calls[0])
    second = await first_progress(calls[1])
    assert 0 < first < SLOW_SIZE and 0 < second < SLOW_SIZE

    for call in calls:
        call.cancel()
    started = time.monotonic()
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(small)), timeout=10)

    assert time.monotonic() - started < 2.0
    assert reply.digest.sha256 == expected
    assert hasher.pool.submissions == 2
    assert hasher.pool.cancellations == 1


async def test_timed_out_call_frees_the_worker(start_hasher, shared_root: Path, model_root: Path):
    slow = make_sparse(shared_root / "slow_deadline.safetensors", SLOW_SIZE)
    small = model_root / "small.safetensors"
    small.write_bytes(b"tiny model")
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(slow)), timeout=0.7)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    started = time.monotonic()
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(small)), timeout=10)

    assert time.monotonic() - started < 2.0
    assert reply.digest.sha256 == hashlib.sha256(b"tiny model").hexdigest()
    await wait_for(lambda: hasher.pool.cancellations == 1, timeout=2)


# ---- files that change ---------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["append", "truncate", "touch"])
async def test_file_changed_while_hashing_is_aborted(start_hasher, model_root: Path, change: str):
    path = model_root / "changing.safetensors"
    write_random(path, 128 * MiB)
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    call = asyncio.ensure_future(hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path))))
    await wait_for(lambda: (job := hasher.coalescer.job(file_key(path))) is not None and job.bytes_done > 0)
    job = hasher.coalescer.job(file_key(path))
    # The worker is frozen mid-file, so the change surely lands between its first and its last block.
    workers = hasher.pool.worker_pids()
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        assert 0 < job.bytes_done < 128 * MiB
        if change == "append":
            with open(path, "ab") as f:
                f.write(b"more weights")
        elif change == "truncate":
            os.truncate(path, 64 * MiB)
        else:
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert "file changed while hashing" in caught.value.details()


async def test_file_changed_between_check_and_read_is_aborted(start_hasher, shared_root: Path, model_root: Path):
    slow = make_sparse(shared_root / "slow_busy.safetensors", SLOW_SIZE)
    path = model_root / "waiting.safetensors"
    path.write_bytes(b"version 1")
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    busy = hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(slow)))
    await first_progress(busy)
    waiting = asyncio.ensure_future(hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path))))
    await wait_for(lambda: hasher.coalescer.waiters(file_key(path)) == 1)

    path.write_bytes(b"version 2, longer")
    busy.cancel()

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await waiting
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert "file changed before hashing" in caught.value.details()


async def test_killed_worker_gives_unavailable_and_the_pool_recovers(start_hasher, shared_root: Path, model_root: Path):
    slow = make_sparse(shared_root / "slow_kill.safetensors", SLOW_SIZE)
    small = model_root / "small.safetensors"
    small.write_bytes(b"after the crash")
    hasher = await start_hasher(MODELVAULT_HASHER_WORKERS="1")
    call = hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(slow)))
    await first_progress(call)

    for pid in hasher.pool.worker_pids():
        os.kill(pid, signal.SIGKILL)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _drain(call)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    reply = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(small)), timeout=10)
    assert reply.digest.sha256 == hashlib.sha256(b"after the crash").hexdigest()


# ---- dev mode ------------------------------------------------------------------------------------


async def test_dev_mode_answers_shadow_files_without_reading(start_hasher, model_root: Path):
    (model_root / "loras").mkdir()
    shadow = model_root / "loras" / "shadow_anime.safetensors"
    shadow.touch()
    real = model_root / "loras" / "shadow_real.safetensors"
    real.write_bytes(b"not empty: a real model")
    plain_empty = model_root / "loras" / "empty.safetensors"
    plain_empty.touch()
    known = hashlib.sha256(b"the database's hash").hexdigest()
    hasher = await start_hasher(MODELVAULT_DEV="1")

    by_path = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shadow)))
    by_known = await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shadow), known_sha256=known.upper()))
    streamed = await _drain(hasher.stub.HashStream(hasher_pb2.HashStreamRequest(path=str(shadow))))
    assert hasher.pool.submissions == 0

    assert by_path.digest.sha256 == hashlib.sha256(b"loras/shadow_anime.safetensors").hexdigest()
    assert by_path.digest.shadow
    assert by_path.digest.identity.relative_path == "loras/shadow_anime.safetensors"
    assert (by_known.digest.sha256, by_known.digest.shadow) == (known, True)
    assert [m.WhichOneof("event") for m in streamed] == ["digest"]
    assert streamed[0].digest == by_path.digest
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(shadow), known_sha256="xyz"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    not_shadows = [
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(real), known_sha256=known)),
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(plain_empty), known_sha256=known)),
    ]
    assert [(r.digest.sha256, r.digest.shadow) for r in not_shadows] == [
        (hashlib.sha256(b"not empty: a real model").hexdigest(), False),
        (EMPTY_SHA256, False),
    ]


async def test_without_dev_mode_a_shadow_file_is_really_read(start_hasher, model_root: Path):
    shadow = model_root / "shadow_anime.safetensors"
    shadow.touch()
    hasher = await start_hasher()

    reply = await hasher.stub.Hash(
        hasher_pb2.HashRequest(path=str(shadow), known_sha256=hashlib.sha256(b"db").hexdigest())
    )

    assert (reply.digest.sha256, reply.digest.shadow) == (EMPTY_SHA256, False)
    assert hasher.pool.submissions == 1


# ---- the process as a user runs it ---------------------------------------------------------------


async def _run_hasher(env: dict[str, str], user: list[str] | None = None) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        *(user or []), sys.executable, "-m", "services.hasher",
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
    assert line.startswith(b"LISTENING "), line
    return process, int(line.split()[1])


def _env(model_root: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "protos")]),
        "MODELVAULT_MODEL_ROOTS": str(model_root),
        "MODELVAULT_DATA_DIR": str(data_dir),
        "MODELVAULT_HASHER_LISTEN": "127.0.0.1:0",
        "MODELVAULT_HASHER_WORKERS": "1",
        **extra,
    }


async def test_python_m_services_hasher_serves_and_stops_on_sigterm(model_root: Path, data_dir: Path):
    path = model_root / "model.safetensors"
    path.write_bytes(b"weights")
    process, port = await _run_hasher(_env(model_root, data_dir))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            reply = await hasher_pb2_grpc.HasherServiceStub(channel).Hash(
                hasher_pb2.HashRequest(path=str(path)), timeout=10
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert reply.digest.sha256 == hashlib.sha256(b"weights").hexdigest()

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
        stderr = (await process.stderr.read()).decode()
        assert "Traceback" not in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_unreadable_file_is_permission_denied(model_root: Path, data_dir: Path):
    # Root reads everything: as root, the service runs without the capabilities that bypass file modes.
    user = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search"
        user = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]
    locked = model_root / "locked.safetensors"
    locked.write_bytes(b"secret weights")
    locked.chmod(0o000)
    process, port = await _run_hasher(_env(model_root, data_dir), user)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = hasher_pb2_grpc.HasherServiceStub(channel)
            stat_reply = await stub.Stat(hasher_pb2.StatRequest(path=str(locked)), timeout=10)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Hash(hasher_pb2.HashRequest(path=str(locked)), timeout=10)
        assert stat_reply.identity.size == len(b"secret weights")
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "permission denied" in caught.value.details()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0



async def test_each_computed_digest_is_logged_once(start_hasher, model_root: Path, caplog) -> None:
    path = model_root / "logged.safetensors"
    path.write_bytes(b"log me")
    hasher = await start_hasher()
    with caplog.at_level("INFO", logger="services.hasher.pool"):
        await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hashed ")]
    assert len(lines) == 1 and lines[0].startswith(f"hashed {path} (6 bytes")


async def test_workers_run_at_a_lower_priority_than_the_service(start_hasher, model_root: Path) -> None:
    path = model_root / "nice.safetensors"
    path.write_bytes(b"x")
    hasher = await start_hasher()
    await hasher.stub.Hash(hasher_pb2.HashRequest(path=str(path)))
    expected = {min(os.nice(0) + WORKER_NICENESS, 19)}
    pids = hasher.service.servicer.pool.worker_pids()
    assert len(pids) == 2
    # A worker still starting has not run its initializer yet.
    await wait_for(lambda: {psutil.Process(pid).nice() for pid in pids} == expected)


async def test_list_models_finds_model_files_and_their_previews(start_hasher, model_root: Path, tmp_path: Path):
    (model_root / "loras/style").mkdir(parents=True)
    (model_root / ".cache").mkdir()
    for name in ("loras/style/ink.safetensors", "loras/style/ink.preview.png", "loras/style/ink.png",
                 "ckpt.ckpt", "ckpt.jpg", "notes.txt", ".cache/hidden.safetensors", "vae.gguf"):
        (model_root / name).write_bytes(b"x")
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"o")
    (model_root / "escape.safetensors").symlink_to(outside)
    (model_root / "alias.safetensors").symlink_to(model_root / "vae.gguf")
    os.mkfifo(model_root / "pipe.safetensors")
    hasher = await start_hasher()

    replies = [reply async for reply in hasher.stub.ListModels(hasher_pb2.ListModelsRequest())]
    found = {
        relative: Path(preview).name if preview else None
        for reply in replies
        for relative, root, preview in zip(reply.models.relative_path, reply.models.model_root,
                                           reply.models.preview_path, strict=True)
        if root == str(model_root)  # the fixture's second root holds other tests' files
    }
    assert found == {"ckpt.ckpt": "ckpt.jpg", "loras/style/ink.safetensors": "ink.preview.png", "vae.gguf": None}
    assert str(model_root) in replies[0].scope

    inside = [reply async for reply in hasher.stub.ListModels(
        hasher_pb2.ListModelsRequest(folder=str(model_root / "loras")))]
    assert [path for reply in inside for path in reply.models.relative_path] == ["loras/style/ink.safetensors"]
    assert list(inside[0].scope) == [str(model_root / "loras")]
    for folder, code in ((str(tmp_path), grpc.StatusCode.PERMISSION_DENIED),
                         (str(model_root / "nope"), grpc.StatusCode.NOT_FOUND),
                         (str(model_root / "vae.gguf"), grpc.StatusCode.INVALID_ARGUMENT),
                         ("relative", grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [r async for r in hasher.stub.ListModels(hasher_pb2.ListModelsRequest(folder=folder))]
        assert caught.value.code() == code, folder
