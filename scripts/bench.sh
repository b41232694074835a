#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Runs the release exporter as its own
# process against examples/fake_api's bench scenario (another process) on 127.0.0.1.
#   scripts/bench.sh rss        # RSS after counting 100k and 1M dispatches (RSS_SIZES="..." for others)
#   scripts/bench.sh scrape     # /metrics latency with ~50k series, 50 concurrent scrapers (wrk)
#   scripts/bench.sh requests   # API requests per refresh, idle and with 100 new, vs a json_exporter-style poll
#   scripts/bench.sh churn      # ad-hoc webhooks: series and requests while 10,000 runs come, fold vs each
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example fake_api
target_dir=${CARGO_TARGET_DIR:-target}
bin=$target_dir/release/apify-webhook-exporter
fake_bin=$target_dir/release/examples/fake_api

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_fake <webhooks> <dispatches> <event types per webhook>: sets $api;
# `fake_cmd <line>` then sends it a command (new <n>, adhoc <n> [summary]).
start_fake() {
  local out; out=$(mktemp)
  fake_in=$(mktemp -u); mkfifo "$fake_in"
  "$fake_bin" bench "$1" "$2" "$3" >"$out" <"$fake_in" &
  pids+=($!)
  exec 3>"$fake_in"
  fake_out=$out
  local deadline=$((SECONDS + 600))
  until grep -q '^listening ' "$out"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "fake API did not start" >&2; exit 1; }
    sleep 0.2
  done
  api=$(sed -n 's/^listening //p' "$out")
}

# fake_cmd <command>: sends it and waits for the fake's answer line.
fake_cmd() {
  local before; before=$(wc -l <"$fake_out")
  echo "$1" >&3
  local deadline=$((SECONDS + 600))
  until [ "$(wc -l <"$fake_out")" -gt "$before" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "fake API did not answer $1" >&2; exit 1; }
    sleep 0.1
  done
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

api_requests() { curl -sf "$url/metrics" | awk '/^apify_exporter_api_requests_total/ { s += $2 } END { printf "%d", s }'; }
series() { curl -sf "$url/metrics" | grep -c '^apify_webhook_'; }
counted() { curl -sf "$url/metrics" | awk '/^apify_webhook_dispatches_total/ { s += $2 } END { printf "%d", s }'; }

# requests_of <command...>: API requests of the one refresh after the
# command (on-scrape mode: each scrape is one refresh, and it serves the
# counter that includes its own requests).
requests_of() {
  local before after
  before=$(api_requests)
  "$@"
  after=$(api_requests)
  echo $((after - before))
}

requests() {
  # Idle, and with 100 new dispatches, for 10/100/1000 webhooks and 1k/100k
  # dispatches of history; the metadata period (5m) does not come round.
  # The naive strategy (a json_exporter module per webhook) asks for every
  # webhook's first dispatch page at every scrape: one request per webhook,
  # idle or not, and still cannot count exactly once.
  printf '%-9s %-8s %-10s %-5s %-7s %-6s %s\n' webhooks history selection idle new100 naive ratio_idle
  for webhooks in 10 100 1000; do
    for history in 1000 100000; do
      start_fake "$webhooks" "$history" 2
      for selection in all ids; do
        if [ "$selection" = all ]; then
          start_exporter --mode on-scrape --min-interval 1ms
        else
          start_exporter --mode on-scrape --min-interval 1ms \
            --webhook-ids "$(seq -f 'bench%012g' 0 $((webhooks - 1)) | paste -sd, -)"
        fi
        curl -sf "$url/metrics" >/dev/null
        local idle new
        idle=$(requests_of true)
        new=$(requests_of fake_cmd "new 100")
        printf '%-9s %-8s %-10s %-5s %-7s %-6s %s\n' "$webhooks" "$history" "$selection" "$idle" "$new" "$webhooks" \
          "$((webhooks / idle))x"
        kill "$exporter_pid"; wait "$exporter_pid" 2>/dev/null || true
      done
      cleanup; pids=()
    done
  done
}

churn() {
  # 10,000 runs with their own ad-hoc webhooks over 3 Actors, 1,000 per
  # refresh; series and requests per refresh, folded vs one set per webhook.
  for mode in "fold summary" "fold -" "each -"; do
    local ad_hoc with_summary summary=""
    read -r ad_hoc with_summary <<<"$mode"
    [ "$with_summary" = summary ] && summary=" summary"
    start_fake 5 0 2
    start_exporter --mode on-scrape --min-interval 1ms --ad-hoc "$ad_hoc"
    curl -sf "$url/metrics" >/dev/null
    echo "--- AD_HOC=$ad_hoc, dispatches $([ -n "$summary" ] && echo with || echo without) the webhook summary"
    printf '%-6s %-8s %-7s %-21s %s\n' runs counted series requests_per_refresh rss_mib
    for batch in $(seq 1 10); do
      local requests
      requests=$(requests_of fake_cmd "adhoc 1000$summary")
      printf '%-6s %-8s %-7s %-21s %.1f\n' "$((batch * 1000))" "$(counted)" "$(series)" "$requests" \
        "$(awk '/VmRSS/ { print $2 / 1024 }' "/proc/$exporter_pid/status")"
    done
    cleanup; pids=()
  done
}

"${1:-rss}"
