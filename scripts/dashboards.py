#!/usr/bin/env python3
"""Lint the Grafana dashboards of dashboards/*.json and run their queries on
the golden series in promtool.

    python3 scripts/dashboards.py            # lint + golden checks, exit 1 on any problem
    python3 scripts/dashboards.py --static   # lint only (no promtool)

Checks what Grafana itself would not tell until someone opens the dashboard:
valid JSON, unique uids and panel ids, the ${datasource}/job/instance/
webhook_id/event_type variables, every panel and query on ${datasource}, a
unit on every panel, no date unit in a table's defaults (it would turn its
label columns into dates) nor on a field a data link reads,
rate()/irate()/increase() windows that are $__rate_interval (or $__range
for increase), only metric names of the exporter's contract, ALERTS,
ALERTS_FOR_STATE and two series of the bundled rules (RULE_SERIES), every
exporter selector filtered by $job and $instance, aggregations and joins by
(job, webhook_id), never webhook_id alone, links to dashboards that exist,
the Apify Console link of every table of failed deliveries, the drill-down
link (with job and webhook_id) of the overview's tables, panels that do not
overlap, the overview's on-call panels above the fold of a 1366x768 screen
(FOLD_PX), and every sum or count over the webhook series taken over
`max without (instance, pod)` first (an HA pair).

Webhooks are named "Actor / task — description · id" (webhook_text). The
$webhook_id selector builds that name itself (webhook_names), so that it
works without the bundled rules; panels join it from the rules'
apify_webhook:name (NAMES). promtool runs both on the golden
apify_webhook_info series (and NAME_CASES: each way a name can be missing,
RENAME_CASE: an HA pair disagreeing on a description), reported by two
instances, and the selector's regex is applied, as Grafana applies it, to
the query_result() lines of the answer. promtool also runs, with
prometheus/rules.yml, every query over the webhook series, the alerts or
the rules' series on all golden series for one exporter and for an HA pair
(one of which lags a FAILED dispatch behind), which must answer the same,
not nothing, and one row per webhook of failed dispatches.

The e2e test imports this module to walk the same panel queries.
"""
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from ha_lint import HA_DEDUP, HA_SERIES, lint_ha

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
# ALERTS_FOR_STATE's value is the time an alert became active: Alertmanager's
# StartsAt.
ALERT_SERIES = {"ALERTS", "ALERTS_FOR_STATE"}
# Series the bundled recording rules (prometheus/rules.yml) record, that the
# dashboards read: the webhooks' names (NAMES), and a threshold whose
# presence tells that this Prometheus evaluates the bundled rules (RULES_GATE).
# Recorded by (job, webhook_id): only $job filters them.
RULE_SERIES = {"apify_webhook:name", "apify_webhook:failure_ratio_threshold"}
# Appended to the on-call counts, which read ALERTS: without the bundled
# rules they answer nothing ("alert rules not loaded"), not a green 0.
RULES_GATE = "and on () (count(apify_webhook:failure_ratio_threshold) > 0)"

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
# Panels join the same name from the bundled rules' apify_webhook:name
# (prometheus/rules.yml: the same label operations over
# apify_webhook:info:one_per_webhook, one series per (job, webhook_id)):
# `* on (job, webhook_id) group_left (webhook)` (or `(webhook,
# request_host)`) and NAMES. The selector keeps its own expression so that
# it lists webhooks, filtered by $instance, without the rules.
NAMES = 'apify_webhook:name{job=~"$job"}'
NAME_JOIN = re.compile(r"\*\s*on\s*\(job, webhook_id\)\s*group_left\s*\(webhook(?:, request_host)?\)\s*")
# Ids are unique per Apify account (job), not across them: a folded
# `ad-hoc:<actorId>` of a public Actor can come from two accounts. Panels
# aggregate and join by (job, webhook_id), never by webhook_id alone.
BY_ID_ALONE = re.compile(r"\b(?:by|on|without)\s*\(\s*webhook_id\s*[,)]")

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


# Both exporters of a pair named, but one still with the old description:
# one series must come out, with either name.
RENAME_CASE = [
    {"webhook_id": "NcRenamed", "description": "Old name", "actor_name": "jane/r", "actor_task_name": "",
     "request_host": "r.example.com"},
    {"webhook_id": "NcRenamed", "description": "New name", "actor_name": "jane/r", "actor_task_name": "",
     "request_host": "r.example.com"},
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
    """What Prometheus must answer to the names query: one series per id,
    the first one's name."""
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


def expected_webhook_options(infos):
    """[(webhook_text, id)] the $webhook_id selector must offer for these
    apify_webhook_info label sets: the names query's answer, first id wins."""
    return [(s["metric"]["webhook"], s["metric"]["webhook_id"]) for s in expected_webhook_names(infos)]


def check_webhook_variable(var):
    """Problems of the $webhook_id selector: its query must be WEBHOOK_QUERY
    (run by promtool on the golden series in check_golden()), its regex must
    give (webhook_text, id) for what that query returns: query_result()
    lines `{request_host="...",webhook="<text>",webhook_id="<id>"} 1 <ms>`
    (no request_host for ad-hoc webhooks), quotes and newlines in
    descriptions included."""
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
            if BY_ID_ALONE.search(expr):
                bad("panel %r aggregates or joins by webhook_id alone: use (job, webhook_id), ids are unique "
                    "only within an account" % title)
        if p.get("type") == "table" and unit and DATE_UNIT.match(unit):
            bad("table %r has the date unit %s in its defaults: its label columns would read as dates (NaN); "
                "give the time field an override" % (title, unit))
        excluded = {k for t in p.get("transformations") or [] if t.get("id") == "organize"
                    for k, v in ((t.get("options") or {}).get("excludeByName") or {}).items() if v}
        field_config = p.get("fieldConfig") or {}
        links = [(None, l) for l in (field_config.get("defaults") or {}).get("links") or []] + [
            ((o.get("matcher") or {}).get("options"), l) for o in field_config.get("overrides") or []
            for prop in o.get("properties", []) if prop.get("id") == "links" for l in prop.get("value", [])]
        for field, link in links:
            for name in link_fields(link.get("url", ""), field):
                if DATE_UNIT.match(field_unit(p, name) or ""):
                    bad("panel %r: a link reads field %s, whose unit %s is a date: the link would carry "
                        "a formatted date" % (title, name, field_unit(p, name)))
                if name in excluded:
                    bad("panel %r: a link reads field %s, which organize excludes: hide it instead" % (title, name))
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
                and not all(x in (field_link(p, "webhook") or "") for x in [DRILL_DOWN_LINK] + DRILL_DOWN_VALUES)):
            bad("table %r names webhooks but its webhook column does not open the drill-down (%s)"
                % (title, DRILL_DOWN_LINK))

    if path.name == ONCALL_DASHBOARD:
        by_title = {p.get("title"): p for p in d.get("panels", [])}
        for title in ONCALL_PANELS:
            g = (by_title.get(title) or {}).get("gridPos")
            if not g:
                bad("no top-level panel %r: on-call needs it above the fold" % title)
            elif bottom_px(dict({"y": 99, "h": 99}, **g)) > FOLD_PX or g.get("x", 0) + g.get("w", 99) > 24:
                bad("panel %r (gridPos %s) ends %d px below the grid's top, past the fold at %d px"
                    % (title, g, bottom_px(dict({"y": 99, "h": 99}, **g)), FOLD_PX))

    for link in d.get("links", []):
        if link.get("type") == "link":
            check_link(link.get("url", ""), all_uids, bad)
    return problems


# The run of a failed dispatch, in Apify Console (the public run URL Apify
# documents for webhook payloads); Grafana fills in the cell's run id.
RUN_FIELD = "actor_run_id"
RUN_LINK = "https://console.apify.com/view/runs/${__value.raw}"

# What on-call asks first (is anything failing, since when, which Actor and
# receiver, where to click): above the fold of a 1366x768 screen. Budget:
# 768 px, less about 120 px of browser bar and taskbar, less about 110 px of
# Grafana's top bar and variables: 538 px for the grid. A grid row is 30 px
# high with an 8 px margin, so a panel at row y of h rows ends
# (y + h) * 38 - 8 px below the grid's top: 14 rows end at 524 px, 15 at 562.
ONCALL_DASHBOARD = "overview.json"
ONCALL_PANELS = ["Failing webhooks now", "Webhook alerts firing", "Oldest webhook alert: active for",
                 "Failing webhooks", "Latest failed deliveries"]
VIEWPORT_PX = 768
BROWSER_CHROME_PX = 120
GRAFANA_CHROME_PX = 110
GRID_ROW_PX = 30
GRID_MARGIN_PX = 8
FOLD_PX = VIEWPORT_PX - BROWSER_CHROME_PX - GRAFANA_CHROME_PX


def bottom_px(grid_pos):
    """How far below the grid's top a panel ends, in pixels."""
    return (grid_pos["y"] + grid_pos["h"]) * (GRID_ROW_PX + GRID_MARGIN_PX) - GRID_MARGIN_PX


# A webhook's row opens its drill-down, the chosen webhook its value.
DRILL_DOWN_LINK = "/d/apify-webhook-detail/"
DRILL_DOWN_VALUES = ["var-webhook_id=${__data.fields.webhook_id}", "var-job=${__data.fields.job}"]


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


def render_link(url, row, field, panel):
    """A data link's URL for one table row, as Grafana builds it:
    ${__value.raw} is the cell's own value, ${__data.fields.x} the row's x.
    Grafana puts a field's display value in the link, which for a date unit
    is a formatted date (NaN for a label): ValueError when a field the link
    reads has one in `panel`."""
    for name in link_fields(url, field):
        unit = field_unit(panel, name)
        if unit and DATE_UNIT.match(unit):
            raise ValueError("the link %r reads field %s, whose unit %s is a date" % (url, name, unit))

    def repl(m):
        if m.group(1) == "__value.raw":
            return row.get(field, "")
        if m.group(1).startswith("__data.fields."):
            return row.get(m.group(1)[len("__data.fields."):], "")
        return m.group(0)
    return re.sub(r"\$\{([^}]+)\}", repl, url)


# Grafana's display processor reads a string as a date when the field's
# unit is a date unit: a table's label columns must not get one.
DATE_UNIT = re.compile(r"^(?:dateTime|time:)")


def field_unit(panel, field):
    """The unit Grafana gives `field` of a panel: its override's, else the
    defaults'."""
    field_config = panel.get("fieldConfig") or {}
    unit = (field_config.get("defaults") or {}).get("unit")
    for o in field_config.get("overrides") or []:
        if (o.get("matcher") or {}).get("options") == field:
            for prop in o.get("properties", []):
                if prop.get("id") == "unit":
                    unit = prop.get("value")
    return unit


def link_fields(url, field):
    """The fields a data link's URL reads: `field` itself for
    ${__value.raw}, x for ${__data.fields.x}."""
    out = []
    for m in re.finditer(r"\$\{([^}]+)\}", url):
        if m.group(1) == "__value.raw":
            out.append(field)
        elif m.group(1).startswith("__data.fields."):
            out.append(m.group(1)[len("__data.fields."):])
    return out


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
        if name not in CONTRACT | PROMETHEUS_SERIES | ALERT_SERIES | RULE_SERIES:
            problems.append("metric %s is not in the exporter's contract" % name)
    for m in METRIC_SELECTOR.finditer(expr):
        name, matchers = m.group(1), m.group(2)
        if name in CONTRACT or name in PROMETHEUS_SERIES:
            for need in ('job=~"$job"', 'instance=~"$instance"'):
                if need not in matchers:
                    problems.append("selector of %s lacks %s" % (name, need))
        if name in ALERT_SERIES and 'job=~"$job"' not in matchers:
            problems.append('selector of %s lacks job=~"$job"' % name)
        if name == "apify_webhook:name" and m.group(0) != NAMES:
            problems.append("selects apify_webhook:name other than as %s" % NAMES)
    for name in re.findall(r"\b(apify_[a-z_]+)\b(?!\s*\{)", expr):
        if name in CONTRACT and not re.search(r"\b%s\s*\{" % re.escape(name), expr):
            problems.append("%s is selected without the $job/$instance filter" % name)
    problems.extend(lint_ha(expr))
    if "group_left (description)" in expr:
        problems.append("joins description alone: join `webhook` (NAMES), the Actor / task — description name")
    if NAME_JOIN.search(expr) and not re.search(NAME_JOIN.pattern + re.escape(NAMES), expr):
        problems.append("joins `webhook` from something else than NAMES")
    if "apify_webhook:name" in expr and not re.search(NAME_JOIN.pattern + re.escape(NAMES), expr):
        problems.append("reads apify_webhook:name but not as `* on (job, webhook_id) group_left (webhook) %s`"
                        % NAMES)
    if "apify_webhook:failure_ratio_threshold" in expr and not expr.rstrip().endswith(RULES_GATE):
        problems.append("reads apify_webhook:failure_ratio_threshold other than as the final `%s`" % RULES_GATE)
    return problems


# The golden checks run the queries in promtool (Prometheus' own engine) on
# the golden series, 30 one-minute samples: gauges flat, counters growing by
# their golden value a minute, so rates are not all 0.
GOLDEN_VALUES = {"gauge": "{v}x30", "counter": "0+{v}x30", "histogram": "0+{v}x30"}
GOLDEN_EVAL = "20m"
GOLDEN_VARIABLES = {"instance": ".*", "webhook_id": ".*", "event_type": ".*", "__rate_interval": "5m",
                    "__range": "10m", "__interval": "1m"}
# Alerts the bundled rules would fire, for the queries that read ALERTS, and
# when each became active (ALERTS_FOR_STATE, seconds from promtool's epoch).
# Wh1 has a SUCCEEDED dispatch, so "since last success" has a value.
GOLDEN_ALERTS = [("ApifyWebhookFailureRatioHigh", "Wh2", 300), ("ApifyWebhookReceiverMisconfigured", "Wh3", 420),
                 ("ApifyWebhookFailureRatioHigh", "Wh3", 480), ("ApifyWebhookReceiverSlow", "Wh1", 600)]
# An HA pair that disagrees: one of the pair has not yet read Wh2's newest
# FAILED dispatch and still reports the one before. Tables of failed
# deliveries must show the newer one, once.
GOLDEN_STALE_FAILED = {"webhook_id": "Wh2", "dispatch_id": "d2", "event_type": "ACTOR.RUN.FAILED",
                       "actor_run_id": "Run2older", "response_status": "503", "value": "1764000001"}
LAST_FAILED = "apify_webhook_last_failed_dispatch_info"


def substitute(expr, values):
    """`expr` with Grafana's $var / ${var} / ${var:fmt} replaced from
    `values`; KeyError on a variable it lacks."""
    return re.sub(r"\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)",
                  lambda m: values[m.group(1) or m.group(2)], expr)


def golden_input(job, instances):
    """promtool input_series: every golden series under `job` and each of
    `instances` (two: an HA pair scraping one account), plus ALERTS and
    ALERTS_FOR_STATE. With two instances, the first lags a dispatch behind
    on GOLDEN_STALE_FAILED's webhook."""
    out = []
    for s in golden_series():
        values = GOLDEN_VALUES.get(s["type"], "{v}x30").format(v=s["value"][1])
        for i, instance in enumerate(instances):
            text, v = s["text"], values
            if (len(instances) > 1 and i == 0 and s["metric"]["__name__"] == LAST_FAILED
                    and s["metric"]["webhook_id"] == GOLDEN_STALE_FAILED["webhook_id"]):
                stale = dict(GOLDEN_STALE_FAILED)
                v = "%sx30" % stale.pop("value")
                text = ",".join("%s=%s" % (k, promql_string(x)) for k, x in stale.items())
            body = ", ".join(x for x in (text, 'job="%s"' % job, 'instance="%s"' % instance) if x)
            out.append({"series": "%s{%s}" % (s["metric"]["__name__"], body), "values": v})
    for alertname, webhook_id, active_at in GOLDEN_ALERTS:
        labels = {"alertname": alertname, "job": job, "webhook_id": webhook_id, "severity": "warning"}
        out.append({"series": series_selector(dict(labels, __name__="ALERTS", alertstate="firing")),
                    "values": "1x30"})
        out.append({"series": series_selector(dict(labels, __name__="ALERTS_FOR_STATE")),
                    "values": "%dx30" % active_at})
    return out


def golden_compared(expr):
    """Whether the golden HA check runs `expr`: it reads the exporter's
    webhook series, the alerts or the rules' series."""
    return bool(HA_SERIES.search(expr) or re.search(r"\bALERTS|\bapify_webhook:", expr))


def ha_comparison(expr, where):
    """A PromQL expression empty exactly when `expr` answers the same for
    job "one" (one exporter) and job "two" (an HA pair of the same series):
    the same series but for `job`, with the same values (up to float
    rounding: a sum's order is not fixed; NaN = NaN), and not nothing (a
    comparison of two empty answers proves nothing). A query over failed
    dispatches must also give one series per webhook."""
    one = "(%s)" % substitute(expr, dict(GOLDEN_VARIABLES, job="one"))
    two = "(%s)" % substitute(expr, dict(GOLDEN_VARIABLES, job="two"))
    once = ("\nor count by (job, webhook_id) (%s) > 1" % two) if LAST_FAILED in expr else ""
    return ("count(abs(%s - ignoring (job) %s) > 1e-9 * abs(%s) + 1e-12)\nor count(%s unless ignoring (job) %s)\n"
            "or count(%s unless ignoring (job) %s)\nor absent(%s)%s\n# %s"
            % (one, two, one, one, two, two, one, one, once, where))


RULES = ROOT / "prometheus" / "rules.yml"


def promtool_test(groups):
    """Runs `promtool test rules` on these test groups, with the bundled
    recording rules (the panels join apify_webhook:name): (ok, output)."""
    promtool = shutil.which("promtool")
    if not promtool:
        return False, "promtool not found (scripts/install-tools.sh installs it; --static skips these checks)"
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "dashboards_test.yml"
        # JSON is YAML: no dependency to write it.
        path.write_text(json.dumps({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": groups},
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
    promtool: the selector's names query and the rules' apify_webhook:name
    (NAMES) give webhook_text() for every golden and NAME_CASES webhook,
    once per webhook under an HA pair, and once for RENAME_CASE; every query
    over the webhook series, the alerts or the rules' series answers the
    same, and something, for an HA pair as for one exporter; and a query
    that sums without HA_DEDUP is caught (so this check can fail)."""
    infos = [s["metric"] for s in golden_webhook_info()] + [dict(c, __name__="apify_webhook_info") for c in NAME_CASES]
    names_input = [{"series": series_selector(dict(labels, job="apify", instance=instance)), "values": "1x30"}
                   for labels in infos for instance in ("a", "b")]
    # A third exporter that has not read the names yet (an instance sorted
    # first, so that a tie would pick it): the named series must win.
    names_input += [{"series": series_selector(dict(labels, job="apify", instance="0", actor_name="",
                                                    actor_task_name="")), "values": "1x30"}
                    for labels in infos if labels.get("actor_name") or labels.get("actor_task_name")]
    # A rename seen by one of the pair: both named, two descriptions.
    names_input += [{"series": series_selector(dict(labels, __name__="apify_webhook_info", job="apify",
                                                    instance=instance)), "values": "1x30"}
                    for instance, labels in zip(("a", "b"), RENAME_CASE)]
    rename_id = RENAME_CASE[0]["webhook_id"]
    only_rename = 'label_replace(vector(1), "webhook_id", %s, "", "")' % promql_string(rename_id)
    rename_texts = " or ".join('label_replace(vector(1), "webhook", %s, "", "")' % promql_string(webhook_text(c))
                               for c in RENAME_CASE)
    expected = [dict(s["metric"], __name__="") for s in expected_webhook_names(infos)]
    names_tests = []
    for expr, labels in ((substitute(webhook_names(), dict(GOLDEN_VARIABLES, job="apify")), {}),
                         (substitute(NAMES, dict(GOLDEN_VARIABLES, job="apify")),
                          {"job": "apify", "__name__": "apify_webhook:name"})):
        names_tests += [
            {"expr": "%s unless on (webhook_id) %s" % (expr, only_rename), "eval_time": GOLDEN_EVAL,
             "exp_samples": [{"labels": series_selector(dict(m, **labels)), "value": 1} for m in expected]},
            {"expr": "count(%s and on (webhook_id) %s and on (webhook) (%s))" % (expr, only_rename, rename_texts),
             "eval_time": GOLDEN_EVAL, "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": "count(%s and on (webhook_id) %s)" % (expr, only_rename),
             "eval_time": GOLDEN_EVAL, "exp_samples": [{"labels": "{}", "value": 1}]}]
    names_test = {"interval": "1m", "input_series": names_input, "promql_expr_test": names_tests}
    tests = []
    for path, d in dashboards:
        for panel, t in queries(d):
            if golden_compared(t["expr"]):
                where = "%s / %s [%s]" % (path.name, panel.get("title"), t.get("refId"))
                tests.append({"expr": ha_comparison(t["expr"], where), "eval_time": GOLDEN_EVAL, "exp_samples": []})
    ha_input = golden_input("one", ["a"]) + golden_input("two", ["a", "b"])
    ok, out = promtool_test([names_test, {"interval": "1m", "input_series": ha_input, "promql_expr_test": tests}])
    problems = []
    if not ok:
        failed = failing_comments(out)
        problems.extend("%s: answers differently for an HA pair of exporters than for one, or nothing, or more "
                        "than one row per webhook of failed dispatches" % w for w in failed)
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
