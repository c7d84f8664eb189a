# shellcheck shell=bash
# Sourced, not run: the local image tags that setup-docker.sh builds, and the variables that make
# docker compose and testcontainers use them on a machine with no container registry.
# A user with a registry needs none of this: the compose defaults (python:3.11-slim, postgres:17) apply.

# The Debian root file system made with mmdebstrap, and the two images built on it.
export MODELVAULT_CI_DEBIAN_IMAGE="${MODELVAULT_CI_DEBIAN_IMAGE:-modelvault-ci/debian:bookworm}"
export BASE_IMAGE="${BASE_IMAGE:-modelvault-ci/python:3.11-bookworm}"
export POSTGRES_IMAGE="${POSTGRES_IMAGE:-modelvault-ci/postgres:15-bookworm}"
# Local tags must never be looked up in a registry.
export POSTGRES_PULL_POLICY="${POSTGRES_PULL_POLICY:-never}"
# Wheels downloaded on the host, inside the build context (Dockerfile: ARG WHEELS).
export MODELVAULT_WHEELS="${MODELVAULT_WHEELS:-scripts/ci/wheels}"

# testcontainers: Ryuk's image cannot be pulled, and the engine is reached on this machine.
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_CONNECTION_MODE=docker_host
export TC_HOST=127.0.0.1
