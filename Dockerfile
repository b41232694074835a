# syntax=docker/dockerfile:1
#
# apify-webhook-exporter container image.
#
#   docker build -t apify-webhook-exporter --build-arg REVISION="$(git rev-parse --short=12 HEAD)" .
#   docker run --rm -p 9723:9723 -e APIFY_TOKEN=... apify-webhook-exporter
#   docker run --rm -p 9723:9723 apify-webhook-exporter --demo
#
# Needs BuildKit (the syntax line above, and RUN --mount below): the default
# of `docker build` since Docker 23 and of `docker compose` (v2). The old
# builder stops at `--mount`; with it, or with docker-compose 1.x, set
# DOCKER_BUILDKIT=1 (and COMPOSE_DOCKER_CLI_BUILD=1 for docker-compose 1.x).
#
# Build stage: the release binary, with the dependency registry and the target
# directory in BuildKit caches so that rebuilds after a source change are fast.
FROM rust:1-slim-bookworm AS build
ARG REVISION=unknown
# build.rs bakes this into --version and apify_exporter_build_info (no .git
# in the context); compose passes it from $REVISION.
ENV APIFY_EXPORTER_REVISION=${REVISION}
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/apify-webhook-exporter /out/apify-webhook-exporter \
    && install -d -m 0750 /out/state

# Runtime stage: glibc, libgcc and CA certificates, no shell, no package
# manager; runs as the image's unprivileged "nonroot" user (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
ARG REVISION=unknown
LABEL org.opencontainers.image.title="apify-webhook-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Apify webhook dispatches" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/apify-webhook-exporter /usr/local/bin/apify-webhook-exporter
# The state directory must belong to the user the exporter runs as.
COPY --from=build --chown=65532:65532 /out/state /var/lib/apify-webhook-exporter
ENV APIFY_EXPORTER_LISTEN=0.0.0.0:9723 \
    APIFY_EXPORTER_STATE_FILE=/var/lib/apify-webhook-exporter/state.json
USER 65532:65532
VOLUME ["/var/lib/apify-webhook-exporter"]
EXPOSE 9723
# No curl in the image: the exporter checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/apify-webhook-exporter", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/apify-webhook-exporter"]
