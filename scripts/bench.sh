#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Runs the release exporter as its own
# process against examples/fake_api's bench scenario (another process) on 127.0.0.1.
#   scripts/bench.sh rss        # RSS after counting 100k and 1M dispatches (RSS_SIZES="..." for others)
#   scripts/bench.sh scrape     # /metrics latency with ~50k series, 50 concurrent scrapers (wrk); SCRAPE_WEBHOOKS=6000 for ~500k
#   scripts/bench.sh requests   # API requests per refresh, idle and with 100 new, vs a json_exporter-style poll
#   scripts/bench.sh churn      # ad-hoc webhooks: series and requests while 10,000 runs come, fold vs each
#   scripts/bench.sh peers      # /metrics side by side: this exporter, Go pushgateway, Python prometheus_client
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example fake_api
target_dir=${CARGO_TARGET_DIR:-target}
# Private copies: a build from another checkout sharing CARGO_TARGET_DIR may replace the originals mid-run.
bin_dir=$(mktemp -d)
cp "$target_dir/release/apify-webhook-exporter" "$target_dir/release/examples/fake_api" "$bin_dir/"
bin=$bin_dir/apify-webhook-exporter
fake_bin=$bin_dir/fake_api

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap 'cleanup; rm -rf "$bin_dir"' EXIT

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
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "${pids[-1]}" 2>/dev/null; then echo "fake API did not start" >&2; exit 1; fi
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
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$exporter_pid" 2>/dev/null; then echo "exporter not ready" >&2; exit 1; fi
    sleep 0.2
  done
}

# scrape_body: GET /metrics into $body (in on-scrape mode, one refresh);
# sum_of <name prefix> / series: read from that body, so that numbers of
# one moment cost one refresh.
scrape_body() { body=$(curl -sf "$url/metrics"); }
sum_of() { awk -v p="$1" 'index($1, p) == 1 { s += $2 } END { printf "%d", s }' <<<"$body"; }
series() { grep -c '^apify_webhook_' <<<"$body"; }

# wrk, and the pushgateway of `peers`, when missing.
need_bench_tools() { bash scripts/install-tools.sh --bench; }

rss() {
  for n in ${RSS_SIZES:-100000 1000000}; do
    start_fake 50 "$n" 2
    local t0=$SECONDS
    start_exporter --interval 1h
    scrape_body
    local counted
    counted=$(sum_of apify_webhook_dispatches_total)
    local hwm rss_kb
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$exporter_pid/status")
    rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$exporter_pid/status")
    printf 'dispatches=%d counted=%d first_refresh_s=%d rss_mib=%.1f peak_rss_mib=%.1f\n' \
      "$n" "$counted" "$((SECONDS - t0))" "$(echo "$rss_kb/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
    cleanup; pids=()
  done
}

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$exporter_pid/status"; }

scrape() {
  need_bench_tools
  # 600 webhooks x 6 event types: ~50k series once every label combination
  # has been seen. SCRAPE_WEBHOOKS and SCRAPE_DISPATCHES scale the account
  # (docs/scaling.md); SCRAPE_PLAIN=0 leaves out the plain-text run.
  start_fake "${SCRAPE_WEBHOOKS:-600}" "${SCRAPE_DISPATCHES:-200000}" 6
  start_exporter --interval 30s
  local series plain gzipped refreshes refresh_s
  refresh_stats() {
    scrape_body
    refreshes=$(sum_of apify_exporter_refresh_duration_seconds_count)
    refresh_s=$(awk '$1 == "apify_exporter_refresh_duration_seconds_sum" { print $2 }' <<<"$body")
  }
  refresh_stats
  local first_refreshes=$refreshes first_refresh_s=$refresh_s
  series=$(curl -sf "$url/metrics" | grep -vc '^#')
  plain=$(curl -sf "$url/metrics" | wc -c)
  gzipped=$(curl -sf -H 'Accept-Encoding: gzip' "$url/metrics" | wc -c)
  echo "series=$series plain_bytes=$plain gzip_bytes=$gzipped rss_mib=$(rss_mib)"
  echo "--- gzip (what Prometheus asks for)"
  wrk -t2 -c50 -d20s --latency -H 'Accept-Encoding: gzip' "$url/metrics"
  if [ "${SCRAPE_PLAIN:-1}" != 0 ]; then
    echo "--- plain"
    wrk -t2 -c50 -d20s --latency "$url/metrics"
  fi
  # The first refresh (the whole history) and the ones since (every 30 s,
  # nothing new), from the exporter's own histogram: waits for one.
  local deadline=$((SECONDS + 120))
  refresh_stats
  while [ "$refreshes" -le "$first_refreshes" ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 1
    refresh_stats
  done
  echo "first_refresh_s=$first_refresh_s later_refreshes=$((refreshes - first_refreshes))" \
    "later_refresh_s_mean=$(echo "($refresh_s - $first_refresh_s) / ($refreshes - $first_refreshes)" | bc -l 2>/dev/null)" \
    "rss_mib=$(rss_mib)"
}

# requests_of <command...>: sets $spent, the API requests of the one
# refresh after the command (on-scrape mode: each scrape is one refresh,
# and it serves the counter that includes its own requests); $body is
# that refresh's /metrics.
requests_of() {
  local before
  scrape_body
  before=$(sum_of apify_exporter_api_requests_total)
  "$@"
  scrape_body
  spent=$(($(sum_of apify_exporter_api_requests_total) - before))
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
        requests_of true
        idle=$spent
        requests_of fake_cmd "new 100"
        new=$spent
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
      requests_of fake_cmd "adhoc 1000$summary"
      printf '%-6s %-8s %-7s %-21s %.1f\n' "$((batch * 1000))" "$(sum_of apify_webhook_dispatches_total)" "$(series)" "$spent" \
        "$(awk '/VmRSS/ { print $2 / 1024 }' "/proc/$exporter_pid/status")"
    done
    cleanup; pids=()
  done
}

# --- peers: the same ~50k-series body from this exporter, a Go server and a Python one.
PEERS_DURATION=${PEERS_DURATION:-30s}    # each wrk run
PEERS_TIMEOUT=${PEERS_TIMEOUT:-60s}      # wrk's per-request timeout: Python at 50 scrapers takes seconds
PROMETHEUS_CLIENT_VERSION=0.26.0

# check_peer <name> <url>: fail loudly unless <url>/metrics answers 200, gzips when asked, and carries
# every apify_webhook_dispatches_total series of the saved body with the same total; sets $plain_bytes
# and $gzip_bytes.
check_peer() {
  local name=$1 u=$2 code
  code=$(curl -s -o "$work/$name.prom" -w '%{http_code}' "$u/metrics")
  [ "$code" = 200 ] || { echo "$name: GET /metrics answered $code" >&2; exit 1; }
  code=$(curl -s -H 'Accept-Encoding: gzip' -D "$work/$name.headers" -o "$work/$name.prom.gz" -w '%{http_code}' "$u/metrics")
  [ "$code" = 200 ] || { echo "$name: gzip GET /metrics answered $code" >&2; exit 1; }
  grep -qi '^content-encoding: *gzip' "$work/$name.headers" || { echo "$name: did not gzip" >&2; exit 1; }
  local got
  got=$(gzip -dc "$work/$name.prom.gz" | dispatch_totals)
  [ "$got" = "$want" ] || { echo "$name: apify_webhook_dispatches_total series/sum $got, want $want" >&2; exit 1; }
  plain_bytes=$(wc -c <"$work/$name.prom")
  gzip_bytes=$(wc -c <"$work/$name.prom.gz")
}

# The known series: how many apify_webhook_dispatches_total samples, and their sum.
dispatch_totals() { awk '$1 ~ /^apify_webhook_dispatches_total[{]/ { n++; s += $NF } END { printf "%d/%.0f", n, s }'; }

# cpu_now <pid>: one line of CPU seconds so far: the whole machine's (busy), <pid>'s, and this shell's
# waited children's (wrk), to tell what the server used from what else ran on the shared cores meanwhile.
# Not for $(...): `times` in a subshell would count the subshell's children.
cpu_now() {
  local hz; hz=$(getconf CLK_TCK)
  times >"$work/times"
  awk -v hz="$hz" '$1 == "cpu" { printf "%.2f ", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat
  awk -v hz="$hz" '{ printf "%.2f ", ($14 + $15) / hz }' "/proc/$1/stat"
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.2f\n", s }' "$work/times"
}

# wrk_row <name> <url> <threads> <connections> <server pid>: one gzip wrk run, one table row.
wrk_row() {
  local name=$1 u=$2 out before after
  out="$work/wrk-$name-c$4.txt"
  cpu_now "$5" >"$work/cpu.before"
  wrk -t"$3" -c"$4" -d"$PEERS_DURATION" --timeout "$PEERS_TIMEOUT" --latency \
    -s scripts/bench_wrk_report.lua -H 'Accept-Encoding: gzip' "$u/metrics" >"$out"
  cpu_now "$5" >"$work/cpu.after"
  before=$(cat "$work/cpu.before") after=$(cat "$work/cpu.after")
  grep -q '^wrk ' "$out" || { echo "wrk against $name gave no report: $(cat "$out")" >&2; exit 1; }
  grep '^wrk ' "$out" | awk -v name="$name" -v c="$4" -v plain="$plain_bytes" -v gz="$gzip_bytes" \
    -v before="$before" -v after="$after" -v rpsfile="$work/rps-$name-c$4" '
    function ms(us) { if (v["requests"] == 0) return "-"; return us >= 1e6 ? sprintf("%.2f s", us / 1e6) : sprintf("%.2f ms", us / 1e3) }
    {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      errors = v["connect"] + v["read"] + v["write"] + v["status"] + v["timeout"]
      secs = v["duration_us"] / 1e6
      rps = v["requests"] / secs
      split(before, b, " "); split(after, a, " ")
      server = (a[2] - b[2]) / secs; client = (a[3] - b[3]) / secs; rest = (a[1] - b[1]) / secs - server - client
      printf "%.1f\n", rps > rpsfile
      printf "| %s | %d | %.1f | %s | %s | %d (%d timeouts) | %d | %d | %.2f / %.2f / %.2f |\n", name, c,
        rps, ms(v["p50_us"]), ms(v["p99_us"]), errors, v["timeout"], plain, gz, server, client, rest
    }' | tee -a "$work/table.md"
}

peers() {
  need_bench_tools
  local venv=$target_dir/bench-venv
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
  work=$target_dir/bench-peers
  rm -rf "$work" && mkdir -p "$work"

  # 1. This exporter, and the body it serves.
  start_fake 600 200000 6
  start_exporter --interval 30s
  local exporter_url=$url
  curl -sf "$exporter_url/metrics" -o "$work/body.prom"
  want=$(dispatch_totals <"$work/body.prom")

  # 2. Go: the pushgateway (client_golang's promhttp handler), no persistence, serving the body PUT to it.
  local port; port=$(free_port)
  prometheus-pushgateway --web.listen-address="127.0.0.1:$port" >"$work/pushgateway.log" 2>&1 &
  local go_pid=$!
  pids+=("$go_pid")
  local go_url="http://127.0.0.1:$port" deadline=$((SECONDS + 60))
  until curl -sf "$go_url/-/ready" >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "pushgateway did not start" >&2; exit 1; }
    sleep 0.2
  done
  local code
  code=$(curl -s -o "$work/push.answer" -w '%{http_code}' -X PUT --data-binary "@$work/body.prom" "$go_url/metrics/job/bench")
  [ "$code" = 200 ] || { echo "pushgateway refused the body ($code): $(head -c 500 "$work/push.answer")" >&2; exit 1; }

  # 3. Python: prometheus_client re-encoding the parsed families on every scrape.
  port=$(free_port)
  "$venv/bin/python" scripts/bench_python_peer.py "$work/body.prom" "$port" >"$work/python.log" 2>&1 &
  local py_pid=$!
  pids+=("$py_pid")
  local py_url="http://127.0.0.1:$port"
  deadline=$((SECONDS + 120))
  until grep -q '^listening ' "$work/python.log"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "python peer did not start: $(cat "$work/python.log")" >&2; exit 1; }
    sleep 0.2
  done

  # 4. Check all three before measuring any, then wrk each at 1 and 50 scrapers.
  echo "exporter $(grep '^apify_exporter_build_info' "$work/body.prom")"
  echo "saved body: $(grep -vc '^#' "$work/body.prom") samples; apify_webhook_dispatches_total series/sum $want"
  local names=(exporter go-pushgateway python-prometheus_client) urls=("$exporter_url" "$go_url" "$py_url")
  local server_pids=("$exporter_pid" "$go_pid" "$py_pid")
  local sizes=() i
  for i in 0 1 2; do
    check_peer "${names[$i]}" "${urls[$i]}"
    sizes+=("$plain_bytes $gzip_bytes")
    echo "${names[$i]}: 200, gzip, $(grep -vc '^#' "$work/${names[$i]}.prom") samples, $plain_bytes bytes plain, $gzip_bytes gzip"
  done
  echo "wrk -d$PEERS_DURATION --timeout $PEERS_TIMEOUT -H 'Accept-Encoding: gzip', one server at a time;" \
    "CPU in cores over the run: the server's process, wrk, and everything else on the machine"
  {
    echo "| server | scrapers | requests/s | p50 | p99 | errors | body bytes | gzip bytes | CPU cores: server / wrk / rest |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  } | tee "$work/table.md"
  for i in 0 1 2; do
    read -r plain_bytes gzip_bytes <<<"${sizes[$i]}"
    wrk_row "${names[$i]}" "${urls[$i]}" 1 1 "${server_pids[$i]}"
    wrk_row "${names[$i]}" "${urls[$i]}" 2 50 "${server_pids[$i]}"
  done
  local e g p
  e=$(cat "$work/rps-exporter-c50") g=$(cat "$work/rps-go-pushgateway-c50") p=$(cat "$work/rps-python-prometheus_client-c50")
  awk -v e="$e" -v g="$g" -v p="$p" 'BEGIN {
    eg = "n/a (go: 0 requests/s)"; gp = "n/a (python: 0 requests/s)"
    if (g > 0) eg = sprintf("%.0fx", e / g)
    if (p > 0) gp = sprintf("%.1fx", g / p)
    printf "at 50 scrapers: exporter / go = %s, go / python = %s\n", eg, gp }'
  echo "bodies, wrk output and this table: $work"
}

"${1:-rss}"
