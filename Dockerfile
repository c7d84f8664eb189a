# One image, three commands (docker-compose.yml picks one per service):
#   python -m services.hasher | python -m services.images | python -m backend.server
# Builds with the classic builder too (Docker 20.10, no buildx): no `# syntax=`, COPY --chmod or RUN --mount.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# For an offline build, the folder of wheels that scripts/ci/setup-docker.sh fills:
# WHEELS=scripts/ci/wheels. Empty: the package index, as usual.
ARG WHEELS=
WORKDIR /src
# The folder is in every checkout (its README at least), so this COPY works with or without wheels.
COPY pyproject.toml /src/
COPY scripts/ci/wheels/ /src/scripts/ci/wheels/
# The pins live in pyproject.toml only. grpcio-tools goes into a throw-away venv that only generates code.
RUN python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"]))' >/tmp/runtime.txt \
 && python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["optional-dependencies"]["dev"]))' >/tmp/tools.txt \
 && if [ -n "$WHEELS" ]; then \
        if [ ! -d "/src/$WHEELS" ]; then echo "WHEELS=$WHEELS: only scripts/ci/wheels is in the build" >&2; exit 1; fi; \
        set -- --no-index --find-links "/src/$WHEELS"; \
    fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check "$@" -r /tmp/runtime.txt \
 && python3 -m venv /opt/tools \
 && /opt/tools/bin/pip install --no-cache-dir --disable-pip-version-check "$@" -r /tmp/tools.txt
# Code generated here from the .proto files, so the image never depends on what a checkout holds.
COPY protos /src/protos
RUN /opt/tools/bin/python -m grpc_tools.protoc -I protos --python_out=protos --grpc_python_out=protos \
    $(find protos -name '*.proto')

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin modelvault \
 && mkdir -p /app /models /data/images/pending \
 && chown -R modelvault:modelvault /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/protos /app/protos
COPY backend /app/backend
COPY services /app/services
RUN /opt/venv/bin/python -m compileall -q /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/protos \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODELVAULT_MODEL_ROOTS=/models \
    MODELVAULT_DATA_DIR=/data
WORKDIR /app
USER modelvault
EXPOSE 8080 50051 50052
CMD ["python", "-m", "backend.server"]
