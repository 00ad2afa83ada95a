# The reconciler as a long-running service: `reconciler serve` with /metrics and /healthz on 9464.
# Two stages: the builder turns the source into wheels; the runtime stage installs only those,
# so no compiler, build tool or source tree ships in the image.
# Base image pinned to an exact patch release; bump both stages together. Its Python is the
# Lambda runtime's (deploy/stateless_stack.py HANDLER_RUNTIME): the handler and the reconciler
# run on one interpreter version, the one the tests check against.

# RECONCILER_EXTRAS names the project's optional dependencies the image carries: `export` by
# default (DuckDB, about 65 MB, for `serve --from-export`); `--build-arg RECONCILER_EXTRAS=`
# builds the slim image, which recounts from live reads only.
ARG RECONCILER_EXTRAS=export

FROM python:3.12.8-slim-bookworm AS builder
ARG RECONCILER_EXTRAS
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
COPY alarms ./alarms
# The project wheel, then wheels of its runtime dependencies and of RECONCILER_EXTRAS only (no
# dev or deploy extras).
RUN pip wheel --no-deps --wheel-dir /dist . \
    && pip wheel --wheel-dir /wheels "$(echo /dist/*.whl)${RECONCILER_EXTRAS:+[$RECONCILER_EXTRAS]}"

FROM python:3.12.8-slim-bookworm AS runtime
ARG RECONCILER_EXTRAS
# OCI annotations: what the image is and where it came from (pyproject.toml's metadata).
LABEL org.opencontainers.image.title="attendee-counter-reconciler" \
      org.opencontainers.image.description="reconciler serve: keeps DynamoDB attendeeCount counters exact, with Prometheus metrics on 9464" \
      org.opencontainers.image.version="0.2.0" \
      org.opencontainers.image.licenses="LicenseRef-Proprietary" \
      org.opencontainers.image.source="https://github.com/attendee-counter/reconciler" \
      org.opencontainers.image.documentation="https://github.com/attendee-counter/reconciler/tree/main/docs" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12.8-slim-bookworm"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECONCILER_LOG_FORMAT=json
RUN groupadd --system --gid 10001 reconciler \
    && useradd --system --uid 10001 --gid reconciler --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin reconciler
COPY --from=builder /wheels /wheels
RUN pip install --no-index --find-links=/wheels \
       "$(echo /wheels/attendee_counter_reconciler-*.whl)${RECONCILER_EXTRAS:+[$RECONCILER_EXTRAS]}" \
    && rm -rf /wheels
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["reconciler"]
CMD ["serve"]
