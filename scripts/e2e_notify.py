"""Notifications and the HA pair, for the end-to-end test (scripts/e2e.py).

The e2e's Alertmanager loads deploy/notifications.tmpl and delivers every
alert to three local receivers: the webhook receiver of e2e.py, a Slack
receiver (slack_configs posting to an HTTP server here, SLACK_PATH) and an
e-mail receiver (email_configs to an SMTP sink here, aiosmtpd). The Slack
and e-mail fields (title, text, Subject, html) are read from the commented
examples of deploy/alertmanager.yml, so what is proven is what the example
receivers send. The checks here assert the rendered text line by line:
literal, but for the times (the alert's StartsAt, checked against
Alertmanager's own), the run id and its age, and the counts of failures of
the last hour (which move with the fake), and the description annotation
(its wording is the rule's, compared with the one Alertmanager holds for
the alert). The linked run must be the run of a FAILED dispatch of that
webhook in the fake, and its age at most that dispatch's.

Two exporters read the same fake (an HA pair, two targets of one job): the
checks prove that each webhook alert fires once, without an instance label,
and is delivered once per (alertname, webhook_id), while exporter alerts
stay one per instance.
"""
import asyncio
import datetime
import email
import email.policy
import html
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

import alertmanager_examples
import runbook_urls
from testkit import Failure, free_port, http_get, poll

SLACK_PATH = "/slack"
MAIL_FROM = "alertmanager@e2e.example"
MAIL_TO = "oncall@e2e.example"
# The base of every runbook_url of prometheus/alerts.yml, as
# scripts/runbook_urls.py set it (check-assets requires there is one).
RUNBOOK = next(base for path, base, _ in runbook_urls.urls() if path.name == "alerts.yml")
# As Prometheus' humanizeDuration writes it: "3d 2h", "5m 3s", "12.5s", and
# under a second "997ms", "12.3us".
AGE = r"(\d+(?:\.\d+)?(?:ms|us|µs|ns|[dhms])(?: \d+[hms])?)"
# The fields of the commented examples of deploy/alertmanager.yml that the
# e2e's receivers take, by notifier.
EXAMPLE_FIELDS = {"slack_configs": ("title", "text"), "email_configs": ("Subject", "html", "text")}


def example_fields():
    """{notifier: {field: value}} of the Slack and e-mail examples of
    deploy/alertmanager.yml (commented out there), uncommented as
    check-assets.sh checks them with amtool."""
    config = alertmanager_examples.uncommented()
    out = {}
    for notifier, keys in EXAMPLE_FIELDS.items():
        out[notifier] = {}
        for key in keys:
            value = alertmanager_examples.template_field(config, notifier, key)
            if not value:
                raise Failure("deploy/alertmanager.yml has no commented %s example with `%s: '{{ template ... }}'`"
                              % (notifier, key))
            out[notifier][key] = value
    return out


def alertmanager_receivers(root, webhook_port, slack_port, smtp_port):
    """The `templates`, `route` and `receivers` of the e2e's Alertmanager:
    every alert to all three receivers."""
    examples = example_fields()
    slack, mail = examples["slack_configs"], examples["email_configs"]
    return """\
templates:
  - %(template)s
route:
  receiver: webhook
  group_by: [alertname, job, instance, webhook_id]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: webhook
      continue: true
    - receiver: slack
      continue: true
    - receiver: email
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:%(webhook_port)d/alerts
        send_resolved: true
  - name: slack
    slack_configs:
      - api_url: http://127.0.0.1:%(slack_port)d%(slack_path)s
        channel: '#e2e'
        send_resolved: true
        title: %(slack_title)s
        text: %(slack_text)s
  - name: email
    email_configs:
      - to: %(to)s
        from: %(from)s
        smarthost: 127.0.0.1:%(smtp_port)d
        require_tls: false
        send_resolved: true
        headers:
          Subject: %(mail_subject)s
        html: %(mail_html)s
        text: %(mail_text)s
""" % {"template": root / "deploy/notifications.tmpl", "webhook_port": webhook_port, "slack_port": slack_port,
       "slack_path": SLACK_PATH, "to": MAIL_TO, "from": MAIL_FROM, "smtp_port": smtp_port,
       "slack_title": slack["title"], "slack_text": slack["text"],
       "mail_subject": mail["Subject"], "mail_html": mail["html"], "mail_text": mail["text"]}


def json_receiver(keep):
    """An HTTP server on 127.0.0.1 (a free port) that answers every POST 200
    and hands its path and JSON body (or {"unparsable": text}) to keep."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {"unparsable": body.decode(errors="replace")}
            keep(self.path, payload)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Sinks:
    """The Slack and SMTP receivers: they keep what Alertmanager sends, and
    write it to `tmp` (slack.jsonl, mail-<n>.eml) for a look afterwards
    (E2E_KEEP=1)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.lock = threading.Lock()
        self.slack = []  # Slack payloads (dicts)
        self.mails = []  # email.message.EmailMessage

    def slack_server(self):
        def keep(path, payload):
            with self.lock:
                self.slack.append(payload if path == SLACK_PATH else {"wrong path": path})
                with open(self.tmp / "slack.jsonl", "a") as f:
                    f.write(json.dumps(payload) + "\n")
        return json_receiver(keep)

    def smtp_server(self, port):
        """aiosmtpd on 127.0.0.1:port; returns what Stack.stop can stop."""
        sinks = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sinks.lock:
                    sinks.mails.append(msg)
                    (sinks.tmp / ("mail-%d.eml" % len(sinks.mails))).write_bytes(envelope.content)
                return "250 OK"

        controller = Controller(Handler(), hostname="127.0.0.1", port=port, ready_timeout=10)
        controller.start()
        return SmtpSink(controller)

    def slack_messages(self):
        with self.lock:
            return [(p.get("attachments") or [{}])[0] for p in self.slack]

    def mail_messages(self):
        with self.lock:
            return list(self.mails)


class SmtpSink:
    """Stops the SMTP controller the way e2e.py's Stack stops its servers."""

    def __init__(self, controller):
        self.controller = controller

    def shutdown(self):
        try:
            self.controller.stop()
        except (RuntimeError, AssertionError, asyncio.CancelledError):
            pass

    def server_close(self):
        pass


def start(stack):
    """Starts both sinks, registered with the stack for clean-up; returns
    (sinks, slack port, smtp port)."""
    sinks = Sinks(stack.tmp)
    slack = sinks.slack_server()
    stack.servers.append(slack)
    smtp_port = free_port()
    stack.servers.append(sinks.smtp_server(smtp_port))
    return sinks, slack.server_address[1], smtp_port


# --- what Alertmanager holds --------------------------------------------------

def am_alerts(ctx, **labels):
    """Alertmanager's alerts (API v2) with these labels."""
    filters = ['%s="%s"' % kv for kv in sorted(labels.items())]
    url = "http://127.0.0.1:%d/api/v2/alerts?%s" % (ctx.am_port, urllib.parse.urlencode({"filter": filters},
                                                                                         doseq=True))
    status, body = http_get(url)
    if status != 200:
        raise Failure("GET %s: HTTP %s" % (url, status))
    return json.loads(body)


def utc_time(rfc3339):
    """Go's `.UTC.Format "2006-01-02 15:04:05 UTC"` of an RFC 3339 time."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)", rfc3339)
    if not m:
        raise Failure("not an RFC 3339 time: %r" % rfc3339)
    zone = "+00:00" if m.group(2) == "Z" else m.group(2)
    t = datetime.datetime.fromisoformat(m.group(1) + zone).astimezone(datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def slack_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- line-by-line comparison --------------------------------------------------

class Pattern:
    """An expected line matched by a regular expression (the whole line)."""

    def __init__(self, regex, shown):
        self.regex = re.compile(regex)
        self.shown = shown

    def __repr__(self):
        return "/%s/" % self.shown


def mismatches(text, expected):
    """[] when `text`'s lines are `expected` (strings equal, Patterns
    matching), else a description of each difference; also the Pattern
    matches' groups, for cross-checks."""
    got = text.split("\n")
    out, groups = [], []
    for i in range(max(len(got), len(expected))):
        g = got[i] if i < len(got) else "<no line>"
        e = expected[i] if i < len(expected) else "<no line>"
        if isinstance(e, Pattern):
            m = e.regex.fullmatch(g)
            if m:
                groups.append(m.groups())
                continue
        elif g == e:
            continue
        out.append("line %d: got %r, want %r" % (i + 1, g, e))
    return out, groups


def pick(messages, what, render, expected):
    """The first message whose rendering (render(m)) matches `expected`;
    Failure with the closest one's differences when none does."""
    best = None
    for m in messages:
        diff, groups = mismatches(render(m), expected)
        if not diff:
            return m, groups
        if best is None or len(diff) < len(best):
            best = diff
    if best is None:
        raise Failure("no %s yet" % what)
    raise Failure("%s: no message renders as expected; the closest differs in:\n    %s"
                  % (what, "\n    ".join(best)))


# --- the expected renderings --------------------------------------------------

MISCONFIGURED_SUMMARY = ('Receiver of webhook "Slack alerts (old URL)" (e2e/slack-notifier, wh-misconfigured) '
                         'rejects calls with 4xx')


def age_seconds(text):
    """Seconds of an age as the rules humanize it ("5m 3s", "12.5s", "997ms")."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|[dhms])", text))


def check_run(ctx, fake_dispatch, webhook_id, run, age, where):
    """The run an alert links is the run of a FAILED dispatch of that
    webhook in the fake (found through apify_webhook_last_failed_dispatch_info,
    which named it within the last 5 minutes), and the age it shows is at
    most that dispatch's age now."""
    found = ctx.prom.query('last_over_time(apify_webhook_last_failed_dispatch_info{job="%s",webhook_id="%s",'
                           'actor_run_id="%s"}[5m])' % (ctx.job, webhook_id, run))
    ids = sorted({r["metric"].get("dispatch_id", "") for r in found})
    if len(ids) != 1:
        raise Failure("%s: run %s is the run of dispatches %s of %s in Prometheus, want one" % (where, run, ids, webhook_id))
    d = fake_dispatch(ctx, ids[0])
    if d.get("webhookId") != webhook_id or d.get("status") != "FAILED" \
            or (d.get("eventData") or {}).get("actorRunId") != run:
        raise Failure("%s: run %s is not the run of a FAILED dispatch of %s in the fake: %s" % (where, run, webhook_id, d))
    created = datetime.datetime.fromisoformat(d["createdAt"].replace("Z", "+00:00")).timestamp()
    if not 0 <= age_seconds(age) <= time.time() - created + 1:
        raise Failure("%s: run %s shown %s old; its dispatch was created %.1f s ago"
                      % (where, run, age, time.time() - created))


def webhook_alert_lines(kind, alert, description):
    """ApifyWebhookReceiverMisconfigured of wh-misconfigured, as the
    template renders it (kind: "slack" or "email")."""
    summary = MISCONFIGURED_SUMMARY
    since = utc_time(alert["startsAt"])
    runbook = RUNBOOK + "#apifywebhookreceivermisconfigured"
    if kind == "slack":
        return (["*%s*" % slack_escape(summary)]
                + slack_escape(description).split("\n")
                + ["*Since:* " + since,
                   Pattern(r"\*Failed in the last hour:\* [1-9]\d* dispatches, [1-9]\d* calls",
                           "*Failed in the last hour:* <n> dispatches, <m> calls"),
                   "*Actor / task:* e2e/slack-notifier",
                   "*Receiver host:* hooks.slack.example",
                   "*Last response:* 404",
                   Pattern(r"\*Failed run:\* <https://console\.apify\.com/view/runs/(\w+)\|(\w+)> \(%s ago\)" % AGE,
                           "*Failed run:* <https://console.apify.com/view/runs/<run>|<run>> (<age> ago)"),
                   "*Runbook:* <%s|ApifyWebhookReceiverMisconfigured>" % runbook,
                   "", ""])
    return (["[FIRING:1] ApifyWebhookReceiverMisconfigured (warning)", "", summary]
            + description.split("\n")
            + ["Since:                   " + since,
               Pattern(r"Failed in the last hour: [1-9]\d* dispatches, [1-9]\d* calls",
                       "Failed in the last hour: <n> dispatches, <m> calls"),
               "Actor / task:            e2e/slack-notifier",
               "Receiver host:           hooks.slack.example",
               "Last response:           404",
               Pattern(r"Failed run:              https://console\.apify\.com/view/runs/(\w+) \(%s ago\)" % AGE,
                       "Failed run:              https://console.apify.com/view/runs/<run> (<age> ago)"),
               "Runbook:                 " + runbook,
               "", ""])


def exporter_alert_lines(instance, alert, description):
    """ApifyApiAuthFailing of one exporter, as Slack text."""
    return (["*Apify rejects the token of apify-webhook-exporter %s*" % instance]
            + slack_escape(description).split("\n")
            + ["*Since:* " + utc_time(alert["startsAt"]),
               "*Exporter:* %s (job apify-webhook-exporter)" % instance,
               "*Runbook:* <%s#apifyapiauthfailing|ApifyApiAuthFailing>" % RUNBOOK,
               "", ""])


def one_am_alert(ctx, **labels):
    alerts = [a for a in am_alerts(ctx, **labels) if a["status"]["state"] != "unprocessed"]
    if len(alerts) != 1:
        raise Failure("Alertmanager holds %d alerts with %s, want 1: %s"
                      % (len(alerts), labels, [a["labels"] for a in alerts]))
    return alerts[0]


def descriptions(ctx, alert, **labels):
    """The description annotations this alert has had: Alertmanager's now,
    and those the webhook receiver got (a later resend from Prometheus may
    have changed it since the Slack or e-mail notification)."""
    seen = {alert["annotations"].get("description", "")}
    with ctx.stack.lock:
        payloads = list(ctx.stack.notifications)
    for p in payloads:
        for a in p.get("alerts", []):
            if all(a["labels"].get(k) == v for k, v in labels.items()):
                seen.add(a["annotations"].get("description", ""))
    return sorted(seen)


def render_any(lines_for, alert, descs):
    """Expected lines for each description the alert has had."""
    return [lines_for(alert, d) for d in descs]


def match_any(messages, what, render, candidates):
    last = None
    for expected in candidates:
        try:
            return pick(messages, what, render, expected)
        except Failure as e:
            last = e
    raise last


def check_webhook_alert_rendered(ctx, fake_dispatch):
    """ApifyWebhookReceiverMisconfigured of wh-misconfigured, in Slack and
    in the e-mail (text part line by line; subject, the summary; the HTML's
    links); the run they link is the run of a FAILED dispatch of
    wh-misconfigured in the fake (fake_dispatch(ctx, id) reads one)."""
    labels = {"alertname": "ApifyWebhookReceiverMisconfigured", "webhook_id": "wh-misconfigured"}
    alert = poll("%s in Alertmanager" % labels, lambda: one_am_alert(ctx, **labels), timeout=30)
    title = "[FIRING:1] ApifyWebhookReceiverMisconfigured (warning)"

    def slack():
        descs = descriptions(ctx, alert, **labels)
        msgs = [m for m in ctx.sinks.slack_messages() if m.get("title") == title]
        return match_any(msgs, "Slack message titled %r" % title, lambda m: m.get("text", ""),
                         render_any(lambda a, d: webhook_alert_lines("slack", a, d), alert, descs))
    msg, groups = poll("the Slack message of %s" % labels["webhook_id"], slack, timeout=30)
    (run_in_url, run_in_text, age), = [g for g in groups if len(g) == 3]
    if run_in_url != run_in_text:
        raise Failure("Slack run link %s shows %s" % (run_in_url, run_in_text))
    check_run(ctx, fake_dispatch, labels["webhook_id"], run_in_url, age, "Slack")
    subject = "[FIRING:1] %s (warning)" % MISCONFIGURED_SUMMARY

    def mail():
        descs = descriptions(ctx, alert, **labels)
        msgs = [m for m in ctx.sinks.mail_messages() if m["Subject"] == subject]
        return match_any(msgs, "e-mail with subject %r" % subject, mail_text,
                         render_any(lambda a, d: webhook_alert_lines("email", a, d), alert, descs))
    mail_msg, groups = poll("the e-mail of %s" % labels["webhook_id"], mail, timeout=30)
    if mail_msg["To"] != MAIL_TO or mail_msg["From"] != MAIL_FROM:
        raise Failure("e-mail from %r to %r" % (mail_msg["From"], mail_msg["To"]))
    (run, age), = [g for g in groups if len(g) == 2]
    check_run(ctx, fake_dispatch, labels["webhook_id"], run, age, "e-mail")
    body = mail_msg.get_body(("html",))
    page = body.get_content() if body else ""
    want = ['<a href="https://console.apify.com/view/runs/%s">%s</a>' % (run, run),
            '<a href="%s#apifywebhookreceivermisconfigured">ApifyWebhookReceiverMisconfigured</a>' % RUNBOOK,
            "<h2>%s</h2>" % html.escape(title, quote=False)]
    missing = [w for w in want if w not in page]
    summaries = [html.unescape(s) for s in re.findall(r"<h3[^>]*>(.*?)</h3>", page)]
    if missing or summaries != [webhook_alert_lines("email", alert, "")[2]]:
        raise Failure("the e-mail's HTML part lacks %s or has summaries %r:\n%s" % (missing, summaries, page))
    return "Slack and e-mail as expected (run %s of a FAILED dispatch, %s old; since %s)" % (
        run_in_url, age, utc_time(alert["startsAt"]))


def mail_text(msg):
    part = msg.get_body(("plain",))
    return part.get_content().replace("\r\n", "\n") if part else ""


def check_exporter_alert_rendered(ctx):
    """ApifyApiAuthFailing, one per exporter of the pair, each in its own
    Slack message, without the webhook lines."""
    out = []
    for instance in ctx.instances:
        labels = {"alertname": "ApifyApiAuthFailing", "instance": instance}
        alert = poll("%s in Alertmanager" % labels, lambda: one_am_alert(ctx, **labels), timeout=30)
        title = "[FIRING:1] ApifyApiAuthFailing (critical)"

        def slack():
            descs = descriptions(ctx, alert, **labels)
            msgs = [m for m in ctx.sinks.slack_messages()
                    if m.get("title") == title and instance in m.get("text", "")]
            return match_any(msgs, "Slack message of %s" % instance, lambda m: m.get("text", ""),
                             render_any(lambda a, d: exporter_alert_lines(instance, a, d), alert, descs))
        poll("the Slack message of ApifyApiAuthFailing for %s" % instance, slack, timeout=30)
        out.append(instance)
    return "one Slack message per exporter: %s" % ", ".join(out)


# --- the HA pair ----------------------------------------------------------------

def check_pair_scraped(ctx):
    """Both exporters are targets of the job, up, with apify_up 1."""
    def both(expr):
        got = {r["metric"].get("instance"): float(r["value"][1]) for r in ctx.prom.query(expr)}
        return got if got == {i: 1.0 for i in ctx.instances} else None
    poll("both targets up", lambda: both('up{job="%s"}' % ctx.job), timeout=20)
    poll("apify_up 1 on both", lambda: both('apify_up{job="%s"}' % ctx.job), timeout=20)
    return "instances %s" % ", ".join(ctx.instances)


def check_webhook_alerts_once(ctx):
    """In Prometheus, each firing webhook alert once per (alertname,
    webhook_id), with no instance label, though two exporters report it."""
    seen, bad = {}, []
    for a in ctx.prom.alerts():
        labels = a["labels"]
        if "webhook_id" not in labels:
            continue
        key = (labels["alertname"], labels["webhook_id"])
        seen[key] = seen.get(key, 0) + 1
        if "instance" in labels or "pod" in labels:
            bad.append(labels)
    twice = {"%s/%s" % k: n for k, n in seen.items() if n != 1}
    if bad or twice or not seen:
        raise Failure("webhook alerts with an instance: %s; more than once: %s; firing: %d"
                      % (bad, twice, len(seen)))
    return "%d webhook alerts, each once, none with an instance" % len(seen)


def firing_webhook_alerts(ctx):
    return {(a["labels"]["alertname"], a["labels"]["webhook_id"]) for a in ctx.prom.alerts()
            if "webhook_id" in a["labels"]}


def check_delivered_once(ctx):
    """Each webhook alert the webhook receiver got is one alert (one label
    set) per (alertname, webhook_id), without an instance. Also notes what
    fires and what was delivered so far, for check_pair_survives_one."""
    ctx.firing_before_stop = firing_webhook_alerts(ctx)
    with ctx.stack.lock:
        payloads = list(ctx.stack.notifications)
    ctx.delivered_before_stop = len(payloads)
    label_sets = {}
    for p in payloads:
        for a in p.get("alerts", []):
            labels = a["labels"]
            if "webhook_id" in labels:
                key = (labels["alertname"], labels["webhook_id"])
                label_sets.setdefault(key, set()).add(json.dumps(labels, sort_keys=True))
    twice = {"%s/%s" % k: sorted(v) for k, v in label_sets.items() if len(v) != 1}
    with_instance = sorted("%s/%s" % k for k, v in label_sets.items() if any('"instance"' in s for s in v))
    if twice or with_instance or not label_sets:
        raise Failure("delivered as several alerts: %s; with an instance: %s; delivered: %d"
                      % (twice, with_instance, len(label_sets)))
    return "%d (alertname, webhook_id) pairs, each delivered as one alert" % len(label_sets)


def check_exporter_alerts_per_instance(ctx):
    """ApifyApiAuthFailing fires once per exporter of the pair, each with
    its instance (called while the fake refuses the token)."""
    def instances():
        got = sorted(a["labels"].get("instance", "") for a in ctx.prom.alerts()
                     if a["labels"]["alertname"] == "ApifyApiAuthFailing")
        if len(got) > len(set(got)) or not set(got) <= set(ctx.instances):
            raise Failure("ApifyApiAuthFailing for instances %s, want one each for %s" % (got, ctx.instances))
        return got if got == sorted(ctx.instances) else None
    got = poll("ApifyApiAuthFailing for each exporter", instances, timeout=30, interval=1)
    return "ApifyApiAuthFailing for %s" % ", ".join(got)


def check_pair_survives_one(ctx):
    """Once the first exporter has stopped (check_stops_cleanly), the other
    one keeps every webhook alert firing: none resolves, in Prometheus or at
    the receiver, over several rule evaluations after the stopped target's
    series went stale."""
    stopped = ctx.instances[0]
    poll("Prometheus sees %s down" % stopped,
         lambda: ctx.prom.value('up{job="%s", instance="%s"}' % (ctx.job, stopped)) == 0, timeout=15)
    since = time.time()  # after a failed scrape of it (one machine, one clock)

    def evaluated_after(seconds):
        groups = ctx.prom.api("rules")["groups"]
        evaluated = [g.get("lastEvaluation", "") for g in groups if g["name"] == "apify-webhook-alerts"]
        if not evaluated:
            raise Failure("no rule group apify-webhook-alerts")
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?", evaluated[0])
        at = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp()
        return at >= since + seconds
    # Staleness reaches the rules at the first evaluation after the failed
    # scrape; three more evaluations (1 s apart) leave no doubt.
    poll("the webhook rules evaluated 4s after %s went down" % stopped, lambda: evaluated_after(4),
         timeout=20, interval=0.5)
    now = firing_webhook_alerts(ctx)
    gone = sorted("%s/%s" % k for k in ctx.firing_before_stop - now)
    with ctx.stack.lock:
        later = list(ctx.stack.notifications)[ctx.delivered_before_stop:]
    resolved = sorted({"%s/%s" % (a["labels"]["alertname"], a["labels"]["webhook_id"])
                       for p in later for a in p.get("alerts", [])
                       if a.get("status") == "resolved" and "webhook_id" in a["labels"]})
    if gone or resolved or not now:
        raise Failure("with %s stopped: no longer firing %s; resolved at the receiver %s; firing %d"
                      % (stopped, gone, resolved, len(now)))
    return "%d webhook alerts still firing from %s alone, none resolved" % (len(now), ctx.instances[1])
