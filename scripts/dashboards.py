#!/usr/bin/env python3
"""Lint the Grafana dashboards of dashboards/*.json (stdlib only).

    python3 scripts/dashboards.py            # lint, exit 1 on any problem

Checks what Grafana itself would not tell until someone opens the dashboard:
valid JSON, unique uids and panel ids, the ${datasource}/job/instance/
webhook_id/event_type variables, every panel and query on ${datasource}, a
unit on every panel, rate()/irate()/increase() windows that are
$__rate_interval (or $__range for increase), only metric names of the
exporter's contract, every exporter selector filtered by $job and $instance,
links to dashboards that exist, and panels that do not overlap. The
$webhook_id selector shows descriptions and keeps ids as values: its regex
is applied, as Grafana applies it, to the query_result() lines of the
apify_webhook_info series of the golden exposition (an empty description,
quotes, a newline), and must give (description, id) pairs; (id, id) when the
description is empty.

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

# The selector of webhooks: descriptions shown, ids as values.
WEBHOOK_VARIABLE = "webhook_id"

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


def query_result_lines(result):
    """What Grafana's query_result() makes of an instant query's result
    (`[{"metric": {...}, "value": [t, "v"]}]`): one line per series,
    `name{k="v",...} value timestamp_ms`, labels in the order Prometheus
    sent them, values raw (not escaped)."""
    lines = []
    for series in result:
        labels = dict(series["metric"])
        name = labels.pop("__name__", "")
        body = ",".join('%s="%s"' % (k, v) for k, v in labels.items())
        t, v = series["value"]
        lines.append('%s{%s} %s %s' % (name, body, v, float(t) * 1000))
    return lines


def js_regex(pattern):
    """A Grafana variable regex (`/.../flags`, JavaScript) as a Python one;
    named groups `(?<n>` become `(?P<n>`."""
    m = re.fullmatch(r"/(.*)/([a-z]*)", pattern, re.S)
    if not m:
        raise ValueError("regex %r is not /.../" % pattern)
    flags = re.I if "i" in m.group(2) else 0
    return re.compile(re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", m.group(1)), flags)


def variable_options(var, lines):
    """[(text, value)] Grafana shows for `var` given its query's lines: the
    regex's `value` and `text` groups, each standing in for the other when
    it is missing or empty; lines it does not match are left out; first
    value wins (Grafana's metricNamesToVariableValues)."""
    regex = js_regex(var["regex"]) if var.get("regex") else None
    out, seen = [], set()
    for line in lines:
        text = value = line
        if regex:
            m = regex.search(line)
            if not m:
                continue
            groups = m.groupdict()
            if groups.get("value") or groups.get("text"):
                value = groups.get("value") or groups.get("text")
                text = groups.get("text") or groups.get("value")
            elif m.groups():
                text = value = m.group(1)
        if value not in seen:
            seen.add(value)
            out.append((text, value))
    return out


def expected_webhook_options(series_labels):
    """[("description · id", id)] for apify_webhook_info label sets (just
    the id when the description is empty): the id tells apart webhooks
    that share a description, as every folded ad-hoc set does."""
    out, seen = [], set()
    for labels in series_labels:
        wid = labels["webhook_id"]
        if wid not in seen:
            seen.add(wid)
            description = labels.get("description")
            out.append(("%s · %s" % (description, wid) if description else wid, wid))
    return out


def golden_webhook_info():
    """The apify_webhook_info series of the golden exposition, as the
    Prometheus API would return them (labels unescaped and sorted, with
    job and instance)."""
    out = []
    for line in GOLDEN.read_text().splitlines():
        if not line.startswith("apify_webhook_info{"):
            continue
        labels = {"__name__": "apify_webhook_info", "job": "apify", "instance": "exporter:9723"}
        for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line):
            labels[k] = re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)
        out.append({"metric": dict(sorted(labels.items())), "value": [1700000000, "1"]})
    return out


# The $webhook_id query: one series per webhook (an HA pair's two
# exporters give one), with a `choice` label "description · id" that the
# regex shows as the option's text.
WEBHOOK_QUERY_START = 'query_result(label_join(max by (webhook_id, description) (apify_webhook_info{'
WEBHOOK_QUERY_END = '}), "choice", " · ", "description", "webhook_id"))'


def webhook_choice(series):
    """What the $webhook_id query makes of one apify_webhook_info series,
    as Prometheus would: `max by` keeps two labels, `label_join` adds
    `choice`; labels sorted, no metric name."""
    m = series["metric"]
    labels = {"webhook_id": m["webhook_id"], "description": m.get("description", "")}
    labels["choice"] = labels["description"] + " · " + labels["webhook_id"]
    return {"metric": dict(sorted(labels.items())), "value": series["value"]}


def check_webhook_variable(var):
    """Problems of the $webhook_id selector, tried on the golden series."""
    q = variable_query(var)
    if not q.startswith(WEBHOOK_QUERY_START) or not q.endswith(WEBHOOK_QUERY_END):
        return ["$%s must be %s...%s, to show descriptions and ids" % (WEBHOOK_VARIABLE, WEBHOOK_QUERY_START, WEBHOOK_QUERY_END)]
    if "(?<text>" not in var.get("regex", "") or "(?<value>" not in var.get("regex", ""):
        return ["$%s needs a regex with `text` and `value` groups" % WEBHOOK_VARIABLE]
    series = [webhook_choice(s) for s in golden_webhook_info()]
    got = variable_options(var, query_result_lines(series))
    want = expected_webhook_options(s["metric"] for s in series)
    if got != want:
        return ["$%s regex gives %r from the golden apify_webhook_info, not %r" % (WEBHOOK_VARIABLE, got, want)]
    return []


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
        if name == WEBHOOK_VARIABLE:
            for problem in check_webhook_variable(v):
                bad(problem)
            problems.extend("%s: $%s: %s" % (path.name, name, m) for m in lint_expr(variable_query(v)))
        elif not variable_query(v).startswith("label_values("):
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
        # A heatmap of increase() counts: its cells are not per second.
        cells = ((p.get("options") or {}).get("cellValues") or {}).get("unit")
        counts = any("increase(" in (t.get("expr") or "") for t in p.get("targets") or [])
        if p.get("type") == "heatmap" and counts and any(
                u and (u.endswith("ps") or u.endswith("/s")) for u in (unit, cells)):
            bad("heatmap %r counts (increase()) but its unit is per second" % title)
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
