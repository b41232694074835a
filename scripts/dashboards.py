#!/usr/bin/env python3
"""Lint the Grafana dashboards of dashboards/*.json and run their queries on
the golden series in promtool.

    python3 scripts/dashboards.py            # lint + golden checks, exit 1 on any problem
    python3 scripts/dashboards.py --static   # lint only (no promtool)

Checks what Grafana itself would not tell until someone opens the dashboard:
valid JSON, unique uids and panel ids, the ${datasource}/job/instance/
webhook_id/event_type variables, every panel and query on ${datasource}, a
unit on every panel, rate()/irate()/increase() windows that are
$__rate_interval (or $__range for increase), only metric names of the
exporter's contract (and ALERTS), every exporter selector filtered by $job
and $instance, links to dashboards that exist, the Apify Console link of
every table of failed deliveries, panels that do not overlap, the overview's
on-call panels above the fold, and every sum or count over the webhook
series taken over `max without (instance, pod)` first (an HA pair).

Webhooks are named "Actor / task — description · id" (webhook_text) by one
PromQL expression (webhook_names); the $webhook_id selector shows that name
and keeps the id as value. promtool runs that expression on the golden
apify_webhook_info series (and NAME_CASES: each way a name can be missing),
reported by two instances, and the selector's regex is applied, as Grafana
applies it, to the query_result() lines of the answer. promtool also runs
every query over the webhook series on all golden series for one exporter
and for an HA pair, which must answer the same.

The e2e test imports this module to walk the same panel queries.
"""
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

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
# The bundled rules' alerts, as Prometheus records them: they aggregate away
# `instance` (an HA pair fires once), so only $job filters them.
ALERT_SERIES = {"ALERTS"}

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


def webhook_text(labels):
    """What a webhook is called on the dashboards: "Actor / task —
    description · id", a missing name left out with its separator ("task —
    description · id", "description · id"), and just the id when the
    description is empty too. The id tells apart webhooks that share a
    description, as every folded ad-hoc set does."""
    wid = labels["webhook_id"]
    description = labels.get("description", "")
    owner = " / ".join(n for n in (labels.get("actor_name", ""), labels.get("actor_task_name", "")) if n)
    name = "%s · %s" % (description, wid) if description else wid
    return "%s — %s" % (owner, name) if owner else name


def expected_webhook_options(series_labels):
    """[(webhook_text, id)] for apify_webhook_info label sets, first id wins."""
    out, seen = [], set()
    for labels in series_labels:
        wid = labels["webhook_id"]
        if wid not in seen:
            seen.add(wid)
            out.append((webhook_text(labels), wid))
    return out


def golden_series(job="apify", instance="exporter:9723", only=None):
    """The golden exposition's series, as the Prometheus API would return
    them (labels unescaped and sorted, with job and instance), optionally
    only those of metric `only`: [{"metric", "value", "type", "text"}], where
    `text` is the series' labels as written (escaped) and `type` its
    family's TYPE."""
    out, kinds = [], {}
    for line in GOLDEN.read_text().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            kinds[name] = kind
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if not m or (only and m.group(1) != only):
            continue
        name, body, value = m.groups()
        labels = {"__name__": name, "job": job, "instance": instance}
        for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', body or ""):
            labels[k] = re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n" else e.group(1), v)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in kinds else name
        out.append({"metric": dict(sorted(labels.items())), "value": [1700000000, value],
                    "type": kinds.get(family, "untyped"), "text": body or ""})
    return out


def golden_webhook_info():
    """The apify_webhook_info series of the golden exposition."""
    return [{"metric": s["metric"], "value": [1700000000, "1"]} for s in golden_series(only="apify_webhook_info")]


# How each dashboard names a webhook, built in PromQL from
# apify_webhook_info: `webhook` = webhook_text() of its labels (the
# description and the id joined, a leading " · " cut when the description
# is empty; the Actor and task names joined, a dangling " / " cut; the two
# joined by " — ", cut when there is no name), one series of value 1 per
# webhook_id, with request_host for the tables. An HA pair's two exporters
# give one; when only one of them has read the Actor or task name (the newer
# read, the newer exporter), its series wins, weighted by 0.5 as the rules'
# apify_webhook:info:one_per_webhook does. The $webhook_id selector is
# query_result() of it, and tables and legends join it with NAME_JOIN.
# [\s\S] because `.` does not match a newline.
WEBHOOK_INFO = 'apify_webhook_info{job=~"$job", instance=~"$instance"}'


def webhook_names(selector=WEBHOOK_INFO):
    named = "%s + 0.5 * (%s or %s or 0 * %s)" % (
        selector, selector.replace("}", ', actor_name!=""}'), selector.replace("}", ', actor_task_name!=""}'),
        selector)
    x = 'label_join(%s, "webhook", " · ", "description", "webhook_id")' % named
    x = 'label_replace(%s, "webhook", "$1", "webhook", ` · ([\\s\\S]*)`)' % x
    x = 'label_join(%s, "owner", " / ", "actor_name", "actor_task_name")' % x
    x = 'label_replace(%s, "owner", "$1$2", "owner", ` / ([\\s\\S]*)|([\\s\\S]*) / `)' % x
    x = 'label_join(%s, "webhook", " — ", "owner", "webhook")' % x
    x = 'label_replace(%s, "webhook", "$1", "webhook", ` — ([\\s\\S]*)`)' % x
    return "(topk by (webhook_id) (1, max by (webhook_id, webhook, request_host) (%s)) * 0 + 1)" % x


WEBHOOK_QUERY = "query_result(%s)" % webhook_names()
# Joined to a per-webhook result: `* on (webhook_id) group_left (webhook)`
# (or `(webhook, request_host)`) and this; topk keeps one series per id even
# while an HA pair's exporters disagree on a description.
NAMES = webhook_names()
NAME_JOIN = re.compile(r"\*\s*on\s*\(webhook_id\)\s*group_left\s*\(webhook(?:, request_host)?\)\s*")
# The selector's regex over a query_result() line
# `{request_host="...",webhook="<text>",webhook_id="<id>"} 1 <ms>` (no
# request_host for ad-hoc webhooks): anchored at both ends, so quotes in a
# description cannot shift the groups.
WEBHOOK_REGEX = r'/^\{(?:request_host="[^"]*",)?webhook="(?<text>[\s\S]*)",webhook_id="(?<value>[^"]+)"\} \S+ \S+$/'

# Names the golden file may lack (the lead adds Actor and task names to it):
# each way a name can be missing, on top of the golden series.
NAME_CASES = [
    {"webhook_id": "NcBoth", "description": "Warehouse loader", "actor_name": "e2e/etl-loader",
     "actor_task_name": "e2e/nightly-load", "request_host": "etl.example.com"},
    {"webhook_id": "NcActor", "description": "Search index refresh", "actor_name": "e2e/search-indexer",
     "actor_task_name": "", "request_host": "search.example.com"},
    {"webhook_id": "NcTask", "description": "", "actor_name": "", "actor_task_name": "jane/nightly",
     "request_host": "h.example.com"},
    {"webhook_id": "ad-hoc:NcNone", "description": "ad-hoc webhooks", "actor_name": "", "actor_task_name": "",
     "request_host": ""},
]


def promql_string(value):
    """`value` as a PromQL double-quoted string."""
    return json.dumps(value, ensure_ascii=False)


def series_selector(labels):
    """A promtool input series for a label dict (with __name__)."""
    body = ", ".join("%s=%s" % (k, promql_string(v)) for k, v in sorted(labels.items())
                     if k != "__name__" and v != "")
    return "%s{%s}" % (labels["__name__"], body)


def expected_webhook_names(infos):
    """What Prometheus must answer to the names query: one series per id."""
    out, seen = [], set()
    for labels in infos:
        if labels["webhook_id"] in seen:
            continue
        seen.add(labels["webhook_id"])
        m = {"webhook": webhook_text(labels), "webhook_id": labels["webhook_id"]}
        if labels.get("request_host"):
            m["request_host"] = labels["request_host"]
        out.append({"metric": dict(sorted(m.items())), "value": [1700000000, "1"]})
    return out


def check_webhook_variable(var):
    """Problems of the $webhook_id selector: its query must be WEBHOOK_QUERY
    (run by promtool on the golden series in check_golden()), its regex must
    give (webhook_text, id) for what that query returns."""
    q = variable_query(var)
    if q != WEBHOOK_QUERY:
        return ["$%s must be %s, to show names and keep ids" % (WEBHOOK_VARIABLE, WEBHOOK_QUERY)]
    if "(?<text>" not in var.get("regex", "") or "(?<value>" not in var.get("regex", ""):
        return ["$%s needs a regex with `text` and `value` groups" % WEBHOOK_VARIABLE]
    infos = [s["metric"] for s in golden_webhook_info()] + NAME_CASES
    series = expected_webhook_names(infos)
    got = variable_options(var, query_result_lines(series))
    want = expected_webhook_options(infos)
    if got != want:
        return ["$%s regex gives %r from the golden apify_webhook_info, not %r" % (WEBHOOK_VARIABLE, got, want)]
    return []


# HA: two exporters scraping one account are two `instance`s of one job
# with the same series; a sum or count over them doubles. Every sum/count
# over the exporter's webhook series first takes one of each pair.
HA_DEDUP = "max without (instance, pod) ("
HA_AGGREGATION = re.compile(r"\b(sum|count)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(")
HA_SERIES = re.compile(r"\bapify_(?:webhook_[a-z_]+|exporter_webhooks)\b")


def closing_paren(expr, start):
    """Index of the `)` closing the `(` just before `start`, skipping
    strings; len(expr) when unbalanced."""
    depth, i, quote = 1, start, None
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(expr)


def lint_ha(expr):
    """Sums and counts over the exporter's webhook series not taken over
    `max without (instance, pod)` first."""
    problems = []
    for m in HA_AGGREGATION.finditer(expr):
        arg = expr[m.end():closing_paren(expr, m.end())]
        if HA_SERIES.search(arg) and not arg.lstrip().startswith(HA_DEDUP):
            problems.append("%s over %s not taken over `%s...)` first: an HA pair would count twice"
                            % (m.group(1), HA_SERIES.search(arg).group(0), HA_DEDUP))
    return problems


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
        field_config = p.get("fieldConfig") or {}
        links = [(None, l) for l in (field_config.get("defaults") or {}).get("links") or []] + [
            ((o.get("matcher") or {}).get("options"), l) for o in field_config.get("overrides") or []
            for prop in o.get("properties", []) if prop.get("id") == "links" for l in prop.get("value", [])]
        for field, link in links:
            if link.get("url") == RUN_LINK and field == RUN_FIELD:
                continue
            check_link(link.get("url", ""), all_uids, lambda m: bad("panel %r: %s" % (title, m)))
        if p.get("type") == "table" and any(
                "apify_webhook_last_failed_dispatch_info" in (t.get("expr") or "") for t in targets):
            if run_link(p) != RUN_LINK:
                bad("table %r shows failed dispatches but its %s column does not link to %s"
                    % (title, RUN_FIELD, RUN_LINK))
        if (path.name == ONCALL_DASHBOARD and p.get("type") == "table"
                and any(NAME_JOIN.search(t.get("expr") or "") for t in targets)
                and not all(x in (field_link(p, "webhook") or "") for x in (DRILL_DOWN_LINK, DRILL_DOWN_VALUE))):
            bad("table %r names webhooks but its webhook column does not open the drill-down (%s)"
                % (title, DRILL_DOWN_LINK))

    if path.name == ONCALL_DASHBOARD:
        by_title = {p.get("title"): p for p in d.get("panels", [])}
        for title in ONCALL_PANELS:
            g = (by_title.get(title) or {}).get("gridPos")
            if not g:
                bad("no top-level panel %r: on-call needs it above the fold" % title)
            elif g.get("y", 99) + g.get("h", 99) > FOLD_ROWS or g.get("x", 0) + g.get("w", 99) > 24:
                bad("panel %r (gridPos %s) is not above the fold (y + h <= %d, x + w <= 24)" % (title, g, FOLD_ROWS))

    for link in d.get("links", []):
        if link.get("type") == "link":
            check_link(link.get("url", ""), all_uids, bad)
    return problems


# The run of a failed dispatch, in Apify Console (the public run URL Apify
# documents for webhook payloads); Grafana fills in the cell's run id.
RUN_FIELD = "actor_run_id"
RUN_LINK = "https://console.apify.com/view/runs/${__value.raw}"

# What on-call asks first (is anything failing, since when, which Actor and
# receiver, where to click): above the fold of a 1366x768 screen, which
# shows about the first 15 grid rows (30 px each) under Grafana's top bar.
ONCALL_DASHBOARD = "overview.json"
ONCALL_PANELS = ["Failing webhooks now", "Webhook alerts firing", "Oldest failing: since last success",
                 "Failing webhooks", "Latest failed deliveries"]
FOLD_ROWS = 15


# A webhook's row opens its drill-down, the chosen webhook its value.
DRILL_DOWN_LINK = "/d/apify-webhook-detail/"
DRILL_DOWN_VALUE = "var-webhook_id=${__data.fields.webhook_id}"


def run_link(panel):
    """The URL of the data link on a table's RUN_FIELD column, or None."""
    return field_link(panel, RUN_FIELD)


def field_link(panel, field):
    """The URL of the first data link a field override gives `field`."""
    for o in ((panel.get("fieldConfig") or {}).get("overrides") or []):
        if (o.get("matcher") or {}).get("options") == field:
            for prop in o.get("properties", []):
                if prop.get("id") == "links" and prop.get("value"):
                    return prop["value"][0].get("url")
    return None


def render_link(url, row, field):
    """A data link's URL for one table row, as Grafana builds it:
    ${__value.raw} is the cell's own value, ${__data.fields.x} the row's x."""
    def repl(m):
        if m.group(1) == "__value.raw":
            return row.get(field, "")
        if m.group(1).startswith("__data.fields."):
            return row.get(m.group(1)[len("__data.fields."):], "")
        return m.group(0)
    return re.sub(r"\$\{([^}]+)\}", repl, url)


def check_link(url, all_uids, bad):
    m = re.match(r"^/d/([^/?]+)", url)
    if not m:
        bad("link %r is not a /d/<uid> link" % url)
    elif m.group(1) not in all_uids:
        bad("link to unknown dashboard uid %r" % m.group(1))


def lint_expr(expr):
    problems = []
    # Range checks look past strings: a regex's [\s\S] is no range.
    code = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', expr)
    for m in RANGE_FN.finditer(code):
        fn = m.group(1)
        # The range selector of this call: the first [...] after it.
        window = RANGE_SELECTOR.search(code, m.end())
        if not window:
            problems.append("%s() without a range selector" % fn)
            continue
        w = window.group(1)
        allowed = {"$__rate_interval"} | ({"$__range"} if fn == "increase" else set())
        if w not in allowed:
            problems.append("%s() over [%s]: use %s" % (fn, w, " or ".join(sorted(allowed))))
    for w in RANGE_SELECTOR.findall(code):
        if not w.startswith("$__"):
            problems.append("literal range [%s]" % w)
    for name in sorted(metric_names(expr)):
        if name not in CONTRACT and name not in PROMETHEUS_SERIES and name not in ALERT_SERIES:
            problems.append("metric %s is not in the exporter's contract" % name)
    for m in METRIC_SELECTOR.finditer(expr):
        name, matchers = m.group(1), m.group(2)
        if name in CONTRACT or name in PROMETHEUS_SERIES:
            for need in ('job=~"$job"', 'instance=~"$instance"'):
                if need not in matchers:
                    problems.append("selector of %s lacks %s" % (name, need))
        if name in ALERT_SERIES and 'job=~"$job"' not in matchers:
            problems.append('selector of %s lacks job=~"$job"' % name)
    for name in re.findall(r"\b(apify_[a-z_]+)\b(?!\s*\{)", expr):
        if name in CONTRACT and not re.search(r"\b%s\s*\{" % re.escape(name), expr):
            problems.append("%s is selected without the $job/$instance filter" % name)
    problems.extend(lint_ha(expr))
    if "group_left (description)" in expr:
        problems.append("joins description alone: join `webhook` (NAMES), the Actor / task — description name")
    if NAME_JOIN.search(expr) and NAMES not in expr:
        problems.append("joins `webhook` from something else than NAMES")
    return problems


# The golden checks run the queries in promtool (Prometheus' own engine) on
# the golden series, 30 one-minute samples: gauges flat, counters growing by
# their golden value a minute, so rates are not all 0.
GOLDEN_VALUES = {"gauge": "{v}x30", "counter": "0+{v}x30", "histogram": "0+{v}x30"}
GOLDEN_EVAL = "20m"
GOLDEN_VARIABLES = {"instance": ".*", "webhook_id": ".*", "event_type": ".*", "__rate_interval": "5m",
                    "__range": "10m", "__interval": "1m"}
# Alerts the bundled rules would fire, for the queries that read ALERTS.
GOLDEN_ALERTS = [("ApifyWebhookFailureRatioHigh", "Wh2"), ("ApifyWebhookReceiverMisconfigured", "Wh3"),
                 ("ApifyWebhookFailureRatioHigh", "Wh3")]


def substitute(expr, values):
    """`expr` with Grafana's $var / ${var} / ${var:fmt} replaced from
    `values`; KeyError on a variable it lacks."""
    return re.sub(r"\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)",
                  lambda m: values[m.group(1) or m.group(2)], expr)


def golden_input(job, instances):
    """promtool input_series: every golden series under `job` and each of
    `instances` (two: an HA pair scraping one account), plus ALERTS."""
    out = []
    for s in golden_series():
        values = GOLDEN_VALUES.get(s["type"], "{v}x30").format(v=s["value"][1])
        for instance in instances:
            body = ", ".join(x for x in (s["text"], 'job="%s"' % job, 'instance="%s"' % instance) if x)
            out.append({"series": "%s{%s}" % (s["metric"]["__name__"], body), "values": values})
    for alertname, webhook_id in GOLDEN_ALERTS:
        out.append({"series": series_selector({"__name__": "ALERTS", "alertname": alertname, "alertstate": "firing",
                                                "job": job, "webhook_id": webhook_id, "severity": "warning"}),
                    "values": "1x30"})
    return out


def ha_comparison(expr, where):
    """A PromQL expression empty exactly when `expr` answers the same for
    job "one" (one exporter) and job "two" (an HA pair of the same series):
    the same series but for `job`, with the same values (up to float
    rounding: a sum's order is not fixed; NaN = NaN)."""
    one = "(%s)" % substitute(expr, dict(GOLDEN_VARIABLES, job="one"))
    two = "(%s)" % substitute(expr, dict(GOLDEN_VARIABLES, job="two"))
    return ("count(abs(%s - ignoring (job) %s) > 1e-9 * abs(%s) + 1e-12)\nor count(%s unless ignoring (job) %s)\n"
            "or count(%s unless ignoring (job) %s)\n# %s" % (one, two, one, one, two, two, one, where))


def promtool_test(groups):
    """Runs `promtool test rules` on these test groups: (ok, output)."""
    promtool = shutil.which("promtool")
    if not promtool:
        return False, "promtool not found (scripts/install-tools.sh installs it; --static skips these checks)"
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "dashboards_test.yml"
        # JSON is YAML: no dependency to write it.
        path.write_text(json.dumps({"rule_files": [], "evaluation_interval": "1m", "tests": groups},
                                   ensure_ascii=False, indent=1))
        try:
            r = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return False, "promtool test rules took over 120 s"
    return r.returncode == 0, r.stdout + r.stderr


def failing_comments(output):
    """The `# where` comments of the expressions promtool reports failed."""
    return sorted(set(re.findall(r"\\n# ([^\"]*)\", time:", output)))


def check_golden(dashboards):
    """Problems found by running the queries on the golden series in
    promtool: the webhook names query gives webhook_text() for every golden
    and NAME_CASES webhook, once per webhook under an HA pair; every query
    over the webhook series answers the same for an HA pair as for one
    exporter; and a query that sums without HA_DEDUP is caught (so this
    check can fail)."""
    infos = [s["metric"] for s in golden_webhook_info()] + [dict(c, __name__="apify_webhook_info") for c in NAME_CASES]
    names_input = [{"series": series_selector(dict(labels, job="apify", instance=instance)), "values": "1x30"}
                   for labels in infos for instance in ("a", "b")]
    # A third exporter that has not read the names yet (an instance sorted
    # first, so that a tie would pick it): the named series must win.
    names_input += [{"series": series_selector(dict(labels, job="apify", instance="0", actor_name="",
                                                    actor_task_name="")), "values": "1x30"}
                    for labels in infos if labels.get("actor_name") or labels.get("actor_task_name")]
    names_test = {
        "interval": "1m", "input_series": names_input,
        "promql_expr_test": [{
            "expr": substitute(webhook_names(), dict(GOLDEN_VARIABLES, job="apify")), "eval_time": GOLDEN_EVAL,
            "exp_samples": [{"labels": series_selector(dict(s["metric"], __name__="")), "value": 1}
                            for s in expected_webhook_names(infos)]}]}
    tests = []
    for path, d in dashboards:
        for panel, t in queries(d):
            if HA_SERIES.search(t["expr"]):
                where = "%s / %s [%s]" % (path.name, panel.get("title"), t.get("refId"))
                tests.append({"expr": ha_comparison(t["expr"], where), "eval_time": GOLDEN_EVAL, "exp_samples": []})
    ha_input = golden_input("one", ["a"]) + golden_input("two", ["a", "b"])
    ok, out = promtool_test([names_test, {"interval": "1m", "input_series": ha_input, "promql_expr_test": tests}])
    problems = []
    if not ok:
        failed = failing_comments(out)
        problems.extend("%s: answers differently for an HA pair of exporters than for one" % w for w in failed)
        if not failed:
            problems.append("golden checks (promtool): %s" % out.strip()[-3000:])
    canary = ha_comparison('sum(apify_webhook_dispatches_active{job=~"$job", instance=~"$instance"})', "canary")
    ok, out = promtool_test([{"interval": "1m", "input_series": ha_input,
                              "promql_expr_test": [{"expr": canary, "eval_time": GOLDEN_EVAL, "exp_samples": []}]}])
    if ok or failing_comments(out) != ["canary"]:
        problems.append("the HA check does not catch a sum over an HA pair: %s" % out.strip()[-1000:])
    return problems, len(tests)


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
    n_golden = 0
    if "--static" not in sys.argv[1:]:
        golden_problems, n_golden = check_golden(dashboards)
        problems.extend(golden_problems)
    for p in problems:
        print("dashboard lint: " + p)
    n_panels = sum(len(list(panels(d))) for _, d in dashboards)
    n_queries = sum(len(list(queries(d))) for _, d in dashboards)
    print("dashboards: %d dashboards, %d panels, %d queries (%d run on the golden series for an HA pair), "
          "%d problems" % (len(dashboards), n_panels, n_queries, n_golden, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
