# Seatbot's container image: the wheel on a slim Python, run as a non-root user.
#
#   docker build -t seatbot .                (or: podman build --format docker -t seatbot .)
#   docker run -p 3000:3000 --env-file seatbot.env seatbot
#
# The entry point is `seatbot`; the default command `serve` (migrations, then HTTP on $PORT).
# Other commands run the same way: `docker run --env-file seatbot.env seatbot check`.
# See "Running in production" in README.md for the environment and the deployment.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the seatbot wheel and the wheels of everything it depends on
FROM ${PYTHON_IMAGE} AS build
# Only for builds behind a package mirror or a TLS-inspecting proxy (unset: PyPI as usual).
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_CERT
WORKDIR /src
COPY pyproject.toml README.md ./
COPY billing ./billing
COPY bot ./bot
COPY handlers ./handlers
COPY platforms ./platforms
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --quiet --upgrade pip \
    && /opt/build/bin/pip wheel --no-cache-dir --quiet --wheel-dir /wheels .

# ---- run: the wheels installed into a virtual environment, nothing else
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/seatbot/bin:$PATH \
    PORT=3000 \
    SEATBOT_LOG_FORMAT=json
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/seatbot --create-home \
        --shell /usr/sbin/nologin seatbot
COPY --from=build /wheels /tmp/wheels
RUN python3 -m venv /opt/seatbot \
    && /opt/seatbot/bin/pip install --no-cache-dir --quiet --no-index --find-links /tmp/wheels seatbot \
    && rm -rf /tmp/wheels
USER seatbot
# SQLite (the default DATABASE_URL) would keep its file here; production uses PostgreSQL.
WORKDIR /var/lib/seatbot
EXPOSE 3000
# Liveness: the process answers. Readiness (database, schema, scheduler) is GET /readyz,
# for the load balancer or the orchestrator's readiness probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=2)"]
# SIGTERM: stop taking requests, finish those in flight, exit 0 (SEATBOT_SHUTDOWN_* settings).
STOPSIGNAL SIGTERM
ENTRYPOINT ["seatbot"]
CMD ["serve"]
