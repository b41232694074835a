#!/usr/bin/env python3
"""The commented notifier examples of deploy/alertmanager.yml, uncommented as
a user would (stdlib only): its receivers' `    # ` lines and the commented
global SMTP settings. The one reading of those examples, for
scripts/check-assets.sh (amtool check-config of the result),
scripts/check_notifications.py (the templates they name) and
scripts/e2e_notify.py (the Slack and e-mail fields the e2e's receivers take).

    python3 scripts/alertmanager_examples.py > alertmanager.yml
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy/alertmanager.yml"


def uncommented(text=None):
    """deploy/alertmanager.yml (or `text`) with the examples uncommented: in
    the top-level `receivers:` block (up to the next top-level line),
    `    # ` becomes `    `; `# global:` and `#   smtp_...` lose their `# `."""
    text = CONFIG.read_text() if text is None else text
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        starts = not inside and body.startswith("receivers:")
        if inside or starts:
            body = re.sub(r"^(    )# ", r"\1", body)
            # The block ends with (and includes) the next top-level line.
            inside = starts or not re.match(r"[^ ]", body)
        body = re.sub(r"^# (global:)", r"\1", body)
        body = re.sub(r"^# (  smtp_)", r"\1", body)
        out.append(body + line[len(line.rstrip("\n")):])
    return "".join(out)


def template_field(config, notifier, key):
    """The `key: '{{ template "..." . }}'` value (quotes kept) of the first
    `notifier` (slack_configs, email_configs...) of the uncommented
    `config`, or None."""
    block = re.search(r"(?ms)^\s*%s:\n(.*?)(?=^\s*[a-z]+_configs:|^\S)" % notifier, config)
    if not block:
        return None
    m = re.search(r"(?m)^\s+%s: ('\{\{ template \"[a-z.]+\" \. \}\}')\s*$" % key, block.group(1))
    return m.group(1) if m else None


if __name__ == "__main__":
    sys.stdout.write(uncommented())
