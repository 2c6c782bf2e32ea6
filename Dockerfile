# syntax=docker/dockerfile:1
# crm-complaints as an image for Kubernetes and other schedulers: the wheel is built from this
# checkout (crm-complaints is not on a package index), installed with the PostgreSQL driver
# into a slim Python, and run as an unprivileged user. Build from the repository's root:
#   docker build -t crm-complaints:0.1.0 .
# `make test` builds and runs the same wheel in a fresh virtual environment.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --disable-pip-version-check build==1.2.2.post1 \
 && python -m build --wheel --outdir /dist .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="crm-complaints" \
      org.opencontainers.image.description="Normalize clinic complaints, plan who acts by when, and sync them into a CRM."
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist /dist
# One wheel, with the postgres extra (psycopg) for a shared state.url; then the wheel goes.
# DL3013: the package installed is this checkout's own wheel file, not a name to pin.
# hadolint ignore=DL3013
RUN set -eu; wheel="$(ls /dist/crm_complaints-*.whl)"; \
    pip install "${wheel}[postgres]" && rm -rf /dist \
 && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin crm
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["crm-complaints"]
CMD ["--help"]
