#!/usr/bin/env python3
"""Checks on the alert rules that promtool does not make (stdlib only).

    python3 scripts/check_alerts.py

For every alert of prometheus/alerts.yml:
  - a `severity` label of critical or warning;
  - summary, description and runbook_url annotations;
  - runbook_url ends in #<alert name, lower case>, and docs/runbook.md has a
    `## <AlertName>` section (GitHub's anchor for it is that lower-case name;
    the base before `#` is scripts/runbook_urls.py's to check);
  - prometheus/tests/*.yml has a case where it fires (exp_alerts with labels)
    and a case where it must stay quiet (exp_alerts: []).
And every `## Apify...` section of the runbook belongs to an existing alert.
"""
import pathlib
import re
import sys

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
    rules = alerts((ROOT / "prometheus/alerts.yml").read_text())
    runbook = (ROOT / "docs/runbook.md").read_text() if (ROOT / "docs/runbook.md").exists() else ""
    sections = set(re.findall(r"(?m)^## (Apify\w+)\s*$", runbook))
    cases = test_cases(p.read_text() for p in sorted((ROOT / "prometheus/tests").glob("*.yml")))
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
    for section in sorted(sections - set(rules)):
        problems.append("docs/runbook.md: section %s has no alert" % section)
    for p in problems:
        print("alerts check: " + p)
    print("alerts: %d alerts, %d runbook sections, %d problems" % (len(rules), len(sections), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
