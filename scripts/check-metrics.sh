#!/usr/bin/env bash
# Lints a live /metrics with `promtool check metrics`: the exporter runs in
# --demo mode on a free loopback port; any finding fails the check.
#   scripts/check-metrics.sh [path/to/apify-webhook-exporter]
set -euo pipefail
bin=${1:-target/release/apify-webhook-exporter}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp -d)
"$bin" --demo --listen "127.0.0.1:$port" 2>"$out/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT

deadline=$((SECONDS + 30))
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "check-metrics: exporter not ready; its log:" >&2
    cat "$out/log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/metrics" >"$out/metrics"
findings=$(promtool check metrics <"$out/metrics" 2>&1) || true
if [ -n "$findings" ]; then
  echo "check-metrics: promtool check metrics reported:" >&2
  echo "$findings" >&2
  exit 1
fi
grep -q '^apify_up 1$' "$out/metrics" || { echo "check-metrics: apify_up is not 1" >&2; exit 1; }
echo "check-metrics: promtool check metrics is clean ($(grep -vc '^#' "$out/metrics") samples)"
