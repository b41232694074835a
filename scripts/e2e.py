#!/usr/bin/env python3
"""End-to-end test of the exporter with the real Prometheus and Alertmanager.

    python3 scripts/e2e.py        (scripts/e2e.sh installs the programs first)

On 127.0.0.1 only, on free ports, it runs: the crate's fake Apify API as its
own process (examples/fake_api e2e: five webhooks, each a case the alerts
must tell apart, and a run a second of one Actor, each with its own new
ad-hoc webhook, described in examples/fake_api/e2e.rs), two exporters
reading it (an HA pair: same token, own ports, --interval 1s), a real
Prometheus scraping both as two targets of one job every second with the
bundled rules, a real Alertmanager with the notification template
deploy/notifications.tmpl, and three receivers for its notifications: a
webhook receiver, a Slack receiver (an HTTP server) and an e-mail receiver
(an SMTP sink, aiosmtpd); e2e_notify.py holds the last two and their
checks. It then proves, in order (CHECKS, below):

  1. every metric of the contract is scraped, with the right labels, from
     both exporters of the pair;
  2. all rule groups of prometheus/*.yml are loaded and evaluate without error;
  3. each failing webhook of the fake fires exactly the alerts it should, the
     healthy one fires none, Alertmanager delivers a webhook alert to the
     receiver, and the inhibit rules of deploy/alertmanager.yml suppress the
     failure-ratio alert that a 4xx receiver explains; the ad-hoc runs'
     webhooks, folded into one id (ad-hoc:<Actor id>), fire, are delivered
     and are inhibited the same way, however many runs there were; each
     webhook alert fires once for the pair, without an instance label; the
     Slack message and the e-mail of wh-misconfigured's
     ApifyWebhookReceiverMisconfigured read, line by line, as the template
     renders them (Actor, host, last status, failed dispatches and calls,
     run and runbook links), the e-mail's subject is the alert's summary,
     and the run linked is the run of a FAILED dispatch of that webhook in
     the fake, no older than the age shown;
  4. after the fake is told (on its stdin) to refuse the token, so that every
     answer is a 401, ApifyApiAuthFailing and ApifyRefreshFailing fire and
     the auth alert is delivered, once per exporter of the pair, each Slack
     message as the template renders an exporter alert; once it accepts the
     token again, apify_up is 1 again;
  5. every query of every dashboard panel, with its variables resolved from
     this Prometheus, returns data (at least one finite value), the
     drill-down also for the folded ad-hoc id, where only the panels of
     Apify's own count (FOLDED_EMPTY_PANELS) must be empty; every webhook
     is named "Actor / task — description · id" as its apify_webhook_info
     says; each row of the tables of failed deliveries links its run in
     Apify Console, the run of that FAILED dispatch in the fake; and however many
     ad-hoc runs the fake has made, the exporter shows exactly the regular
     webhooks' ids and the folded one;
  6. every webhook alert reached the receiver as one alert per (alertname,
     webhook_id); the exporter exits 0 on SIGTERM, and the other exporter
     of the pair keeps every webhook alert firing, none resolved;
  7. a second exporter (--demo) behind a web config (TLS with a certificate
     made by openssl, basic auth) is scraped by a second Prometheus over
     https with the password, and refused (401) with a wrong one.

The only change to the bundled rules: in a temporary copy, every `for:` is
shortened to 2s (they are minutes long), so alerts fire within the run.
Every wait is a poll with a deadline. Needs the PyPI package aiosmtpd
(scripts/install-tools.sh installs it). Environment:
  EXPORTER_BIN      exporter binary (default target/release/apify-webhook-exporter)
  FAKE_API_BIN      the fake API (default target/release/examples/fake_api)
  PROMETHEUS_BIN    default: prometheus
  ALERTMANAGER_BIN  default: prometheus-alertmanager
  E2E_KEEP=1        keep the temporary directory (configs, logs, TSDB)
"""
import datetime
import json
import math
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import dashboards  # noqa: E402
import e2e_notify  # noqa: E402
from testkit import Failure, free_port, http_get, poll, shorten  # noqa: E402

JOB = "apify-webhook-exporter"
# The token examples/fake_api's e2e scenario accepts (see its e2e.rs).
FAKE_TOKEN = "e2e-token"
FOR_IN_TEST = "2s"
RATE_INTERVAL = "4s"  # what Grafana derives from a 1s scrape interval (4 x)

# The id the exporter folds the fake's ad-hoc webhooks into: one per Actor
# (examples/fake_api/e2e.rs: every run of e2eAdHocActor01 has its own).
AD_HOC_ACTOR = "e2eAdHocActor01"
AD_HOC_ID = "ad-hoc:" + AD_HOC_ACTOR
# What each webhook of the fake must fire (and nothing else).
EXPECTED_WEBHOOK_ALERTS = {
    "wh-healthy": set(),
    "wh-misconfigured": {"ApifyWebhookReceiverMisconfigured", "ApifyWebhookFailureRatioHigh"},
    # 3 calls per SUCCEEDED dispatch: Flapping too (inhibited by Unavailable).
    "wh-flaky": {"ApifyWebhookReceiverUnavailable", "ApifyWebhookFailureRatioHigh",
                 "ApifyWebhookReceiverFlapping"},
    "wh-stalled": {"ApifyWebhookDispatchStuck", "ApifyWebhookNoRecentSuccess"},
    "wh-slow": {"ApifyWebhookReceiverSlow"},
    # 2 calls per SUCCEEDED dispatch: Flapping too (inhibited by Unavailable).
    AD_HOC_ID: {"ApifyWebhookReceiverUnavailable", "ApifyWebhookFailureRatioHigh",
                "ApifyWebhookReceiverFlapping"},
}
# Drill-down panels with no data for a folded id, by design: Apify keeps no
# count for it (apify_webhook_reported_dispatches_total). Empty for it, they
# must have data for every other webhook.
FOLDED_EMPTY_PANELS = {("webhook.json", "Reported by Apify")}
EXPORTER_ALERTS = {"ApifyExporterDown", "ApifyExportersAllDown", "ApifyExporterAbsent", "ApifyRefreshFailing",
                   "ApifyExporterRefreshStale", "ApifyApiAuthFailing", "ApifyApiRateLimited"}


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            detail = fn(*args)
        except Failure as e:
            self.failed += 1
            print("FAIL %s (%.1fs): %s" % (name, time.monotonic() - t0, e), flush=True)
            return False
        self.passed += 1
        print("ok   %s (%.1fs)%s" % (name, time.monotonic() - t0, ": " + detail if detail else ""), flush=True)
        return True


class Stack:
    """The processes and servers of one run, and their clean-up."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.servers = []
        self.notifications = []
        self.lock = threading.Lock()

    def start(self, name, args, env=None, stdin=subprocess.DEVNULL):
        log = open(self.tmp / ("%s.log" % name), "wb")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=stdin,
                             env=env, cwd=self.tmp, start_new_session=True)
        self.procs.append((name, p, log))
        return p

    def alive(self, proc, name):
        if proc.poll() is not None:
            raise Failure("%s exited with %s; log:\n%s" % (name, proc.returncode, self.log_tail(name)))

    def log_text(self, name):
        path = self.tmp / ("%s.log" % name)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name, lines=30):
        return "\n".join(self.log_text(name).splitlines()[-lines:])

    def receiver(self):
        """Alertmanager's webhook receiver: keeps every notification it gets."""
        def keep(_path, payload):
            with self.lock:
                self.notifications.append(payload)
        srv = e2e_notify.json_receiver(keep)
        self.servers.append(srv)
        return srv.server_address[1]

    def delivered(self, alertname, **labels):
        """Alerts Alertmanager delivered, firing, with that name and labels."""
        with self.lock:
            payloads = list(self.notifications)
        return [a for p in payloads for a in p.get("alerts", [])
                if a.get("status") == "firing" and a["labels"].get("alertname") == alertname
                and all(a["labels"].get(k) == v for k, v in labels.items())]

    def stop(self):
        for name, p, log in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p, log in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
            if p.stdin:
                p.stdin.close()
            log.close()
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()


class Prom:
    def __init__(self, base):
        self.base = base

    def api(self, path, **params):
        url = "%s/api/v1/%s?%s" % (self.base, path, urllib.parse.urlencode(params, doseq=True))
        status, body = http_get(url, timeout=10)
        if status != 200:
            raise Failure("GET %s: HTTP %s %s" % (url, status, shorten(body, 300)))
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise Failure("GET %s: %s" % (url, shorten(doc, 300)))
        return doc["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def query_range(self, expr, seconds, step=1):
        now = time.time()
        return self.api("query_range", query=expr, start=now - seconds, end=now, step=step)["result"]

    def alerts(self, state="firing"):
        return [a for a in self.api("alerts")["alerts"] if state is None or a["state"] == state]

    def value(self, expr):
        r = self.query(expr)
        return float(r[0]["value"][1]) if r else None


def write_configs(tmp, exporter_ports, am_port, receiver_port, slack_port, smtp_port):
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    shortened = 0
    for src in sorted((ROOT / "prometheus").glob("*.yml")):
        if src.name == "prometheus.yml":
            continue
        text = src.read_text()
        text, n = re.subn(r"(?m)^(\s+for:\s*)\S+\s*$", r"\g<1>" + FOR_IN_TEST, text)
        shortened += n
        (rules_dir / src.name).write_text(text)
    (tmp / "prometheus.yml").write_text("""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - rules/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:%d']
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%s]
""" % (am_port, JOB, ", ".join("'127.0.0.1:%d'" % p for p in exporter_ports)))
    (tmp / "alertmanager.yml").write_text(
        e2e_notify.alertmanager_receivers(ROOT, receiver_port, slack_port, smtp_port) + inhibit_rules())
    return shortened


def inhibit_rules():
    """The inhibit_rules block of deploy/alertmanager.yml (its last key), so the
    real Alertmanager runs the bundled inhibitions."""
    text = (ROOT / "deploy/alertmanager.yml").read_text()
    start = text.find("\ninhibit_rules:")
    if start < 0:
        raise Failure("deploy/alertmanager.yml has no top-level inhibit_rules")
    return text[start + 1:]


def rule_groups_on_disk():
    names = set()
    for src in (ROOT / "prometheus").glob("*.yml"):
        if src.name == "prometheus.yml":
            continue
        names.update(re.findall(r"(?m)^\s+- name:\s*(\S+)\s*$", src.read_text()))
    return names


def resolve_variables(prom, dashboard, prefer):
    """Grafana's variable values, from this Prometheus: All -> its allValue;
    a single-value variable -> `prefer` if it is among the values, else the
    first. Returns {name: value} and fails on a variable with no values."""
    values = {"__rate_interval": RATE_INTERVAL, "__interval": "1s", "__range": "5m",
              "__range_s": "300", "__interval_ms": "1000"}
    for var in dashboard["templating"]["list"]:
        name = var["name"]
        if var["type"] == "datasource":
            continue
        q = dashboards.variable_query(var)
        m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", q.strip(), re.S)
        r = re.fullmatch(r"query_result\((.*)\)", q.strip(), re.S)
        if m:
            match = substitute(m.group(1), values)
            found = prom.api("label/%s/values" % m.group(2), **{"match[]": match, "start": time.time() - 300})
        elif r:
            found = query_result_values(prom, var, substitute(r.group(1), values), values)
        else:
            raise Failure("variable $%s: unsupported query %r" % (name, q))
        if not found:
            raise Failure("variable $%s (%s) has no values" % (name, q))
        if var.get("includeAll"):
            values[name] = var.get("allValue") or "|".join(map(re.escape, found))
        else:
            values[name] = prefer.get(name) if prefer.get(name) in found else found[0]
        values["_found_" + name] = found
    return values


def query_result_values(prom, var, expr, values):
    """The values of a query_result() variable, its regex applied as Grafana
    applies it to the lines of the real result; for $webhook_id every
    option must be (name, id), the name "Actor / task — description · id"
    made of its apify_webhook_info series (dashboards.webhook_text), and
    the webhooks of EXPECTED_WEBHOOK_TEXTS must read exactly so."""
    series = prom.query(expr)
    options = dashboards.variable_options(var, dashboards.query_result_lines(series))
    if var["name"] == dashboards.WEBHOOK_VARIABLE:
        want = webhook_texts(prom, values)
        got = {value: text for text, value in options}
        if len(got) != len(options) or got != want:
            raise Failure("$%s options %r, not (name, id) pairs %r" % (var["name"], options, sorted(want.items())))
        for webhook_id, text in EXPECTED_WEBHOOK_TEXTS.items():
            if got.get(webhook_id) != text:
                raise Failure("$%s shows %s as %r, not %r" % (var["name"], webhook_id, got.get(webhook_id), text))
    return [value for _, value in options]


def webhook_texts(prom, values):
    """{webhook_id: the name the dashboards must show}, from the real
    apify_webhook_info series."""
    info = prom.query(substitute(dashboards.WEBHOOK_INFO, values))
    return {s["metric"]["webhook_id"]: dashboards.webhook_text(s["metric"]) for s in info}


def substitute(expr, values):
    """dashboards.substitute, failing the check on a variable it lacks."""
    try:
        return dashboards.substitute(expr, values)
    except KeyError as e:
        raise Failure("no value for variable $%s in %r" % (e.args[0], expr))


def finite_values(result):
    out = []
    for series in result:
        samples = series.get("values") or ([series["value"]] if "value" in series else [])
        out.extend(float(v) for _, v in samples if not math.isnan(float(v)) and not math.isinf(float(v)))
    return out


def main():
    exporter_bin = pathlib.Path(os.environ.get("EXPORTER_BIN", ROOT / "target/release/apify-webhook-exporter"))
    fake_bin = pathlib.Path(os.environ.get("FAKE_API_BIN", ROOT / "target/release/examples/fake_api"))
    prometheus_bin = os.environ.get("PROMETHEUS_BIN", "prometheus")
    alertmanager_bin = os.environ.get("ALERTMANAGER_BIN", "prometheus-alertmanager")
    for b in (str(exporter_bin), str(fake_bin), prometheus_bin, alertmanager_bin):
        if not shutil.which(b):
            print("e2e: %s not found (scripts/e2e.sh builds and installs what is missing)" % b)
            return 2

    # `timeout` (scripts/e2e.sh) sends SIGTERM: clean up as on any other exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="apify-e2e-"))
    stack = Stack(tmp)
    results = Results()
    try:
        run(Context(stack, tmp, exporter_bin, fake_bin, prometheus_bin, alertmanager_bin), results)
    except Failure as e:
        results.failed += 1
        print("FAIL setup: %s" % e, flush=True)
    finally:
        stack.stop()
        if results.failed:
            for name, _, _ in stack.procs:
                print("--- %s log (last lines) ---\n%s" % (name, stack.log_tail(name)))
        if os.environ.get("E2E_KEEP") == "1" or results.failed:
            print("e2e: files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("e2e: took %.0fs" % (time.monotonic() - started))
    print("e2e: %d passed, %d failed" % (results.passed, results.failed))
    return 1 if results.failed else 0


class Context:
    """What the checks share: the stack, its addresses and its processes."""

    def __init__(self, stack, tmp, exporter_bin, fake_bin, prometheus_bin, alertmanager_bin):
        self.stack = stack
        self.tmp = tmp
        self.exporter_bin = exporter_bin
        self.fake_bin = fake_bin
        self.prometheus_bin = prometheus_bin
        self.alertmanager_bin = alertmanager_bin
        self.fake = None
        self.api = None
        self.exporter = None
        self.exporter_url = None
        self.exporter_b = None  # the other exporter of the HA pair
        self.instances = []  # the pair's instance labels, exporter first
        self.sinks = None  # e2e_notify.Sinks: the Slack and e-mail receivers
        self.firing_before_stop = None  # e2e_notify.check_delivered_once notes them
        self.delivered_before_stop = None
        self.job = JOB
        self.prom = None
        self.am_port = None

    def ready(self, name, proc, url):
        def probe():
            self.stack.alive(proc, name)
            return http_get(url)[0] == 200
        poll("%s ready at %s" % (name, url), probe, timeout=30, interval=0.2)


def start_fake(ctx):
    """examples/fake_api's e2e scenario, as its own process; its base URL once
    it prints `listening <url>`. Its stdin stays open for control commands."""
    ctx.fake = ctx.stack.start("fake-api", [str(ctx.fake_bin), "e2e"], stdin=subprocess.PIPE)

    def listening():
        ctx.stack.alive(ctx.fake, "fake-api")
        m = re.search(r"(?m)^listening (\S+)$", ctx.stack.log_text("fake-api"))
        return m.group(1) if m else None
    return poll("fake API listening", listening, timeout=30, interval=0.1)


def fake_command(ctx, command, ack):
    """Sends one control command to the fake and waits for its acknowledgement."""
    seen = ctx.stack.log_text("fake-api").count(ack)
    try:
        ctx.fake.stdin.write((command + "\n").encode())
        ctx.fake.stdin.flush()
    except OSError as e:
        raise Failure("fake API: could not send %r: %s" % (command, e))
    poll("fake API acknowledges %r" % command,
         lambda: ctx.stack.log_text("fake-api").count(ack) > seen, timeout=10, interval=0.1)


def start_stack(ctx):
    """The fake, the HA pair of exporters reading it, Alertmanager and its
    receivers, Prometheus; all ready."""
    api = ctx.api = start_fake(ctx)
    receiver_port = ctx.stack.receiver()
    ctx.sinks, slack_port, smtp_port = e2e_notify.start(ctx.stack)
    exporter_port, exporter_b_port = free_port(), free_port()
    prom_port, ctx.am_port = free_port(), free_port()
    ctx.instances = ["127.0.0.1:%d" % exporter_port, "127.0.0.1:%d" % exporter_b_port]
    shortened = write_configs(ctx.tmp, [exporter_port, exporter_b_port], ctx.am_port, receiver_port,
                              slack_port, smtp_port)
    print("e2e: temp dir %s; 'for:' of %d rules shortened to %s in the copy" % (ctx.tmp, shortened, FOR_IN_TEST),
          flush=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith("APIFY_")}
    env.update(APIFY_TOKEN=FAKE_TOKEN, RUST_LOG=env.get("RUST_LOG", "info"))
    ctx.exporter = ctx.stack.start("exporter", [str(ctx.exporter_bin), "--api-base-url", api,
                                                "--listen", "127.0.0.1:%d" % exporter_port, "--interval", "1s"],
                                   env=env)
    # The HA pair's other half: same fake, same token, its own port (neither
    # has a state file).
    ctx.exporter_b = ctx.stack.start("exporter-b", [str(ctx.exporter_bin), "--api-base-url", api,
                                                    "--listen", "127.0.0.1:%d" % exporter_b_port,
                                                    "--interval", "1s"], env=env)
    tmp = ctx.tmp
    am = ctx.stack.start("alertmanager", [ctx.alertmanager_bin, "--config.file=%s" % (tmp / "alertmanager.yml"),
                                          "--storage.path=%s" % (tmp / "am"),
                                          "--web.listen-address=127.0.0.1:%d" % ctx.am_port,
                                          "--cluster.listen-address="])
    prometheus = ctx.stack.start("prometheus", [ctx.prometheus_bin, "--config.file=%s" % (tmp / "prometheus.yml"),
                                                "--storage.tsdb.path=%s" % (tmp / "tsdb"),
                                                "--web.listen-address=127.0.0.1:%d" % prom_port])
    ctx.prom = Prom("http://127.0.0.1:%d" % prom_port)
    ctx.exporter_url = "http://127.0.0.1:%d" % exporter_port
    ctx.ready("exporter", ctx.exporter, ctx.exporter_url + "/readyz")
    ctx.ready("exporter-b", ctx.exporter_b, "http://%s/readyz" % ctx.instances[1])
    ctx.ready("alertmanager", am, "http://127.0.0.1:%d/-/ready" % ctx.am_port)
    ctx.ready("prometheus", prometheus, ctx.prom.base + "/-/ready")


# 1. The contract's series, scraped.
def check_scraped(ctx):
    prom = ctx.prom
    poll("target up", lambda: prom.value('up{job="%s"}' % JOB) == 1, timeout=20)
    poll("apify_up == 1", lambda: prom.value('apify_up{job="%s"}' % JOB) == 1, timeout=20)
    names = [n for n in sorted(dashboards.CONTRACT) if n != "apify_exporter_refresh_errors_total"]

    def missing():
        return [n for n in names if not prom.query('count(%s{job="%s"})' % (n, JOB))] or None
    still = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        still = missing()
        if not still:
            break
        time.sleep(0.5)
    if still:
        raise Failure("not scraped: %s" % ", ".join(still))
    return "%d metric names" % len(names)


def check_labels(ctx):
    prom = ctx.prom
    info = {r["metric"]["webhook_id"]: r["metric"] for r in prom.query('apify_webhook_info{job="%s"}' % JOB)}
    if set(info) != set(EXPECTED_WEBHOOK_ALERTS):
        raise Failure("apify_webhook_info webhooks %s" % sorted(info))
    flaky = info["wh-flaky"]
    want = {"request_host": "etl.example.com", "description": "Warehouse loader",
            "actor_id": "actEtl000000001", "actor_task_id": "taskEtl00000001",
            "actor_name": "e2e/etl-loader", "actor_task_name": "e2e/nightly-load",
            "event_types": "ACTOR.RUN.SUCCEEDED,ACTOR.BUILD.SUCCEEDED", "do_not_retry": "false"}
    wrong = {k: flaky.get(k) for k, v in want.items() if flaky.get(k) != v}
    if wrong:
        raise Failure("apify_webhook_info{webhook_id=wh-flaky} has %s, want %s" % (wrong, want))
    # The folded id's info: no host (each run's webhook may have its own),
    # its Actor from the dispatches' eventData, no task. An empty label
    # value is no label in Prometheus.
    folded = {k: v for k, v in info[AD_HOC_ID].items() if k not in ("job", "instance", "__name__")}
    want = {"webhook_id": AD_HOC_ID, "is_ad_hoc": "true", "description": "ad-hoc webhooks",
            "actor_id": AD_HOC_ACTOR, "actor_name": "e2e/pipeline-runner"}
    if {k: v for k, v in folded.items() if k in want or k in ("request_host", "actor_task_id")} != want:
        raise Failure("apify_webhook_info{webhook_id=%s} has %s, want %s and no request_host or actor_task_id"
                      % (AD_HOC_ID, folded, want))
    # wh-slow's task may not be read (403): its name is empty, nothing fails.
    slow = info["wh-slow"]
    if slow.get("actor_name") != "e2e/search-indexer" or "actor_task_name" in slow:
        raise Failure("apify_webhook_info{webhook_id=wh-slow} has %s, want actor_name e2e/search-indexer"
                      " and no actor_task_name" % slow)
    not_regular = sorted(w for w, m in info.items() if m.get("is_ad_hoc") != "false")
    if not_regular != [AD_HOC_ID]:
        raise Failure("is_ad_hoc is not \"false\" for %s" % not_regular)
    # The folded id counts once, as one series set, however many runs.
    watched = prom.value('apify_exporter_webhooks{job="%s"}' % JOB)
    if watched != len(EXPECTED_WEBHOOK_ALERTS):
        raise Failure("apify_exporter_webhooks is %s, not %d" % (watched, len(EXPECTED_WEBHOOK_ALERTS)))
    statuses = {r["metric"]["response_status"] for r in prom.query(
        'apify_webhook_dispatch_calls_total{job="%s", webhook_id="wh-flaky"}' % JOB)}
    if not {"200", "503", "none"} <= statuses:
        raise Failure("wh-flaky response_status values %s" % sorted(statuses))
    return "info labels, webhook count, response_status values"


# 2. Rules loaded and healthy.
def check_rules_loaded(ctx):
    want = rule_groups_on_disk()

    def all_ok():
        groups = ctx.prom.api("rules")["groups"]
        names = {g["name"] for g in groups}
        if names != want:
            raise Failure("groups %s, want %s" % (sorted(names), sorted(want)))
        bad = [(r["name"], r.get("health"), r.get("lastError")) for g in groups for r in g["rules"]
               if r.get("health") != "ok"]
        if bad:
            raise Failure("rules not ok: %s" % bad)
        return sum(len(g["rules"]) for g in groups)
    n = poll("all rules evaluated ok", all_ok, timeout=20)
    return "%d groups, %d rules, all health ok" % (len(want), n)


# 3. The webhook alerts: exactly the expected ones.
def check_webhook_alerts(ctx):
    prom = ctx.prom

    def firing_by_webhook():
        out = {w: set() for w in EXPECTED_WEBHOOK_ALERTS}
        for a in prom.alerts(state=None):
            w = a["labels"].get("webhook_id")
            if w is not None and (a["state"] == "firing" or w == "wh-healthy"):
                out.setdefault(w, set()).add(a["labels"]["alertname"] + ("" if a["state"] == "firing" else "(pending)"))
        return out

    def expected_firing():
        got = firing_by_webhook()
        complete = all(want <= got.get(w, set()) for w, want in EXPECTED_WEBHOOK_ALERTS.items())
        return got if complete else None
    # ReceiverSlow needs 10 calls of wh-slow in its window, each 26 s long,
    # one a second: about 36 s after the fake starts, then its for:.
    got = poll("expected webhook alerts firing", expected_firing, timeout=90, interval=1)
    extra = {w: sorted(got[w] - EXPECTED_WEBHOOK_ALERTS.get(w, set())) for w in got
             if got[w] - EXPECTED_WEBHOOK_ALERTS.get(w, set())}
    if extra:
        raise Failure("unexpected webhook alerts: %s" % extra)
    exporter_firing = sorted({a["labels"]["alertname"] for a in prom.alerts()
                              if a["labels"]["alertname"] in EXPORTER_ALERTS})
    if exporter_firing:
        raise Failure("exporter alerts firing while all is well: %s" % exporter_firing)
    flaky = [a for a in prom.alerts() if a["labels"]["alertname"] == "ApifyWebhookFailureRatioHigh"
             and a["labels"].get("webhook_id") == "wh-flaky"]
    # The description queries the webhook's threshold series: 10% by default.
    if "the threshold is 10%." not in flaky[0]["annotations"].get("description", ""):
        raise Failure("FailureRatioHigh description lacks its threshold: %r" % flaky[0]["annotations"])
    for a in prom.alerts():
        ann = a.get("annotations", {})
        missing = [k for k in ("summary", "description", "runbook_url") if not ann.get(k)]
        if missing or "severity" not in a["labels"]:
            raise Failure("alert %s lacks %s" % (a["labels"], missing or ["severity"]))
    return "; ".join("%s: %s" % (w, ", ".join(sorted(got[w])) or "none") for w in sorted(got))


def check_delivered_webhook_alert(ctx):
    got = poll("ApifyWebhookReceiverMisconfigured delivered to the receiver",
               lambda: ctx.stack.delivered("ApifyWebhookReceiverMisconfigured", webhook_id="wh-misconfigured"),
               timeout=30)
    a = got[0]
    if a["labels"].get("description") != "Slack alerts (old URL)" \
            or not a["annotations"].get("runbook_url", "").endswith("#apifywebhookreceivermisconfigured"):
        raise Failure("delivered alert lacks its description label or runbook: %s" % shorten(a))
    # The folded ad-hoc webhooks' receiver alert: its summary names them and
    # the Actor (in the folded id), with no host (none is theirs alone).
    got = poll("ApifyWebhookReceiverUnavailable of %s delivered to the receiver" % AD_HOC_ID,
               lambda: ctx.stack.delivered("ApifyWebhookReceiverUnavailable", webhook_id=AD_HOC_ID), timeout=30)
    folded = got[0]
    summary = folded["annotations"].get("summary", "")
    want = 'Receiver of webhook "ad-hoc webhooks" (e2e/pipeline-runner, %s) is failing (5xx or no answer)' % AD_HOC_ID
    if summary != want or folded["labels"].get("description") != "ad-hoc webhooks" \
            or "request_host" in folded["labels"]:
        raise Failure("delivered alert of %s: summary %r, want %r; labels %s"
                      % (AD_HOC_ID, summary, want, folded["labels"]))
    return "severity=%s summary=%r; %r" % (a["labels"].get("severity"), a["annotations"].get("summary"), summary)


def check_inhibited(ctx):
    """wh-misconfigured's by its 4xx alert; the folded ad-hoc id's by its
    5xx one."""
    def suppressed(webhook_id):
        alerts = e2e_notify.am_alerts(ctx, alertname="ApifyWebhookFailureRatioHigh",
                                      webhook_id=webhook_id)
        if not alerts:
            raise Failure("Alertmanager has no ApifyWebhookFailureRatioHigh for %s" % webhook_id)
        st = alerts[0]["status"]
        return st if st["state"] == "suppressed" and st.get("inhibitedBy") else None
    out = []
    for webhook_id in ("wh-misconfigured", AD_HOC_ID):
        st = poll("FailureRatioHigh of %s inhibited" % webhook_id, lambda w=webhook_id: suppressed(w), timeout=20)
        out.append("%s suppressed, inhibited by %d alert(s)" % (webhook_id, len(st["inhibitedBy"])))
    return "; ".join(out)


# 4. The API rejects the token, then accepts it again.
def check_auth_alerts(ctx):
    prom = ctx.prom
    fake_command(ctx, "revoke-token", ack="token revoked")
    poll("apify_up == 0 on both exporters",
         lambda: prom.value('count(apify_up{job="%s"} == 0)' % JOB) == len(ctx.instances), timeout=20)
    poll("ApifyApiAuthFailing and ApifyRefreshFailing firing",
         lambda: {"ApifyApiAuthFailing", "ApifyRefreshFailing"} <= {a["labels"]["alertname"] for a in prom.alerts()},
         timeout=40, interval=1)
    got = poll("ApifyApiAuthFailing delivered", lambda: ctx.stack.delivered("ApifyApiAuthFailing", job=JOB),
               timeout=30)
    reasons = {r["metric"]["reason"] for r in prom.query('apify_exporter_refresh_errors_total{job="%s"} > 0' % JOB)}
    if "auth" not in reasons:
        raise Failure("refresh errors by reason: %s, want auth" % sorted(reasons))
    return "delivered with severity=%s" % got[0]["labels"].get("severity")


def check_recovers(ctx):
    fake_command(ctx, "accept-token", ack="token accepted")
    poll("apify_up == 1 again on both exporters",
         lambda: ctx.prom.value('count(apify_up{job="%s"} == 1)' % JOB) == len(ctx.instances), timeout=20)
    # Let a few more scrapes in, so $__rate_interval windows after the
    # outage have data again.
    target = time.time() + 6
    poll("a few scrapes after recovery", lambda: time.time() >= target, timeout=10)


# The names the dashboards must show for two webhooks of the fake (names
# from examples/fake_api/e2e.rs; wh-slow's task may not be read: no task).
EXPECTED_WEBHOOK_TEXTS = {
    "wh-flaky": "e2e/etl-loader / e2e/nightly-load — Warehouse loader · wh-flaky",
    "wh-slow": "e2e/search-indexer — Search index refresh · wh-slow",
}
# The fake's webhooks with FAILED dispatches, each of which a table of
# failed deliveries must show with its run.
FAILED_RUN_WEBHOOKS = {"wh-misconfigured", "wh-flaky", "wh-stalled", AD_HOC_ID}
RUN_URL = "https://console.apify.com/view/runs/"


def fake_dispatch(ctx, dispatch_id):
    """The fake's dispatch, as GET /v2/webhook-dispatches/:id answers it."""
    url = "%s/v2/webhook-dispatches/%s" % (ctx.api, urllib.parse.quote(dispatch_id, safe=""))
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + FAKE_TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())["data"]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
        raise Failure("GET %s: %s" % (url, e))


def created_ms(dispatch):
    stamp = dispatch.get("createdAt") or ""
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        raise Failure("dispatch %s: createdAt %r" % (dispatch.get("id"), stamp))


def check_run_links(ctx, panel, target, result, webhook_ids, where):
    """A table of failed deliveries: each row's run cell links, as Grafana
    builds the link from the row, to the Console page of the run of that
    FAILED dispatch of that webhook (the fake's own record); the webhooks
    `webhook_ids` each have a row with a run. Returns the rows checked."""
    url = dashboards.run_link(panel)
    with_run = set()
    for series in result:
        row = series["metric"]
        run_id, dispatch_id = row.get(dashboards.RUN_FIELD, ""), row.get("dispatch_id", "")
        if not run_id:
            continue
        d = fake_dispatch(ctx, dispatch_id)
        owner_ok = (d.get("webhookId") == row["webhook_id"] if not row["webhook_id"].startswith("ad-hoc:")
                    else "ad-hoc:" + (d.get("eventData") or {}).get("actorId", "") == row["webhook_id"])
        if not owner_ok or d.get("status") != "FAILED" or (d.get("eventData") or {}).get("actorRunId") != run_id:
            raise Failure("%s: row %s is not the fake's FAILED dispatch of that run: %s" % (where, row, shorten(d)))
        link = dashboards.render_link(url, row, dashboards.RUN_FIELD, panel)
        if link != RUN_URL + run_id:
            raise Failure("%s: the run cell of %s links to %r, not %r" % (where, row, link, RUN_URL + run_id))
        # Its value is the dispatch's createdAt: in ms where shown as a time.
        scale = 1 if target["expr"].lstrip().startswith("1000 *") else 1000
        if abs(float(series["value"][1]) * scale - created_ms(d)) > 1:
            raise Failure("%s: row %s shows %s, not the dispatch's createdAt %s"
                          % (where, row, series["value"][1], created_ms(d)))
        with_run.add(row["webhook_id"])
    if not webhook_ids <= with_run:
        raise Failure("%s: no row with a run for %s (rows with one: %s)"
                      % (where, sorted(webhook_ids - with_run), sorted(with_run)))
    return len(with_run)


def check_names(result, texts, where, joined):
    """Every series naming a webhook (`webhook`) names it as the dashboards
    must: dashboards.webhook_text of its apify_webhook_info; a query that
    joins the names (`joined`) names every series."""
    for series in result:
        m = series["metric"]
        if joined and "webhook" not in m:
            raise Failure("%s: series %s has no `webhook` name" % (where, m))
        if "webhook" in m and m["webhook"] != texts.get(m.get("webhook_id")):
            raise Failure("%s: webhook %s is named %r, not %r"
                          % (where, m.get("webhook_id"), m["webhook"], texts.get(m.get("webhook_id"))))


# The webhooks the on-call panels must list: those expected to alert.
ALERTING_WEBHOOKS = {w for w, alerts in EXPECTED_WEBHOOK_ALERTS.items() if alerts}


def table_rows(panel, results):
    """The rows of a table panel as Grafana shows them: each query (format
    table) a frame of its series' labels and `Value #<refId>` (`Value` for a
    single query), merged when the panel has a merge transformation: rows
    of different frames that agree on every field all frames have become
    one. `results` is {refId: instant result}."""
    single = len(results) == 1
    frames = []
    for ref, result in results.items():
        columns = {k for series in result for k in series["metric"] if k != "__name__"}
        value = "Value" if single else "Value #" + ref
        frames.append((columns, [dict({c: series["metric"].get(c, "") for c in columns},
                                      **{value: series["value"][1]}) for series in result]))
    if not any(t.get("id") == "merge" for t in panel.get("transformations") or []):
        return [row for _, rows in frames for row in rows]
    common = sorted(set.intersection(*[columns for columns, _ in frames])) if frames else []
    merged = {}
    for _, rows in frames:
        for row in rows:
            merged.setdefault(tuple(row[c] for c in common), {}).update(row)
    return list(merged.values())


def check_oncall_panels(ctx, dashboard, values):
    """The overview's on-call panels, with every webhook alert of the fake
    firing: "Failing webhooks now" counts ALERTING_WEBHOOKS; "Failing
    webhooks", merged as Grafana merges its queries, has exactly one row
    per webhook of ALERTING_WEBHOOKS; "Latest failed deliveries" at most
    one per webhook; "Oldest webhook alert: active for" is the age of the
    oldest firing webhook alert's activeAt (Alertmanager's StartsAt).
    Polled: the alerts may still be settling after the recovery check."""
    by_title = {p["title"]: p for p in dashboards.panels(dashboard)}

    def instant(title):
        p = by_title[title]
        return p, {t["refId"]: ctx.prom.query(substitute(t["expr"], values)) for t in p["targets"]}

    def settled():
        _, now = instant("Failing webhooks now")
        count = [float(s["value"][1]) for s in now["A"]]
        if count != [len(ALERTING_WEBHOOKS)]:
            raise Failure("Failing webhooks now shows %s, not %d" % (count, len(ALERTING_WEBHOOKS)))
        panel, results = instant("Failing webhooks")
        rows = table_rows(panel, results)
        ids = sorted(r.get("webhook_id") for r in rows)
        if ids != sorted(ALERTING_WEBHOOKS):
            raise Failure("Failing webhooks has the rows %s, not one for each of %s"
                          % (ids, sorted(ALERTING_WEBHOOKS)))
        if any(not r.get("webhook") for r in rows):
            raise Failure("Failing webhooks has a row without a name: %s" % rows)
        panel, results = instant("Latest failed deliveries")
        keys = [(r.get("job"), r.get("webhook_id")) for r in table_rows(panel, results)]
        if len(keys) != len(set(keys)) or {w for _, w in keys} != FAILED_RUN_WEBHOOKS:
            raise Failure("Latest failed deliveries has the rows %s, not one for each of %s"
                          % (sorted(keys), sorted(FAILED_RUN_WEBHOOKS)))
        _, oldest = instant("Oldest webhook alert: active for")
        firing = [a for a in ctx.prom.alerts() if a["labels"].get("webhook_id")]
        if not oldest["A"] or not firing:
            raise Failure("Oldest webhook alert: %s, firing webhook alerts: %d" % (oldest["A"], len(firing)))
        at, shown = float(oldest["A"][0]["value"][0]), float(oldest["A"][0]["value"][1])
        active = min(datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", a["activeAt"])
                                                     .replace("Z", "+00:00")).timestamp() for a in firing)
        # ALERTS_FOR_STATE keeps whole seconds.
        if not 0 <= shown - (at - active) < 1.5:
            raise Failure("Oldest webhook alert shows %.1f s, the oldest firing one is active for %.1f s"
                          % (shown, at - active))
        return "on-call: %d failing webhooks, one row each, the oldest alert active for %.0f s" % (
            len(rows), shown)

    return poll("the on-call panels", settled, timeout=30)


# 5. Every dashboard query returns data.
def check_dashboard_queries(ctx):
    """Each dashboard for wh-flaky, and one with a single $webhook_id (the
    drill-down) for the folded ad-hoc id too: there exactly the panels of
    FOLDED_EMPTY_PANELS must be empty, every other must have data. Tables
    name webhooks as the selector does, and the tables of failed
    deliveries link each row's run (check_run_links)."""
    prom = ctx.prom
    total = 0
    empty = []
    has_data = []
    run_rows = 0
    for path, d in dashboards.load():
        variables = {v["name"]: v for v in d["templating"]["list"]}
        webhook_ids = ["wh-flaky"]
        if "webhook_id" in variables and not variables["webhook_id"].get("includeAll"):
            webhook_ids.append(AD_HOC_ID)
        for webhook_id in webhook_ids:
            values = resolve_variables(prom, d, prefer={"webhook_id": webhook_id})
            if "webhook_id" in variables:
                if set(values["_found_webhook_id"]) != set(EXPECTED_WEBHOOK_ALERTS):
                    raise Failure("%s: $webhook_id values %s" % (path.name, values["_found_webhook_id"]))
                if len(webhook_ids) > 1 and values["webhook_id"] != webhook_id:
                    raise Failure("%s: $webhook_id resolved to %s, not %s"
                                  % (path.name, values["webhook_id"], webhook_id))
            texts = webhook_texts(prom, values)
            if path.name == dashboards.ONCALL_DASHBOARD:
                oncall = check_oncall_panels(ctx, d, values)
            selected = {webhook_id} if len(webhook_ids) > 1 else FAILED_RUN_WEBHOOKS
            for panel, t in dashboards.queries(d):
                expr = substitute(t["expr"], values)
                total += 1
                result = prom.query(expr) if t.get("instant") else prom.query_range(expr, 60, 2)
                where = "%s / %s [%s] for %s: %s" % (path.name, panel["title"], t["refId"], webhook_id, expr)
                check_names(result, texts, where, bool(dashboards.NAME_JOIN.search(t["expr"])))
                if dashboards.run_link(panel) and "apify_webhook_last_failed_dispatch_info" in t["expr"]:
                    run_rows += check_run_links(ctx, panel, t, result, selected & FAILED_RUN_WEBHOOKS, where)
                folded_empty = webhook_id == AD_HOC_ID and (path.name, panel["title"]) in FOLDED_EMPTY_PANELS
                if folded_empty and result:
                    has_data.append(where)
                elif not folded_empty and not finite_values(result):
                    empty.append(where)
    if empty or has_data:
        raise Failure("of %d queries, %d returned no finite value:\n  %s\nand %d returned series for the folded id, "
                      "where Apify has no count:\n  %s"
                      % (total, len(empty), "\n  ".join(empty), len(has_data), "\n  ".join(has_data)))
    return ("%d queries over %d dashboards (the drill-down for %s too), all with data but %s for %s; "
            "%d rows of failed deliveries link their run; %s" % (
                total, len(dashboards.load()), AD_HOC_ID, sorted(t for _, t in FOLDED_EMPTY_PANELS), AD_HOC_ID,
                run_rows, oncall))


def fake_ad_hoc_webhooks(ctx):
    """How many ad-hoc webhooks the fake lists now (one per run so far)."""
    count, offset = 0, 0
    for _ in range(1000):
        req = urllib.request.Request("%s/v2/webhooks?limit=1000&offset=%d" % (ctx.api, offset),
                                     headers={"Authorization": "Bearer " + FAKE_TOKEN})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                data = json.loads(r.read())["data"]
            items, total = data["items"], data["total"]
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
            raise Failure("GET %s/v2/webhooks: %s" % (ctx.api, e))
        count += sum(1 for w in items if w.get("isAdHoc") is True)
        offset += len(items)
        if not items or offset >= total:
            return count
    raise Failure("the fake's webhook list does not end")


def exporter_series(ctx):
    status, body = http_get(ctx.exporter_url + "/metrics")
    if status != 200:
        raise Failure("GET %s/metrics: HTTP %s" % (ctx.exporter_url, status))
    return body


def folded_dispatches(text):
    """Dispatches of the folded id the exposition counts: ended + ACTIVE."""
    pattern = (r'(?m)^apify_webhook_dispatches_(?:total|active)\{[^}]*webhook_id="%s"[^}]*\} (\S+)$'
               % re.escape(AD_HOC_ID))
    return sum(float(v) for v in re.findall(pattern, text))


# 5b. However many runs with ad-hoc webhooks, one webhook_id for them.
def check_folded_bounded(ctx):
    runs = fake_ad_hoc_webhooks(ctx)
    text = exporter_series(ctx)
    ids = set(re.findall(r'webhook_id="([^"]*)"', text))
    if ids != set(EXPECTED_WEBHOOK_ALERTS):
        raise Failure("the exporter shows %d webhook_id values %s, want %s"
                      % (len(ids), sorted(ids), sorted(EXPECTED_WEBHOOK_ALERTS)))
    if runs < 10:
        raise Failure("only %d ad-hoc runs in the fake: too few to tell folding from one series set a run" % runs)
    counted = folded_dispatches(text)
    # /metrics was read after the fake's list: at most the runs it listed,
    # and all but the last few (made since the exporter's last refresh).
    if not runs - 5 <= counted <= runs:
        raise Failure("%s counts %s dispatches (ended + ACTIVE), the fake has %d ad-hoc runs"
                      % (AD_HOC_ID, counted, runs))
    for family in ("apify_webhook_reported_dispatches_total", "apify_webhook_unaccounted_dispatches"):
        with_it = set(re.findall(r'(?m)^%s\{[^}]*webhook_id="([^"]*)"' % family, text))
        if with_it != set(EXPECTED_WEBHOOK_ALERTS) - {AD_HOC_ID}:
            raise Failure("%s for %s, want every regular webhook and not %s" % (family, sorted(with_it), AD_HOC_ID))
    watched = re.findall(r"(?m)^apify_exporter_webhooks (\S+)$", text)
    if watched != [str(len(EXPECTED_WEBHOOK_ALERTS))]:
        raise Failure("apify_exporter_webhooks %s, want %d" % (watched, len(EXPECTED_WEBHOOK_ALERTS)))
    return "%d ad-hoc runs -> %d webhook_id values, %s counting %d dispatches; apify_exporter_webhooks %s" % (
        runs, len(ids), AD_HOC_ID, counted, watched[0])


# 6. Graceful stop.
def check_stops_cleanly(ctx):
    os.killpg(ctx.exporter.pid, signal.SIGTERM)
    try:
        code = ctx.exporter.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise Failure("the exporter did not exit within 10s of SIGTERM")
    if code != 0:
        raise Failure("the exporter exited %s on SIGTERM" % code)
    return "exit 0"


# 7. TLS and basic auth, scraped by a real Prometheus.
# bcrypt (cost 4) of the password below: a test credential, nothing else.
TLS_PASSWORD = "e2e-scrape-password"
TLS_PASSWORD_HASH = "$2b$04$.xZ3Bk0O3h82gcgGvyv8OeL05PticuA8mb4JQ3BgYjbty0rdLxTUe"


def check_tls_scrape(ctx):
    """A second exporter (--demo) behind APIFY_EXPORTER_WEB_CONFIG, and a
    second Prometheus with two jobs: the right password, and a wrong one."""
    stack, tmp = ctx.stack, ctx.tmp
    tls = tmp / "tls"
    tls.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(tls / "server.key"), "-out", str(tls / "server.crt")],
                   check=True, capture_output=True)
    (tls / "web.yml").write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                 "basic_auth_users:\n  prometheus: '%s'\n" % TLS_PASSWORD_HASH)
    port, prom_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APIFY_")}
    exporter = stack.start("exporter-tls", [str(ctx.exporter_bin), "--demo", "--interval", "1s",
                                            "--listen", "127.0.0.1:%d" % port,
                                            "--web-config", str(tls / "web.yml")], env=env)
    job = """\
  - job_name: %s
    scheme: https
    tls_config:
      ca_file: %s
      server_name: localhost
    basic_auth:
      username: prometheus
      password: %s
    static_configs:
      - targets: ['127.0.0.1:%d']
"""
    (tls / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        + job % ("tls", tls / "server.crt", TLS_PASSWORD, port)
        + job % ("tls-wrong-password", tls / "server.crt", "not-the-password", port))
    prometheus = stack.start("prometheus-tls", [ctx.prometheus_bin, "--config.file=%s" % (tls / "prometheus.yml"),
                                                "--storage.tsdb.path=%s" % (tls / "tsdb"),
                                                "--web.listen-address=127.0.0.1:%d" % prom_port])
    prom = Prom("http://127.0.0.1:%d" % prom_port)
    ctx.ready("prometheus-tls", prometheus, prom.base + "/-/ready")
    stack.alive(exporter, "exporter-tls")
    poll("the TLS job is up", lambda: prom.value('up{job="tls"}') == 1, timeout=30)
    poll("apify_up over TLS", lambda: prom.value('apify_up{job="tls"}') == 1, timeout=30)
    poll("the wrong password is refused", lambda: prom.value('up{job="tls-wrong-password"}') == 0, timeout=30)
    errors = [t.get("lastError", "") for t in prom.api("targets")["activeTargets"]
              if t["labels"]["job"] == "tls-wrong-password"]
    if not any("401" in e for e in errors):
        raise Failure("the wrong-password target failed, but not with 401: %s" % errors)
    return "up over https with the password; 401 without it"


# Run in this order: each check may rely on the state the previous ones left.
CHECKS = [
    ("the contract's metrics are scraped", check_scraped),
    ("both exporters of the HA pair are scraped, as two targets of the job",
     e2e_notify.check_pair_scraped),
    ("series carry the expected labels", check_labels),
    ("the bundled rule groups load and evaluate", check_rules_loaded),
    ("failing webhooks fire their alerts, the healthy one none", check_webhook_alerts),
    ("each webhook alert fires once for the HA pair, without an instance", e2e_notify.check_webhook_alerts_once),
    ("Alertmanager delivers the webhook alerts, the folded id's naming ad-hoc webhooks",
     check_delivered_webhook_alert),
    ("Slack and e-mail render ApifyWebhookReceiverMisconfigured as the template says",
     lambda ctx: e2e_notify.check_webhook_alert_rendered(ctx, fake_dispatch)),
    ("the bundled inhibit rules suppress the consequence of a failing receiver", check_inhibited),
    ("a 401 from Apify fires and delivers ApifyApiAuthFailing", check_auth_alerts),
    ("ApifyApiAuthFailing fires once per exporter of the pair",
     e2e_notify.check_exporter_alerts_per_instance),
    ("Slack renders ApifyApiAuthFailing without webhook lines, one message per exporter",
     e2e_notify.check_exporter_alert_rendered),
    ("the exporter recovers when the token works again", check_recovers),
    ("every dashboard panel query returns data", check_dashboard_queries),
    ("ad-hoc runs fold into one webhook_id, however many", check_folded_bounded),
    ("every webhook alert reached the receiver as one alert per (alertname, webhook_id)",
     e2e_notify.check_delivered_once),
    ("the exporter exits 0 on SIGTERM", check_stops_cleanly),
    ("with one exporter of the pair stopped, the other keeps every webhook alert firing",
     e2e_notify.check_pair_survives_one),
    ("Prometheus scrapes over TLS with basic auth, and not with a wrong password", check_tls_scrape),
]


def run(ctx, results):
    start_stack(ctx)
    for name, check in CHECKS:
        results.check(name, check, ctx)


if __name__ == "__main__":
    sys.exit(main())
