"""The HA rule of every PromQL the project ships (stdlib only): two
exporters scraping one account are two `instance`s (or pods) of one job
with the same series, so a sum or count over them doubles. Every sum or
count over the exporter's webhook series first takes one of each pair with
`max without (instance, pod)`.

scripts/dashboards.py applies it to every dashboard query, and
scripts/check_alerts.py to the webhook alerts, their annotation queries
and the apify_webhook: recording rules.
"""
import re

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
