#!/usr/bin/env python3
"""Checks the Helm chart offline, and runs the exporter as the chart would.

    python3 scripts/check_helm.py     # what scripts/check-assets.sh runs

For the default values and each deploy/helm/apify-webhook-exporter/ci/*-values.yaml:
  - `helm lint --strict` and `helm template`;
  - the core objects against the Kubernetes 1.25 (the chart's floor), 1.30
    and 1.37 schemas (kubernetes-validate, strict: no unknown field), the ServiceMonitor and PrometheusRule against
    the Prometheus Operator's (scripts/validate_operator_objects.mjs);
  - the PrometheusRule's groups pass `promtool check rules` and are exactly
    the groups of prometheus/rules.yml and alerts.yml, plus the overrides
    from the values; each dashboard ConfigMap holds exactly its
    dashboards/*.json; the chart's README has a row for every value;
  - what the chart promises: the security context, the probes, the state
    volume, the workload's kind, the token only ever in a Secret, every
    setting of the README's configuration table as a value.
Then the exporter binary runs with the environment, arguments and files
the HA pair's pod would get (TLS and basic auth included) against the
e2e's fake Apify, is probed the way the kubelet would probe it, scraped,
and stopped; its state file must be where the volume is.

Tools come from scripts/install-tools.sh (.tools/: helm, the npm schemas;
kubernetes-validate and PyYAML from PyPI; promtool; openssl). The binaries
are EXPORTER_BIN and FAKE_API_BIN (default target/release/...), built when
missing.
"""
import base64
import functools
import json
import os
import pathlib
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import yaml

from testkit import Failure, free_port, poll

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy/helm/apify-webhook-exporter"
TOOLS = ROOT / ".tools"
HELM = TOOLS / "bin/helm"
NODE_MODULES = TOOLS / "npm/node_modules"
# The chart's kubeVersion floor (Chart.yaml), the version the issue names,
# and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.25.0", "1.30.0", "1.37.0"]
RELEASE = "apify"
# The token the e2e scenario of examples/fake_api accepts; ci/ha-pair-values.yaml sets it.
FAKE_TOKEN = "e2e-token"
# What ci/ha-pair-values.yaml's selection watches of that account.
WATCHED = ["wh-flaky", "wh-healthy", "wh-misconfigured"]
STATE_DIR = "/var/lib/apify-webhook-exporter"
SECRETS_DIR = "/etc/apify-webhook-exporter"


def run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise Failure("%s failed (exit %d):\n%s%s" % (" ".join(map(str, cmd[:3])), proc.returncode,
                                                     proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc.stdout


def value_sets():
    """(name, helm arguments) of each set of values checked."""
    sets = [("default", [])]
    for f in sorted((CHART / "ci").glob("*-values.yaml")):
        sets.append((f.name[:-len("-values.yaml")], ["-f", str(f)]))
    return sets


def render(args):
    out = run([HELM, "template", RELEASE, CHART, "--namespace", "monitoring", *args])
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs, *kinds):
    """The one rendered object of one of `kinds`."""
    found = [d for d in docs if d["kind"] in kinds]
    if len(found) != 1:
        raise Failure("want one %s, rendered %d" % (" or ".join(kinds), len(found)))
    return found[0]


def workload(docs):
    return one(docs, "Deployment", "StatefulSet")


def expect(what, got, want):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def validate_core(docs, tmp):
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    files = []
    for i, d in enumerate(core):
        f = tmp / ("core-%d-%s.yaml" % (i, d["kind"]))
        f.write_text(yaml.safe_dump(d))
        files.append(f)
    for version in KUBERNETES_VERSIONS:
        run([sys.executable, "-m", "kubernetes_validate", "--kubernetes-version", version, "--strict", "--quiet",
             *files])
    return len(core)


def validate_operator(docs, tmp):
    objects = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    if not objects:
        return 0
    f = tmp / "operator.json"
    f.write_text(json.dumps(objects))
    run(["node", ROOT / "scripts/validate_operator_objects.mjs", NODE_MODULES, f])
    return len(objects)


@functools.cache
def bundled_groups():
    groups = []
    for source in ("prometheus/rules.yml", "prometheus/alerts.yml"):
        groups += yaml.safe_load((ROOT / source).read_text())["groups"]
    return groups


def check_rules(docs, values, tmp):
    rule = one(docs, "PrometheusRule")
    groups = rule["spec"]["groups"]
    f = tmp / "prometheusrule-groups.yml"
    f.write_text(yaml.safe_dump({"groups": groups}))
    run(["promtool", "check", "rules", f])
    expect("PrometheusRule groups but the last", groups[:-1], bundled_groups())
    overrides = (values.get("prometheusRule") or {}).get("overrides") or []
    expect("PrometheusRule overrides group", groups[-1],
           {"name": "apify-webhook-threshold-overrides", "rules": overrides})
    return sum(len(g["rules"]) for g in groups)


def check_dashboards(docs, values):
    dash = values.get("dashboards") or {}
    label, label_value = dash.get("label", "grafana_dashboard"), dash.get("labelValue", "1")
    maps = [d for d in docs if d["kind"] == "ConfigMap"]
    expect("dashboard ConfigMaps", len(maps), len(list((ROOT / "dashboards").glob("*.json"))))
    for m in maps:
        expect("%s label %s" % (m["metadata"]["name"], label), m["metadata"]["labels"].get(label), label_value)
        (key, text), = m["data"].items()
        name = re.fullmatch(r"apify-webhook-(\w+)\.json", key).group(1)
        expect("%s: %s" % (m["metadata"]["name"], key), json.loads(text), bundled_dashboard(name))
    return "%d dashboards" % len(maps)


@functools.cache
def bundled_dashboard(name):
    return json.loads((ROOT / ("dashboards/%s.json" % name)).read_text())


def readme_settings():
    """Every variable of the README's configuration table."""
    text = (ROOT / "README.md").read_text()
    names = re.findall(r"(?m)^\| `((?:APIFY|RUST)_[A-Z_]+)` \|", text)
    if len(names) < 15:
        raise Failure("README configuration table: found only %d variables" % len(names))
    return names


def check_pod(docs, name, values):
    w = workload(docs)
    pod = w["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    psc, sc = pod["securityContext"], c["securityContext"]
    expect("pod runAsNonRoot", psc.get("runAsNonRoot"), True)
    expect("pod runAsUser", psc.get("runAsUser"), 65532)
    expect("readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem"), True)
    expect("allowPrivilegeEscalation", sc.get("allowPrivilegeEscalation"), False)
    expect("capabilities.drop", sc.get("capabilities", {}).get("drop"), ["ALL"])
    expect("automountServiceAccountToken", pod.get("automountServiceAccountToken"), False)
    scheme = (values.get("webConfig") or {}).get("scheme", "HTTP")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        expect(probe, (get["path"], get["port"], get["scheme"]), (path, "metrics", scheme))
    if not c.get("resources", {}).get("requests") or not c["resources"].get("limits"):
        raise Failure("the container has no resource requests and limits")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    expect("state volume mount", mounts.get("state"), STATE_DIR)
    expect("APIFY_EXPORTER_STATE_FILE", env.get("APIFY_EXPORTER_STATE_FILE"), STATE_DIR + "/state.json")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    persistent = (values.get("persistence") or {}).get("enabled", False)
    replicas = values.get("replicaCount", 1)
    if persistent and replicas > 1:
        expect("kind", w["kind"], "StatefulSet")
        expect("volumeClaimTemplates", [t["metadata"]["name"] for t in w["spec"]["volumeClaimTemplates"]], ["state"])
        if "state" in volumes:
            raise Failure("a StatefulSet pod must take its state volume from its own claim")
    else:
        expect("kind", w["kind"], "Deployment")
        if persistent:
            expect("strategy", w["spec"]["strategy"]["type"], "Recreate")
            claim = volumes["state"]["persistentVolumeClaim"]["claimName"]
            expect("the state claim is rendered", [d["metadata"]["name"] for d in docs
                                                   if d["kind"] == "PersistentVolumeClaim"], [claim])
        else:
            expect("state volume", volumes["state"], {"name": "state", "emptyDir": {}})
    expect("replicas", w["spec"]["replicas"], replicas)
    token = values.get("token") or {}
    args = c.get("args") or []
    if values.get("demo"):
        expect("args with demo", args, ["--demo"])
        if "APIFY_TOKEN_FILE" in env:
            raise Failure("the demo is given a token")
    elif token.get("value") or token.get("existingSecret"):
        if "--demo" in args:
            raise Failure("--demo with a token given")
        expect("APIFY_TOKEN_FILE", env.get("APIFY_TOKEN_FILE"), SECRETS_DIR + "/token/token")
        if "APIFY_TOKEN" in env:
            raise Failure("the token is in the environment, not in a file")
    else:
        expect("args with no token and no demo", args, [])
        if "APIFY_TOKEN_FILE" in env:
            raise Failure("a token file without a token")
    if token.get("value"):
        secret_values = [v for d in docs if d["kind"] == "Secret" for v in d.get("data", {}).values()]
        if base64.b64encode(token["value"].encode()).decode() not in secret_values:
            raise Failure("the token is not in a Secret")
        clear = [d["kind"] for d in docs if d["kind"] != "Secret" and token["value"] in json.dumps(d)]
        if clear:
            raise Failure("the token appears in clear in %s" % clear)
    check_wiring(docs, w, values)
    if name == "ha-pair":
        missing = [v for v in readme_settings() if v != "APIFY_TOKEN" and v not in env]
        if missing:
            raise Failure("README settings with no value in the chart: %s" % ", ".join(missing))
    return w["kind"]


# Values documented as one row although they are maps.
BLOCKS = {"podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe"}


def value_paths(values, prefix=""):
    for key, value in values.items():
        path = prefix + key
        if isinstance(value, dict) and value and path not in BLOCKS:
            yield from value_paths(value, path + ".")
        else:
            yield path


def readme_lists_every_value():
    """The chart's README has a row for every value, and none for a value that is not."""
    values = set(value_paths(yaml.safe_load((CHART / "values.yaml").read_text())))
    rows = set(re.findall(r"(?m)^\| `([\w.]+)` \|", (CHART / "README.md").read_text()))
    if values != rows:
        raise Failure("chart README rows vs values.yaml: missing %s; not values %s"
                      % (sorted(values - rows), sorted(rows - values)))
    return "%d values" % len(values)


def subset(what, small, big):
    if not small or any(big.get(k) != v for k, v in small.items()):
        raise Failure("%s: %r is not within %r" % (what, small, big))


def check_wiring(docs, w, values):
    """The objects find each other: the workload's selector its pods, the
    Service's selector the pods, the ServiceMonitor the Service, its port and
    the label that names the job."""
    pod_labels = w["spec"]["template"]["metadata"]["labels"]
    subset("workload selector vs pod labels", w["spec"]["selector"]["matchLabels"], pod_labels)
    svc = one(docs, "Service")
    subset("Service selector vs pod labels", svc["spec"]["selector"], pod_labels)
    (port,) = svc["spec"]["ports"]
    container_ports = [p["name"] for p in w["spec"]["template"]["spec"]["containers"][0]["ports"]]
    if port["targetPort"] not in container_ports:
        raise Failure("the Service's targetPort %r is no port of the container %r" % (port["targetPort"], container_ports))
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    for sm in monitors:
        subset("ServiceMonitor selector vs Service labels", sm["spec"]["selector"]["matchLabels"],
               svc["metadata"]["labels"])
        expect("ServiceMonitor namespaces", sm["spec"]["namespaceSelector"]["matchNames"],
               [svc["metadata"]["namespace"]])
        expect("ServiceMonitor endpoint port", [e["port"] for e in sm["spec"]["endpoints"]], [port["name"]])
        expect("the job, from the Service label the ServiceMonitor names",
               svc["metadata"]["labels"].get(sm["spec"]["jobLabel"]), values["serviceMonitor"]["jobName"])


def binary(var, default, build):
    path = pathlib.Path(os.environ.get(var, ROOT / default))
    if not path.exists():
        print("check_helm: building %s" % default, flush=True)
        run(["cargo", "build", "--release", "--locked", *build], cwd=ROOT)
    return path


EXPORTER = FAKE_API = None
# The probes below: a connection refused (OSError, URLError) means not yet;
# a Failure (the process exited) ends the wait at once.
RETRY_UNANSWERED = {"interval": 0.1, "retry": (OSError,)}


def materialize(docs, tmp):
    """The pod of the rendered workload, as a command to run here: each volume
    mount a directory filled as the kubelet would (Secrets decoded; a Secret
    the chart does not make, the tlsSecret, written as cert-manager would),
    the environment's paths moved into them. (argv, env, container, dirs)."""
    pod = workload(docs)["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    dirs = {}
    for m in c["volumeMounts"]:
        local = tmp / ("mount-" + m["name"])
        local.mkdir()
        dirs[m["mountPath"]] = local
        volume = volumes.get(m["name"], {})
        sources = [s["secret"] for s in volume.get("projected", {}).get("sources", [])]
        if "secret" in volume:
            sources.append(volume["secret"])
        for source in sources:
            name = source.get("secretName") or source.get("name")
            if name not in secrets:
                run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                     "/CN=127.0.0.1", "-keyout", local / "tls.key", "-out", local / "tls.crt"])
                continue
            data = secrets[name]["data"]
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                (local / item["path"]).write_bytes(base64.b64decode(data[item["key"]]))

    def local(value):
        for path, d in dirs.items():
            if value.startswith(path):
                return str(d) + value[len(path):]
        return value
    env = {"PATH": os.environ.get("PATH", "")}
    env.update({e["name"]: local(e["value"]) for e in c.get("env", [])})
    return [str(EXPORTER), *c.get("args", [])], env, c, dirs


def without_a_token_it_stops(tmp):
    """The default values give no token and no demo: the pod's exporter must
    stop at once, saying why, rather than run on nothing."""
    argv, env, _, _ = materialize(render([]), tmp)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=15)
    expect("exit code without a token", proc.returncode, 2)
    if "APIFY_TOKEN_FILE" not in proc.stderr:
        raise Failure("no word of the token in: %r" % proc.stderr)
    return proc.stderr.strip()


def run_like_the_pod(tmp):
    """The HA pair's pod, run here: the rendered environment, arguments, Secrets
    and volumes, against the fake; probed, scraped and stopped."""
    logs = tmp / "logs"
    logs.mkdir()
    procs = []
    try:
        fake_log = open(logs / "fake.log", "w")
        fake = subprocess.Popen([str(FAKE_API), "e2e"], stdout=fake_log, stderr=subprocess.STDOUT,
                                stdin=subprocess.PIPE)
        procs.append(fake)
        api = poll("the fake API", lambda: re.search(r"(?m)^listening (\S+)$", (logs / "fake.log").read_text()),
                   30, **RETRY_UNANSWERED).group(1)
        port = free_port()
        docs = render(["-f", str(CHART / "ci/ha-pair-values.yaml"),
                       "--set", "exporter.apiBaseUrl=" + api, "--set", "exporter.port=%d" % port])
        argv, env, c, dirs = materialize(docs, tmp)
        log = open(logs / "exporter.log", "w")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE

        def get(path, headers=()):
            req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path), headers=dict(headers))
            try:
                with urllib.request.urlopen(req, context=insecure, timeout=5) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, ""

        def alive():
            if proc.poll() is not None:
                raise Failure("the exporter exited with %s:\n%s" % (proc.returncode,
                                                                   (logs / "exporter.log").read_text()[-3000:]))
        # The kubelet's probes, as rendered: liveness without a password,
        # readiness with the header the values give it.
        live, ready = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
        ready_headers = [(h["name"], h["value"]) for h in ready.get("httpHeaders", [])]
        poll("the liveness probe", lambda: alive() or get(live["path"])[0] == 200, 30, **RETRY_UNANSWERED)
        expect("readiness without the password", get(ready["path"])[0], 401)
        poll("the readiness probe", lambda: alive() or get(ready["path"], ready_headers)[0] == 200, 60,
             **RETRY_UNANSWERED)
        status, body = get("/metrics", ready_headers)
        expect("/metrics status", status, 200)
        expect("apify_up", re.findall(r"(?m)^apify_up (\S+)$", body), ["1"])
        # ci/ha-pair-values.yaml selects two Actors and a task of the fake's
        # e2e account, one webhook each, and a webhook id it does not have.
        expect("webhooks watched", sorted(re.findall(r'(?m)^apify_webhook_info\{webhook_id="([^"]+)"', body)),
               WATCHED)
        proc.send_signal(signal.SIGTERM)
        expect("exit code after SIGTERM", proc.wait(timeout=15), 0)
        state = dirs[STATE_DIR] / "state.json"
        if not state.is_file():
            raise Failure("no state file in the state volume (%s)" % state)
        lines = (logs / "exporter.log").read_text().splitlines()
        if not lines or not all(line.startswith("{") for line in lines):
            raise Failure("logFormat json: the log is not JSON lines")
        if FAKE_TOKEN in "\n".join(lines):
            raise Failure("the token is in the log")
        return "watched " + ", ".join(WATCHED)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def main():
    global EXPORTER, FAKE_API
    for tool in (HELM, NODE_MODULES):
        if not tool.exists():
            print("check_helm: %s missing: run scripts/install-tools.sh --lint" % tool, file=sys.stderr)
            return 1
    failed = 0

    def step(what, fn, *args):
        nonlocal failed
        try:
            print("  ok: %s: %s" % (what, fn(*args)), flush=True)
        except Exception as e:  # every check reports, none stops the others
            failed += 1
            print("  FAILED: %s: %s" % (what, e), flush=True)

    with tempfile.TemporaryDirectory(prefix="check-helm-") as t:
        tmp = pathlib.Path(t)
        for name, args in value_sets():
            values = yaml.safe_load((CHART / "values.yaml").read_text())
            if args:
                values = merge(values, yaml.safe_load(pathlib.Path(args[1]).read_text()))
            print("values: %s" % name, flush=True)
            step("helm lint --strict", lambda: run([HELM, "lint", "--strict", CHART, *args]) and "clean")
            try:
                docs = render(args)
            except Failure as e:
                failed += 1
                print("  FAILED: helm template: %s" % e)
                continue
            sub = tmp / name
            sub.mkdir()
            step("kinds", lambda: " ".join(sorted(d["kind"] for d in docs)))
            step("Kubernetes %s schemas, strict" % ", ".join(KUBERNETES_VERSIONS),
                 lambda: "%d objects valid" % validate_core(docs, sub))
            step("Prometheus Operator schemas", lambda: "%d objects valid" % validate_operator(docs, sub))
            step("pod", check_pod, docs, name, values)
            if values["prometheusRule"]["enabled"]:
                step("PrometheusRule: promtool, same groups as prometheus/",
                     lambda: "%d rules" % check_rules(docs, values, sub))
            if values["dashboards"]["enabled"]:
                step("dashboard ConfigMaps hold dashboards/*.json", check_dashboards, docs, values)
        step("the chart's README lists every value", readme_lists_every_value)
        EXPORTER = binary("EXPORTER_BIN", "target/release/apify-webhook-exporter", [])
        FAKE_API = binary("FAKE_API_BIN", "target/release/examples/fake_api", ["--example", "fake_api"])
        print("the pods, run here", flush=True)
        for name, check in (("default values: no token, so it stops", without_a_token_it_stops),
                            ("the HA pair's pod: probed, scraped, stopped", run_like_the_pod)):
            sub = tmp / ("run-" + name.split(":")[0].replace(" ", "-").replace("'", ""))
            sub.mkdir()
            step(name, check, sub)
    if failed:
        print("check_helm: %d checks failed" % failed)
        return 1
    print("check_helm: all passed")
    return 0


def merge(base, over):
    """Helm's merge of a values file over the defaults (maps merge, the rest replaces)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


if __name__ == "__main__":
    sys.exit(main())
