#!/usr/bin/env python3
"""Lint the Grafana dashboards of dashboards/*.json (stdlib only).

    python3 scripts/dashboards.py            # lint, exit 1 on any problem

Checks what Grafana itself would not tell until someone opens the dashboard:
valid JSON, unique uids and panel ids, the ${datasource}/job/instance/
webhook_id/event_type variables, every panel and query on ${datasource}, a
unit on every panel, rate()/irate()/increase() windows that are
$__rate_interval (or $__range for increase), only metric names of the
exporter's contract, every exporter selector filtered by $job and $instance,
links to dashboards that exist, and panels that do not overlap.

The e2e test imports this module to walk the same panel queries.
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "dashboards"

# The metric contract, read from the golden exposition (the Rust golden test
# keeps that file equal to src/metrics/contract.rs): every family's series
# names, a histogram's as its _bucket, _sum and _count.
GOLDEN = ROOT / "tests" / "golden" / "metrics.txt"


def contract_series():
    out = set()
    for line in GOLDEN.read_text().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
            out.update(name + s for s in suffixes)
    return out


CONTRACT = contract_series()
# Series Prometheus adds itself.
PROMETHEUS_SERIES = {"up"}

REQUIRED_VARIABLES = ["datasource", "job", "instance", "webhook_id", "event_type"]
DATASOURCE_REF = "${datasource}"

RANGE_FN = re.compile(r"\b(rate|irate|increase|delta|deriv|[a-z]+_over_time)\s*\(")
RANGE_SELECTOR = re.compile(r"\[([^\]]+)\]")
METRIC_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")


def load():
    """[(path, dashboard dict)] for every dashboards/*.json."""
    out = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        with open(path, encoding="utf-8") as f:
            out.append((path, json.load(f)))
    return out


def panels(dashboard):
    """Every panel, rows' nested panels included, rows themselves excluded."""
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            yield from p.get("panels", [])
        else:
            yield p


def queries(dashboard):
    """(panel, target) for every PromQL query of every panel."""
    for p in panels(dashboard):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p, t


def variable_query(var):
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    return q or var.get("definition") or ""


def metric_names(expr):
    """Metric names an expression selects: `name{...}`, or an exporter metric
    (apify_*) written bare. Label names never start with apify_."""
    names = {m.group(1) for m in METRIC_SELECTOR.finditer(expr)}
    unquoted = re.sub(r'"[^"]*"', '""', expr)
    names.update(re.findall(r"\b(apify_[a-z0-9_:]+)\b(?!\s*\()", unquoted))
    return names


def lint_dashboard(path, d, all_uids):
    problems = []

    def bad(msg):
        problems.append("%s: %s" % (path.name, msg))

    if not d.get("uid"):
        bad("no uid")
    if d.get("schemaVersion", 0) < 36:
        bad("schemaVersion %s < 36" % d.get("schemaVersion"))
    if not d.get("title"):
        bad("no title")

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    for name in REQUIRED_VARIABLES:
        if name not in variables:
            bad("missing variable $%s" % name)
    ds = variables.get("datasource")
    if ds and (ds.get("type") != "datasource" or ds.get("query") != "prometheus"):
        bad("$datasource must be a datasource variable of type prometheus")
    for name, v in variables.items():
        if name == "datasource":
            continue
        if v.get("type") != "query":
            bad("variable $%s is not a query variable" % name)
            continue
        if (v.get("datasource") or {}).get("uid") != DATASOURCE_REF:
            bad("variable $%s does not query ${datasource}" % name)
        if not variable_query(v).startswith("label_values("):
            bad("variable $%s is not a label_values() query" % name)

    ids = set()
    boxes = []
    for p in d.get("panels", []):
        pid = p.get("id")
        if pid in ids:
            bad("duplicate panel id %s" % pid)
        ids.add(pid)
        g = p.get("gridPos") or {}
        if not all(k in g for k in ("x", "y", "w", "h")):
            bad("panel %r has no full gridPos" % p.get("title"))
        else:
            if g["x"] + g["w"] > 24:
                bad("panel %r is wider than the grid" % p.get("title"))
            for other, og in boxes:
                if (g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"]
                        and g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]):
                    bad("panels %r and %r overlap" % (other, p.get("title")))
            boxes.append((p.get("title"), g))

    for p in panels(d):
        title = p.get("title") or "<untitled>"
        if not p.get("title"):
            bad("a %s panel has no title" % p.get("type"))
        if not p.get("description"):
            bad("panel %r has no description" % title)
        if (p.get("datasource") or {}).get("uid") != DATASOURCE_REF:
            bad("panel %r does not use ${datasource}" % title)
        unit = ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        if not unit:
            bad("panel %r has no unit" % title)
        if p.get("type") == "heatmap" and not ((p.get("options") or {}).get("yAxis") or {}).get("unit"):
            bad("heatmap %r has no y-axis unit" % title)
        targets = p.get("targets") or []
        if not targets:
            bad("panel %r has no query" % title)
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)):
            bad("panel %r repeats a refId" % title)
        for t in targets:
            if (t.get("datasource") or {}).get("uid") != DATASOURCE_REF:
                bad("a query of panel %r does not use ${datasource}" % title)
            expr = t.get("expr") or ""
            if not expr:
                bad("a query of panel %r is empty" % title)
            problems.extend("%s: panel %r: %s" % (path.name, title, m) for m in lint_expr(expr))
        for link in (((p.get("fieldConfig") or {}).get("defaults") or {}).get("links") or []) + [
                l for o in ((p.get("fieldConfig") or {}).get("overrides") or [])
                for prop in o.get("properties", []) if prop.get("id") == "links" for l in prop.get("value", [])]:
            check_link(link.get("url", ""), all_uids, lambda m: bad("panel %r: %s" % (title, m)))

    for link in d.get("links", []):
        if link.get("type") == "link":
            check_link(link.get("url", ""), all_uids, bad)
    return problems


def check_link(url, all_uids, bad):
    m = re.match(r"^/d/([^/?]+)", url)
    if not m:
        bad("link %r is not a /d/<uid> link" % url)
    elif m.group(1) not in all_uids:
        bad("link to unknown dashboard uid %r" % m.group(1))


def lint_expr(expr):
    problems = []
    for m in RANGE_FN.finditer(expr):
        fn = m.group(1)
        # The range selector of this call: the first [...] after it.
        window = RANGE_SELECTOR.search(expr, m.end())
        if not window:
            problems.append("%s() without a range selector" % fn)
            continue
        w = window.group(1)
        allowed = {"$__rate_interval"} | ({"$__range"} if fn == "increase" else set())
        if w not in allowed:
            problems.append("%s() over [%s]: use %s" % (fn, w, " or ".join(sorted(allowed))))
    for w in RANGE_SELECTOR.findall(expr):
        if not w.startswith("$__"):
            problems.append("literal range [%s]" % w)
    for name in sorted(metric_names(expr)):
        if name not in CONTRACT and name not in PROMETHEUS_SERIES:
            problems.append("metric %s is not in the exporter's contract" % name)
    for m in METRIC_SELECTOR.finditer(expr):
        name, matchers = m.group(1), m.group(2)
        if name in CONTRACT or name in PROMETHEUS_SERIES:
            for need in ('job=~"$job"', 'instance=~"$instance"'):
                if need not in matchers:
                    problems.append("selector of %s lacks %s" % (name, need))
    for name in re.findall(r"\b(apify_[a-z_]+)\b(?!\s*\{)", expr):
        if name in CONTRACT and not re.search(r"\b%s\s*\{" % re.escape(name), expr):
            problems.append("%s is selected without the $job/$instance filter" % name)
    return problems


def main():
    dashboards = load()
    if not dashboards:
        print("no dashboards in %s" % DASHBOARD_DIR)
        return 1
    uids = [d.get("uid") for _, d in dashboards]
    problems = []
    if len(uids) != len(set(uids)):
        problems.append("duplicate dashboard uid")
    for path, d in dashboards:
        problems.extend(lint_dashboard(path, d, set(uids)))
    for p in problems:
        print("dashboard lint: " + p)
    n_panels = sum(len(list(panels(d))) for _, d in dashboards)
    n_queries = sum(len(list(queries(d))) for _, d in dashboards)
    print("dashboards: %d dashboards, %d panels, %d queries, %d problems"
          % (len(dashboards), n_panels, n_queries, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
