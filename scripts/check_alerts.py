#!/usr/bin/env python3
"""Checks on the alert rules that promtool does not make (stdlib only).

    python3 scripts/check_alerts.py

For every alert of prometheus/alerts.yml:
  - a `severity` label of critical or warning;
  - summary, description and runbook_url annotations;
  - runbook_url ends in #<alert name, lower case>, and docs/runbook.md has a
    `## <AlertName>` section (GitHub's anchor for it is that lower-case name;
    the only check of the anchors: the base before `#` is
    scripts/runbook_urls.py's to check, and promtool holds the tests'
    expected runbook_url to the alert's);
  - prometheus/tests/*.yml has a case where it fires (exp_alerts with labels)
    and a case where it must stay quiet (exp_alerts: []).
And every `## Apify...` section of the runbook belongs to an existing alert.

Webhook alerts (group apify-webhook-alerts) and the apify_webhook: recording
rules must be HA-safe, so that two exporters of one account (two instances
of one job) fire each alert once:
  - no `by (...)`, `on (...)` or `without (...)` list of theirs keeps
    instance or pod, but for `max without (instance, pod)` itself and the
    freshness filter `on (job, instance) (apify_up == 1)` (gauges read from
    exporters whose refreshes succeed);
  - every rate() or increase() of an apify_webhook_* series sits right
    inside `max without (instance, pod) (`, and every sum() or count() over
    apify_webhook_* series takes them over it first (it would add the
    pair's counts up): scripts/ha_lint.py, the dashboards' rule too;
  - they join apify_webhook_info for description, request_host,
    actor_name and actor_task_name, and carry the run_url, run_age,
    last_response_status, failed_last_hour and failed_calls_last_hour
    annotations;
  - every query of their annotations (`printf ... | query`) that reads an
    apify_webhook_* series reads it inside `max without (instance, pod) (`
    or an aggregation `by (...)` without instance or pod, and breaks none
    of the rules above;
  - no promtool test expects an instance label on one;
  - an inhibit rule of deploy/alertmanager.yml that targets them does not
    require an equal instance (they have none), and one that does require
    it does not target them.
"""
import pathlib
import re
import sys

from ha_lint import HA_DEDUP as MAX_WITHOUT, lint_ha

ROOT = pathlib.Path(__file__).resolve().parent.parent


def alerts(text):
    """{name: rule text} of every `- alert:` rule."""
    out = {}
    chunks = re.split(r"(?m)^\s+- (?=alert:|record:)", text)
    for chunk in chunks:
        m = re.match(r"alert:\s*(\S+)", chunk)
        if m:
            out[m.group(1)] = chunk
    return out


WEBHOOK_GROUP = "apify-webhook-alerts"
JOIN_LABELS = "group_left (description, request_host, actor_name, actor_task_name)"
RUN_ANNOTATIONS = ("run_url", "run_age", "last_response_status", "failed_last_hour", "failed_calls_last_hour")
FRESH = " (apify_up == 1)"


def groups(text):
    """{group name: text} of a rule file."""
    parts = re.split(r"(?m)^  - name:\s*", text)[1:]
    return {p.split(None, 1)[0]: p for p in parts}


def expr(rule):
    """The expr of one rule chunk (a block scalar or one line)."""
    m = re.search(r"(?ms)^\s+expr:\s*\|?\s*\n?(.*?)(?=^\s+(?:for|labels|annotations|record|alert):|\Z)", rule)
    return m.group(1) if m else ""


def ha_problems(name, text):
    """What keeps an HA pair from counting once in the PromQL text."""
    out = []
    for m in re.finditer(r"\b(by|on|without)\s*\(([^)]*)\)", text):
        labels = {x.strip() for x in m.group(2).split(",")}
        fresh = m.group(1) == "on" and labels == {"job", "instance"} and text[m.end():].startswith(FRESH)
        if labels & {"instance", "pod"} and not fresh \
                and not (m.group(1) == "without" and text[m.start() - 4:m.start()] == "max "):
            out.append("%s: `%s` keeps instance or pod apart (an HA pair would count twice)" % (name, m.group(0)))
    for m in re.finditer(r"\b(rate|increase)\(apify_webhook_", text):
        if not text[:m.start()].endswith(MAX_WITHOUT):
            out.append("%s: %s() of an apify_webhook_* series outside `%s...)`" % (name, m.group(1), MAX_WITHOUT))
    out.extend("%s: %s" % (name, p) for p in lint_ha(text))
    return out


def closing(text, i):
    """Index of the parenthesis closing the one at text[i]. Blind to
    strings, unlike ha_lint.closing_paren: a query written in a Go "..."
    string holds its quotes escaped (\\")."""
    depth = 0
    for j in range(i, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return len(text)


def annotation_queries(rule):
    """The PromQL of every `printf `...` ... | query` of a rule's annotations."""
    return re.findall(r'printf (?:`([^`]*)`|"((?:[^"\\]|\\.)*)")[^}]*\| query', rule)


def query_problems(name, query):
    """An annotation query that reads apify_webhook_* series per exporter."""
    spans = []
    for m in re.finditer(r"\b(?:max without \(instance, pod\)|\w+ by \(([^)]*)\)) \(", query):
        if m.group(1) is None or not {x.strip() for x in m.group(1).split(",")} & {"instance", "pod"}:
            spans.append((m.end() - 1, closing(query, m.end() - 1)))
    out = []
    for m in re.finditer(r"\bapify_webhook_\w+", query):
        if not any(a < m.start() < b for a, b in spans):
            out.append("%s: annotation query reads %s outside `%s...)` or a `by` without instance: %s"
                       % (name, m.group(0), MAX_WITHOUT, query))
    return out + ha_problems(name + " (annotation query)", query)


def inhibit_problems(text, webhook_alerts):
    """Inhibit rules (deploy/alertmanager.yml) against webhook alerts' labels."""
    out = []
    block = text.split("\ninhibit_rules:", 1)
    if len(block) < 2:
        return ["deploy/alertmanager.yml: no top-level inhibit_rules"]
    for rule in re.split(r"(?m)^  - ", block[1])[1:]:
        target = re.search(r'target_matchers:\s*\[alertname(=~|=)"([^"]+)"\]', rule)
        equal = re.search(r"equal:\s*\[([^\]]*)\]", rule)
        if not target or not equal:
            continue
        pattern = target.group(2) if target.group(1) == "=~" else re.escape(target.group(2))
        hit = sorted(a for a in webhook_alerts if re.fullmatch(pattern, a))
        labels = {x.strip() for x in equal.group(1).split(",")}
        if hit and "instance" in labels:
            out.append("deploy/alertmanager.yml: an inhibit rule needs an equal instance of %s, which have none"
                       % ", ".join(hit))
    return out


def test_cases(texts):
    """{alertname: (fires somewhere, quiet somewhere)} from promtool test files."""
    out = {}
    for text in texts:
        for chunk in re.split(r"(?m)^\s+- alertname:", text)[1:]:
            name = chunk.split(None, 1)[0]
            fires, quiet = out.get(name, (False, False))
            body = chunk.split("\n", 1)[1] if "\n" in chunk else ""
            fires = fires or "exp_labels:" in body
            quiet = quiet or re.search(r"exp_alerts:\s*\[\]", body) is not None
            out[name] = (fires, quiet)
    return out


def main():
    alerts_text = (ROOT / "prometheus/alerts.yml").read_text()
    rules = alerts(alerts_text)
    runbook = (ROOT / "docs/runbook.md").read_text() if (ROOT / "docs/runbook.md").exists() else ""
    sections = set(re.findall(r"(?m)^## (Apify\w+)\s*$", runbook))
    tests = {p.name: p.read_text() for p in sorted((ROOT / "prometheus/tests").glob("*.yml"))}
    cases = test_cases(tests.values())
    problems = []
    if not rules:
        problems.append("no alerts found in prometheus/alerts.yml")
    for name, rule in sorted(rules.items()):
        sev = re.search(r"(?m)^\s+severity:\s*(\S+)", rule)
        if not sev or sev.group(1) not in ("critical", "warning"):
            problems.append("%s: severity must be critical or warning" % name)
        for key in ("summary", "description", "runbook_url"):
            if not re.search(r"(?m)^\s+%s:\s*\S" % key, rule):
                problems.append("%s: no %s annotation" % (name, key))
        url = re.search(r"(?m)^\s+runbook_url:\s*(\S+)", rule)
        if url and not url.group(1).endswith("#" + name.lower()):
            problems.append("%s: runbook_url %s does not end in #%s" % (name, url.group(1), name.lower()))
        if name not in sections:
            problems.append("%s: docs/runbook.md has no '## %s' section" % (name, name))
        fires, quiet = cases.get(name, (False, False))
        if not fires:
            problems.append("%s: no promtool test where it fires" % name)
        if not quiet:
            problems.append("%s: no promtool test where it stays quiet (exp_alerts: [])" % name)
    webhook_alerts = alerts(groups(alerts_text).get(WEBHOOK_GROUP, ""))
    if not webhook_alerts:
        problems.append("prometheus/alerts.yml: no group %s" % WEBHOOK_GROUP)
    for name, rule in sorted(webhook_alerts.items()):
        rule_expr = expr(rule)
        problems.extend(ha_problems(name, rule_expr))
        if JOIN_LABELS not in rule_expr:
            problems.append("%s: does not join apify_webhook_info `%s`" % (name, JOIN_LABELS))
        for key in RUN_ANNOTATIONS:
            if not re.search(r"(?m)^\s+%s:\s*\S" % key, rule):
                problems.append("%s: no %s annotation" % (name, key))
        queries = [a or b for a, b in annotation_queries(rule.split("annotations:", 1)[-1])]
        if not any("apify_webhook_" in q for q in queries):
            problems.append("%s: no annotation query found (the check below would prove nothing)" % name)
        for q in queries:
            problems.extend(query_problems(name, q))
    recording = re.split(r"(?m)^\s+- (?=record:)", (ROOT / "prometheus/rules.yml").read_text())
    for chunk in recording:
        m = re.match(r"record:\s*(apify_webhook:\S+)", chunk)
        if m:
            problems.extend(ha_problems(m.group(1), expr(chunk)))
    for file_name, text in tests.items():
        for chunk in re.split(r"(?m)^\s+- alertname:", text)[1:]:
            alert = chunk.split(None, 1)[0]
            if alert in webhook_alerts and re.search(r"(?m)^\s+instance:", chunk.split("- alertname:")[0]):
                problems.append("%s: a test of %s expects an instance label" % (file_name, alert))
    problems.extend(inhibit_problems((ROOT / "deploy/alertmanager.yml").read_text(), webhook_alerts))
    for section in sorted(sections - set(rules)):
        problems.append("docs/runbook.md: section %s has no alert" % section)
    for p in problems:
        print("alerts check: " + p)
    print("alerts: %d alerts, %d runbook sections, %d problems" % (len(rules), len(sections), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
