# syntax=docker/dockerfile:1
#
# source-polar: Airbyte source connector for Polar.sh, as an Airbyte connector image.
#
#   docker build -t registry.example.com/you/source-polar:0.6.0 .
#   docker run --rm registry.example.com/you/source-polar:0.6.0 spec
#   docker run --rm -v "$PWD/secrets:/secrets:ro" registry.example.com/you/source-polar:0.6.0 check --config /secrets/config.json
#
# The labels must stay equal to dockerRepository / dockerImageTag in metadata.yaml (and the tag to the
# version in Cargo.toml).

# Build and runtime stages use the same Debian release (bookworm), so the binary's glibc matches.
# The Rust version is at least the workspace's rust-version (Cargo.toml).
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /build
# The whole workspace as cargo needs it to resolve: the root package (its sources and the stream schemas it
# embeds with include_str!) and the second member, integration_tests/fake-polar (built into nothing here).
# The root manifest declares an e2e test target under integration_tests/e2e; cargo does not look for it when
# building the binary alone. `.dockerignore` keeps target/, .git and virtualenvs out of the context.
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
COPY schemas/ schemas/
COPY integration_tests/fake-polar/Cargo.toml integration_tests/fake-polar/Cargo.toml
COPY integration_tests/fake-polar/src/ integration_tests/fake-polar/src/
# The cache mounts keep downloaded crates and compiled dependencies between builds (BuildKit); the target
# directory is a cache mount too, so the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked -p source-polar --bin source-polar \
    && install -D -m 0755 target/release/source-polar /out/source-polar

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: the TLS trust store the connector verifies api.polar.sh against (unpinned on purpose:
# the newest trust store is the right one).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 airbyte \
    && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/airbyte --shell /usr/sbin/nologin airbyte
COPY --from=build /out/source-polar /usr/local/bin/source-polar
WORKDIR /home/airbyte
USER 1000
ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/source-polar"
ENTRYPOINT ["/usr/local/bin/source-polar"]
LABEL io.airbyte.name=airbyte/source-polar \
      io.airbyte.version=0.6.0 \
      org.opencontainers.image.title="source-polar" \
      org.opencontainers.image.description="Airbyte source connector for Polar.sh" \
      org.opencontainers.image.licenses="MIT"
