#!/usr/bin/env python3
"""Renders deploy/notifications.tmpl with amtool for fixed notifications and
compares the text exactly (stdlib and amtool only).

    python3 scripts/check_notifications.py

The end-to-end test (scripts/e2e.py, e2e_notify.py) asserts what a real
Alertmanager sends for the alerts its fake account fires; this covers the
cases it cannot make: both Actor and task names, a task known only by id, a
call that got no answer (`none`), a resolved alert next to a firing one, an
all-resolved group, and free text that Slack or HTML would read as markup.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

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
                    "failed_last_hour": "3", "last_response_status": "none",
                    "run_url": "https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB",
                    "runbook_url": RUNBOOK + "#apifywebhookreceiverunavailable"},
    "startsAt": "2026-11-30T23:10:00.5+01:00", "endsAt": ZERO,
}
# Its task's name may not be read: the task's id stands in; no failed run yet.
SLOW = {
    "status": "firing",
    "labels": {"alertname": "ApifyWebhookReceiverUnavailable", "severity": "warning", "job": "apify-webhook-exporter",
               "webhook_id": "wh-slow", "request_host": "search.example.com",
               "actor_name": "jane/search-indexer", "actor_task_id": "taskSearch00001"},
    "annotations": {"summary": "Receiver of webhook wh-slow is failing", "failed_last_hour": "0",
                    "runbook_url": RUNBOOK + "#apifywebhookreceiverunavailable"},
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
    ("two webhook alerts: names, a task id, no answer, markup in free text", data(FLAKY, SLOW), {
        "apify.slack.title": "[FIRING:2] ApifyWebhookReceiverUnavailable (warning)",
        "apify.slack.text": """\
*Receiver of webhook "Warehouse &lt;loader&gt; &amp; co" (jane/etl-loader / jane/nightly-load, wh-flaky) is failing*
etl.example.com timed out.
*Since:* 2026-11-30 22:10:00 UTC
*Failed in the last hour:* 3
*Actor / task:* jane/etl-loader / jane/nightly-load
*Receiver host:* etl.example.com
*Last response:* none (no answer)
*Failed run:* <https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB|HG7ML7M8z78YcAPEB>
*Runbook:* <https://runbooks.example/apify.md#apifywebhookreceiverunavailable|ApifyWebhookReceiverUnavailable>

*Receiver of webhook wh-slow is failing*
*Since:* 2026-11-30 22:00:00 UTC
*Failed in the last hour:* 0
*Actor / task:* jane/search-indexer / taskSearch00001
*Receiver host:* search.example.com
*Runbook:* <https://runbooks.example/apify.md#apifywebhookreceiverunavailable|ApifyWebhookReceiverUnavailable>

""",
        "apify.email.subject": "[FIRING:2] ApifyWebhookReceiverUnavailable (warning)",
    }),
    ("a firing webhook alert and a resolved exporter alert", data(FLAKY, AUTH_RESOLVED), {
        "apify.slack.title": "[FIRING:1] Apify webhook alerts",
        "apify.email.text": """\
[FIRING:1] Apify webhook alerts

Receiver of webhook "Warehouse <loader> & co" (jane/etl-loader / jane/nightly-load, wh-flaky) is failing
etl.example.com timed out.
Since:                   2026-11-30 22:10:00 UTC
Failed in the last hour: 3
Actor / task:            jane/etl-loader / jane/nightly-load
Receiver host:           etl.example.com
Last response:           none (no answer)
Failed run:              https://console.apify.com/view/runs/HG7ML7M8z78YcAPEB
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
        "apify.email.subject": "[RESOLVED] ApifyApiAuthFailing (critical)",
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
    """Templates deploy/alertmanager.yml names (its examples too) that the
    template file does not define: Alertmanager finds out only when it
    sends."""
    defined = set(re.findall(r'\{\{-? *define "([^"]+)"', TEMPLATE.read_text()))
    used = set(re.findall(r'\{\{-? *template "([^"]+)"', (ROOT / "deploy/alertmanager.yml").read_text()))
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
