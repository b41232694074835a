#!/usr/bin/env bash
# End-to-end test: the exporter, the crate's fake Apify API
# (examples/fake_api), a real Prometheus with the bundled rules, a real
# Alertmanager with its webhook, Slack and e-mail receivers, and a second
# exporter (an HA pair), all on 127.0.0.1 (see scripts/e2e.py
# for what it proves). Installs Prometheus and Alertmanager when missing and
# builds the exporter and the fake when EXPORTER_BIN or FAKE_API_BIN is not
# given. Bounded: the test itself gives up after 240 s.
#
#   bash scripts/e2e.sh
#   EXPORTER_BIN=target/debug/apify-webhook-exporter \
#     FAKE_API_BIN=target/debug/examples/fake_api bash scripts/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-tools.sh

release_dir() {
  echo "$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
}

if [ -z "${EXPORTER_BIN:-}" ]; then
  cargo build --release --locked --quiet
  EXPORTER_BIN="$(release_dir)/apify-webhook-exporter"
fi
if [ -z "${FAKE_API_BIN:-}" ]; then
  cargo build --release --locked --quiet --example fake_api
  FAKE_API_BIN="$(release_dir)/examples/fake_api"
fi
export EXPORTER_BIN FAKE_API_BIN

exec timeout --kill-after=10 240 python3 scripts/e2e.py
