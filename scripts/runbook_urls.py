#!/usr/bin/env python3
"""The base of every alert's runbook_url: one setting (stdlib only).

Each `runbook_url` in prometheus/alerts.yml, and each one the promtool
tests in prometheus/tests/*.yml expect, is <base>#<anchor>, the anchor
being the alert's section of docs/runbook.md. The base is the same
everywhere, so it is changed with one command:

    python3 scripts/runbook_urls.py set https://wiki.example.com/apify-runbook
    python3 scripts/runbook_urls.py set        # back to the default:
                                               # <Cargo.toml repository>/blob/main/docs/runbook.md
    python3 scripts/runbook_urls.py check      # what scripts/check-assets.sh runs
    python3 scripts/runbook_urls.py show       # the base in use, and the default

`check` fails unless every runbook_url shares one base. The anchors are
scripts/check_alerts.py's: each alert's is its name in lower case, with a
`## <AlertName>` section in docs/runbook.md; promtool holds the tests'
expected ones to the alerts'.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
URL = re.compile(r"(?m)^(?P<lead>[ \t]*runbook_url:[ \t]*)(?P<base>[^#\s]+)#(?P<anchor>\S+?)[ \t]*$")


def files():
    return [ROOT / "prometheus/alerts.yml"] + sorted((ROOT / "prometheus/tests").glob("*.yml"))


def default_base():
    """<repository of Cargo.toml>/blob/main/docs/runbook.md."""
    text = (ROOT / "Cargo.toml").read_text()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    m = re.search(r'(?m)^repository\s*=\s*"([^"]+)"', package)
    if not m:
        raise SystemExit("runbook_urls: Cargo.toml has no repository in [package]")
    return m.group(1).rstrip("/") + "/blob/main/docs/runbook.md"


def urls():
    """(file, base, anchor) of every runbook_url."""
    for path in files():
        for m in URL.finditer(path.read_text()):
            yield path.relative_to(ROOT), m.group("base"), m.group("anchor")


def check():
    found = list(urls())
    bases = sorted({base for _, base, _ in found})
    problems = []
    if not found:
        problems.append("no runbook_url found")
    if len(bases) > 1:
        problems.append("runbook_url bases differ: %s (run: python3 scripts/runbook_urls.py set BASE)" % ", ".join(bases))
    for p in problems:
        print("runbook_urls: " + p)
    print("runbook_urls: %d URLs in %d files, base %s, %d problems"
          % (len(found), len({p for p, _, _ in found}), bases[0] if len(bases) == 1 else "?", len(problems)))
    return 1 if problems else 0


def set_base(base):
    if "#" in base or not re.match(r"^https?://\S+$", base):
        raise SystemExit("runbook_urls: expected an http(s) URL without a #fragment, got %r" % base)
    base = base.rstrip("/")
    changed = 0
    for path in files():
        text = path.read_text()
        new, n = URL.subn(lambda m: "%s%s#%s" % (m.group("lead"), base, m.group("anchor")), text)
        if new != text:
            path.write_text(new)
        changed += n
    print("runbook_urls: %d runbook_url set to %s#<alert>" % (changed, base))
    return check()


def main(argv):
    command = argv[1] if len(argv) > 1 else "show"
    if command == "check" and len(argv) == 2:
        return check()
    if command == "set" and len(argv) in (2, 3):
        return set_base(argv[2] if len(argv) == 3 else default_base())
    if command == "show" and len(argv) == 2:
        print("in use: %s" % ", ".join(sorted({b for _, b, _ in urls()})))
        print("default: %s" % default_base())
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
