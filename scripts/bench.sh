#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Runs the release exporter as its own
# process against examples/fake_api's bench scenario (another process) on 127.0.0.1.
#   scripts/bench.sh rss        # RSS after counting 100k and 1M dispatches (RSS_SIZES="..." for others)
#   scripts/bench.sh scrape     # /metrics latency with ~50k series, 50 concurrent scrapers (wrk)
#   scripts/bench.sh requests   # API requests per idle refresh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example fake_api
bin=target/release/apify-webhook-exporter
fake_bin=target/release/examples/fake_api

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_fake <webhooks> <dispatches> <event types per webhook>: sets $api
start_fake() {
  local out; out=$(mktemp)
  "$fake_bin" bench "$1" "$2" "$3" >"$out" </dev/null &
  pids+=($!)
  local deadline=$((SECONDS + 600))
  until grep -q '^listening ' "$out"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "fake API did not start" >&2; exit 1; }
    sleep 0.2
  done
  api=$(sed -n 's/^listening //p' "$out")
}

# start_exporter <extra flags...>: sets $url and $exporter_pid, waits for the first refresh
start_exporter() {
  local port; port=$(free_port)
  APIFY_TOKEN=bench-token "$bin" --api-base-url "$api" --listen "127.0.0.1:$port" \
    --lookback 48h --max-rps 10000 --timeout 60s "$@" 2>/dev/null &
  exporter_pid=$!
  pids+=("$exporter_pid")
  url="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 1200))
  until curl -sf "$url/readyz" >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "exporter not ready" >&2; exit 1; }
    sleep 0.2
  done
}

metric() { curl -sf "$url/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

rss() {
  for n in ${RSS_SIZES:-100000 1000000}; do
    start_fake 50 "$n" 2
    local t0=$SECONDS
    start_exporter --interval 1h
    local counted
    counted=$(curl -sf "$url/metrics" | awk '/^apify_webhook_dispatches_total/ { s += $2 } END { printf "%d", s }')
    local hwm rss_kb
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$exporter_pid/status")
    rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$exporter_pid/status")
    printf 'dispatches=%d counted=%d first_refresh_s=%d rss_mib=%.1f peak_rss_mib=%.1f\n' \
      "$n" "$counted" "$((SECONDS - t0))" "$(echo "$rss_kb/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
    cleanup; pids=()
  done
}

scrape() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  # 600 webhooks x 6 event types: ~50k series once every label combination has been seen.
  start_fake 600 200000 6
  start_exporter --interval 30s
  local series
  series=$(curl -sf "$url/metrics" | grep -vc '^#')
  echo "series=$series"
  echo "--- gzip (what Prometheus asks for)"
  wrk -t2 -c50 -d20s --latency -H 'Accept-Encoding: gzip' "$url/metrics"
  echo "--- plain"
  wrk -t2 -c50 -d20s --latency "$url/metrics"
}

requests() {
  start_fake 200 20000 2
  for mode in account per-webhook; do
    if [ "$mode" = account ]; then
      start_exporter --mode on-scrape --min-interval 1ms
    else
      local ids
      ids=$(seq -f 'bench%012g' 0 49 | paste -sd, -)
      start_exporter --mode on-scrape --min-interval 1ms --webhook-ids "$ids"
    fi
    curl -sf "$url/metrics" >/dev/null
    local before after
    before=$(curl -sf "$url/metrics" | awk '/^apify_exporter_api_requests_total/ { s += $2 } END { print s }')
    after=$(curl -sf "$url/metrics" | awk '/^apify_exporter_api_requests_total/ { s += $2 } END { print s }')
    echo "mode=$mode idle_refresh_requests=$((after - before))"
    curl -sf "$url/metrics" | grep '^apify_exporter_api_requests_total' | sed 's/^/  /'
    kill "$exporter_pid"; wait "$exporter_pid" 2>/dev/null || true
  done
}

"${1:-rss}"
