#!/usr/bin/env python3
"""Renders deploy/notifications.tmpl with amtool for fixed notifications and
compares the text exactly (stdlib and amtool only).

    python3 scripts/check_notifications.py

The end-to-end test (scripts/e2e.py, e2e_notify.py) asserts what a real
Alertmanager sends for the alerts its fake account fires; this covers the
cases it cannot make: both Actor and task names, a task name that may not
be read, a call that got no answer (`none`), a resolved webhook alert (no
counts), a resolved alert next to a firing one, an all-resolved group, the
subject of one alert and of several, an exporter alert without instance,
alerts of other rules (no summary), and free text that Slack or HTML would
read as markup.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import alertmanager_examples

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy/notifications.tmpl"
RUNBOOK = "https://runbooks.example/apify.md"
ZERO = "0001-01-01T00:00:00Z"

FLAKY = {
    "status": "firing",
    "labels": {"alertname": "ApifyWebhookReceiverUnavailable", "severity": "warning", "job": "apify-webhook-exporter",
               "webhook_id": "wh-flaky", "description": "Warehouse <loader> & co", "request_host": "etl.example.com",
               "actor_name": "jane/etl-loader", "actor_task_name": "jane/nightly-load"},
    "annotations": {"summary": 'Receiver of webhook "Warehouse <loader> & co" (jane/etl-loader / jane/nightly-load, '
                               'wh-flaky) is failing',
                    "description": "etl.example.com timed out.",
                    "failed_last_hour": "3", "failed_calls_last_hour": "41", "last_response_status": "none",
                    "run_url": "https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB", "run_age": "3d 2h",
                    "runbook_url": RUNBOOK + "#apifywebhookreceiverunavailable"},
    "startsAt": "2026-11-30T23:10:00.5+01:00", "endsAt": ZERO,
}
# The same alert once resolved: its counts and last response were read when
# it fired, and are left out.
FLAKY_RESOLVED = dict(FLAKY, status="resolved", endsAt="2026-11-30T23:55:00Z")
# ReceiverSlow as the rules make it for a webhook whose task name may not be
# read (no actor_task_name label) and that has never failed a dispatch.
SLOW = {
    "status": "firing",
    "labels": {"alertname": "ApifyWebhookReceiverSlow", "severity": "warning", "job": "apify-webhook-exporter",
               "webhook_id": "wh-slow", "description": "Search index refresh", "request_host": "search.example.com",
               "actor_name": "jane/search-indexer"},
    "annotations": {"summary": 'Receiver of webhook "Search index refresh" (jane/search-indexer, wh-slow) is slow: '
                               'more than 5% of its calls took longer than 20s',
                    "failed_last_hour": "0", "failed_calls_last_hour": "0", "last_response_status": "",
                    "run_url": "", "run_age": "", "runbook_url": RUNBOOK + "#apifywebhookreceiverslow"},
    "startsAt": "2026-11-30T22:00:00Z", "endsAt": ZERO,
}
AUTH_RESOLVED = {
    "status": "resolved",
    "labels": {"alertname": "ApifyApiAuthFailing", "severity": "critical", "job": "apify-webhook-exporter",
               "instance": "10.0.0.7:9723"},
    "annotations": {"summary": "Apify rejects the token of apify-webhook-exporter 10.0.0.7:9723",
                    "description": "401 from the API.", "runbook_url": RUNBOOK + "#apifyapiauthfailing"},
    "startsAt": "2026-11-30T21:00:00Z", "endsAt": "2026-11-30T21:30:59.9Z",
}
# Labelled by job only: no instance to name.
ALL_DOWN = {
    "status": "firing",
    "labels": {"alertname": "ApifyExportersAllDown", "severity": "critical", "job": "apify-webhook-exporter"},
    "annotations": {"summary": "No apify-webhook-exporter of job apify-webhook-exporter can be scraped",
                    "runbook_url": RUNBOOK + "#apifyexportersalldown"},
    "startsAt": "2026-11-30T21:00:00Z", "endsAt": ZERO,
}
# Not ours: the default route sends every alert to the team receiver. One
# with a `message` annotation (no summary), one with nothing but labels.
FOREIGN = {
    "status": "firing",
    "labels": {"alertname": "NodeDown", "severity": "warning", "instance": "n1:9100"},
    "annotations": {"message": "Node n1 is down", "description": "n1 does not answer."},
    "startsAt": "2026-11-30T21:00:00Z", "endsAt": ZERO,
}
BARE = {
    "status": "firing",
    "labels": {"alertname": "Watchdog", "severity": "warning"},
    "annotations": {},
    "startsAt": "2026-11-30T21:00:00Z", "endsAt": ZERO,
}


class Contains(str):
    """An expected part of a rendering rather than all of it."""


def data(*alerts):
    common = dict(alerts[0]["labels"])
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a["labels"].get(k) == v}
    return {"receiver": "team", "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
            "alerts": list(alerts), "groupLabels": {}, "commonLabels": common, "commonAnnotations": {},
            "externalURL": "http://alertmanager.example:9093"}


CASES = [
    ("two webhook alerts: names, no task name, no answer, no failed run, markup in free text", data(FLAKY, SLOW), {
        "apify.slack.title": "[FIRING:2] Apify webhook alerts (warning)",
        "apify.slack.text": """\
*Receiver of webhook "Warehouse &lt;loader&gt; &amp; co" (jane/etl-loader / jane/nightly-load, wh-flaky) is failing*
etl.example.com timed out.
*Since:* 2026-11-30 22:10:00 UTC
*Failed in the last hour:* 3 dispatches, 41 calls
*Actor / task:* jane/etl-loader / jane/nightly-load
*Receiver host:* etl.example.com
*Last response:* none (no answer)
*Failed run:* <https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB|HG7ML7M8z78YcAPEB> (3d 2h ago)
*Runbook:* <https://runbooks.example/apify.md#apifywebhookreceiverunavailable|ApifyWebhookReceiverUnavailable>

*Receiver of webhook "Search index refresh" (jane/search-indexer, wh-slow) is slow: more than 5% of its calls took longer than 20s*
*Since:* 2026-11-30 22:00:00 UTC
*Failed in the last hour:* 0 dispatches, 0 calls
*Actor / task:* jane/search-indexer
*Receiver host:* search.example.com
*Runbook:* <https://runbooks.example/apify.md#apifywebhookreceiverslow|ApifyWebhookReceiverSlow>

""",
        # Several alerts: their name (none in common here) and the webhooks.
        "apify.email.subject": "[FIRING:2] Apify webhook alerts: wh-flaky, wh-slow (warning)",
    }),
    ("one webhook alert: the subject is its summary", data(FLAKY), {
        "apify.email.subject": '[FIRING:1] Receiver of webhook "Warehouse <loader> & co" (jane/etl-loader / '
                               'jane/nightly-load, wh-flaky) is failing (warning)',
        "apify.subject": '[FIRING:1] Receiver of webhook "Warehouse <loader> & co" (jane/etl-loader / '
                         'jane/nightly-load, wh-flaky) is failing (warning)',
        "apify.slack.title": "[FIRING:1] ApifyWebhookReceiverUnavailable (warning)",
    }),
    ("a resolved webhook alert: no counts, no last response", data(FLAKY_RESOLVED), {
        "apify.email.subject": '[RESOLVED] Receiver of webhook "Warehouse <loader> & co" (jane/etl-loader / '
                               'jane/nightly-load, wh-flaky) is failing (warning)',
        "apify.slack.text": """\
*RESOLVED: Receiver of webhook "Warehouse &lt;loader&gt; &amp; co" (jane/etl-loader / jane/nightly-load, wh-flaky) is failing*
etl.example.com timed out.
*Since:* 2026-11-30 22:10:00 UTC
*Resolved:* 2026-11-30 23:55:00 UTC
*Actor / task:* jane/etl-loader / jane/nightly-load
*Receiver host:* etl.example.com
*Failed run:* <https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB|HG7ML7M8z78YcAPEB> (3d 2h ago)
*Runbook:* <https://runbooks.example/apify.md#apifywebhookreceiverunavailable|ApifyWebhookReceiverUnavailable>

""",
    }),
    ("a firing webhook alert and a resolved exporter alert", data(FLAKY, AUTH_RESOLVED), {
        "apify.slack.title": "[FIRING:1] Apify webhook alerts",
        "apify.email.subject": "[FIRING:1] Apify webhook alerts: wh-flaky, 10.0.0.7:9723",
        "apify.email.text": """\
[FIRING:1] Apify webhook alerts

Receiver of webhook "Warehouse <loader> & co" (jane/etl-loader / jane/nightly-load, wh-flaky) is failing
etl.example.com timed out.
Since:                   2026-11-30 22:10:00 UTC
Failed in the last hour: 3 dispatches, 41 calls
Actor / task:            jane/etl-loader / jane/nightly-load
Receiver host:           etl.example.com
Last response:           none (no answer)
Failed run:              https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB (3d 2h ago)
Runbook:                 https://runbooks.example/apify.md#apifywebhookreceiverunavailable

RESOLVED: Apify rejects the token of apify-webhook-exporter 10.0.0.7:9723
401 from the API.
Since:                   2026-11-30 21:00:00 UTC
Resolved:                2026-11-30 21:30:59 UTC
Exporter:                10.0.0.7:9723 (job apify-webhook-exporter)
Runbook:                 https://runbooks.example/apify.md#apifyapiauthfailing

""",
    }),
    ("an all-resolved exporter alert, HTML", data(AUTH_RESOLVED), {
        "apify.email.subject": "[RESOLVED] Apify rejects the token of apify-webhook-exporter 10.0.0.7:9723 (critical)",
        "apify.email.html": """\
<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<h2>[RESOLVED] ApifyApiAuthFailing (critical)</h2>
<h3 style="margin:16px 0 4px">RESOLVED: Apify rejects the token of apify-webhook-exporter 10.0.0.7:9723</h3>
<p style="margin:0 0 8px">401 from the API.</p>
<table cellpadding="2">
<tr><th align="left">Since</th><td>2026-11-30 21:00:00 UTC</td></tr>
<tr><th align="left">Resolved</th><td>2026-11-30 21:30:59 UTC</td></tr>
<tr><th align="left">Exporter</th><td>10.0.0.7:9723 (job apify-webhook-exporter)</td></tr>
<tr><th align="left">Runbook</th><td><a href="https://runbooks.example/apify.md#apifyapiauthfailing">ApifyApiAuthFailing</a></td></tr>
</table>
</body></html>
""",
    }),
    ("an exporter alert of the whole job (no instance)", data(ALL_DOWN), {
        "apify.slack.text": """\
*No apify-webhook-exporter of job apify-webhook-exporter can be scraped*
*Since:* 2026-11-30 21:00:00 UTC
*Exporter:* every one (job apify-webhook-exporter)
*Runbook:* <https://runbooks.example/apify.md#apifyexportersalldown|ApifyExportersAllDown>

""",
    }),
    ("alerts of other rules: message, else the alert name; their instance", data(FOREIGN, BARE), {
        "apify.email.subject": "[FIRING:2] Apify webhook alerts: n1:9100, Watchdog (warning)",
        "apify.email.text": """\
[FIRING:2] Apify webhook alerts (warning)

Node n1 is down
n1 does not answer.
Since:                   2026-11-30 21:00:00 UTC
Instance:                n1:9100

Watchdog
Since:                   2026-11-30 21:00:00 UTC

""",
    }),
    ("HTML escapes free text", data(FLAKY), {
        "apify.email.html": Contains('<h3 style="margin:16px 0 4px">Receiver of webhook &#34;Warehouse &lt;loader&gt; '
                                     '&amp; co&#34; (jane/etl-loader / jane/nightly-load, wh-flaky) is failing</h3>'),
    }),
]


def render(name, payload, tmp):
    path = pathlib.Path(tmp) / "data.json"
    path.write_text(json.dumps(payload))
    kind = "html" if name.endswith(".html") else "text"
    r = subprocess.run(["amtool", "template", "render", "--template.glob=%s" % TEMPLATE,
                        "--template.data=%s" % path, "--template.type=%s" % kind,
                        '--template.text={{ template "%s" . }}' % name], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("amtool template render %s: %s" % (name, r.stderr.strip()))
    return r.stdout


def undefined_references():
    """Templates deploy/alertmanager.yml names (its examples too,
    uncommented) that the template file does not define: Alertmanager
    finds out only when it sends."""
    defined = set(re.findall(r'\{\{-? *define "([^"]+)"', TEMPLATE.read_text()))
    used = set(re.findall(r'\{\{-? *template "([^"]+)"', alertmanager_examples.uncommented()))
    return sorted(used - defined), len(used)


def main():
    failed = 0
    checked = 0
    undefined, used = undefined_references()
    if undefined or not used:
        failed += 1
        print("FAIL deploy/alertmanager.yml names templates %s that %s does not define (%d named)"
              % (undefined, TEMPLATE.name, used))
    with tempfile.TemporaryDirectory() as tmp:
        for case, payload, wants in CASES:
            for name, want in wants.items():
                got = render(name, payload, tmp)
                checked += 1
                ok = want in got if isinstance(want, Contains) else got == want
                if not ok:
                    failed += 1
                    print("FAIL %s: %s renders\n%s\n--- want %s---\n%s"
                          % (case, name, got, "a part " if isinstance(want, Contains) else "", want))
    print("check_notifications: %d template names used; %d renderings; %d failures" % (used, checked, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
