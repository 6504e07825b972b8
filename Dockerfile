# syntax=docker/dockerfile:1
#
# One image for every Python service in docker-compose.yml: the one-shot migration, the LRS
# API, the stream worker and the three Dagster processes (code server, webserver, daemon).
# The compose `command:` picks the role; the image itself only knows how to run Python.
#
# Two stages so the runtime image carries the installed virtualenv but no build leftovers.
# Both stages use the same base, so the venv's interpreter path (/usr/local/bin/python3.11)
# is valid in the second one.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# pyproject.toml names README.md as the readme, so the build needs it.
COPY pyproject.toml README.md requirements.lock ./
COPY schemas ./schemas
COPY warehouse ./warehouse
COPY stream ./stream
COPY pipelines ./pipelines
COPY dagster_project ./dagster_project

# `stack` is the extra with everything that talks to the outside world (faust-streaming,
# aiokafka, kafka-python, clickhouse-connect, dagster, fastapi/uvicorn, and for the LRS:
# SQLAlchemy + psycopg2 for its SQL store, PyJWT + cryptography for signed statements, fsspec
# for attachments); `s3` adds s3fs, for the attachment bucket (BLOB_URL=s3://...).
# dagster-postgres backs Dagster's run/event/schedule storage (deploy/dagster/dagster.yaml).
# It pins dagster exactly (0.29.N requires dagster==1.13.N), so the pair moves together with
# the dagster of requirements.lock (tests/unit/test_lock.py checks they agree). Every other
# version comes from requirements.lock, as for `make install`.
ARG DAGSTER_POSTGRES_VERSION=0.29.27
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -c requirements.lock ".[stack,s3]" "dagster-postgres==${DAGSTER_POSTGRES_VERSION}"

# chDB (the embedded engine, ~535 MB, and pandas/pyarrow/numpy that only it needs, ~330 MB more)
# comes in through clickhouse-connect[chdb] in `stack`; the image always talks to a ClickHouse
# server (CLICKHOUSE_URL=http://...), so it goes. pip check fails the build if anything still
# installed needs what was removed; the imports prove every role still loads without it.
RUN pip uninstall --yes chdb chdb-core pandas pyarrow numpy \
    && pip check \
    && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('chdb') is not None)" \
    && cd / && python -c "import pipelines.lrs.app, stream.transport, warehouse.sqlstore, dagster_project.definitions, psycopg2, jwt, cryptography, fsspec, s3fs"


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home

# Non-root: a fixed uid so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 lrp \
    && useradd --system --uid 10001 --gid lrp --home-dir /srv/lrp --create-home lrp

COPY --from=build /opt/venv /opt/venv

# Dagster instance and workspace. storage/ is a volume in compose (shared by the code server,
# where runs execute under DefaultRunLauncher, and the webserver, which shows their logs);
# creating it here owned by lrp makes the named volume start out writable.
COPY deploy/dagster/dagster.yaml deploy/dagster/workspace.yaml /opt/dagster/dagster_home/
RUN mkdir -p /opt/dagster/dagster_home/storage \
    && chown -R lrp:lrp /opt/dagster/dagster_home

# Faust keeps its local table state in the working directory, so it must be writable.
WORKDIR /srv/lrp
USER lrp

# 8080 LRS API, 4000 Dagster code server, 3000 Dagster webserver.
EXPOSE 8080 4000 3000

CMD ["python", "-m", "pipelines", "--help"]
