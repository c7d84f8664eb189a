# One image, three commands (docker-compose.yml picks one per service):
#   python -m services.hasher | python -m services.images | python -m backend.server
# Builds with the classic builder too (Docker 20.10, no buildx): no `# syntax=`, COPY --chmod or RUN --mount.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# A folder of wheels inside the build context for an offline build (scripts/ci/setup-docker.sh fills
# scripts/ci/build/wheels); empty: install from the package index as usual.
ARG WHEELS=
WORKDIR /src
# `wheel[s]` matches nothing when the folder is absent (a user's checkout): the COPY still succeeds.
COPY pyproject.toml scripts/ci/build/wheel[s] /wheels/
# The pins live in pyproject.toml only. grpcio-tools goes into a throw-away venv that only generates code.
RUN python3 -c 'import tomllib; p = tomllib.load(open("/wheels/pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"]))' >/tmp/runtime.txt \
 && python3 -c 'import tomllib; p = tomllib.load(open("/wheels/pyproject.toml", "rb"))["project"]; \
print("\n".join(p["optional-dependencies"]["dev"]))' >/tmp/tools.txt \
 && if [ -n "$WHEELS" ]; then set -- --no-index --find-links /wheels; fi \
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
