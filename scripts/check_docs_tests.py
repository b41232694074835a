#!/usr/bin/env python3
"""Every test docs/reliability.md and docs/scaling.md cite as proof exists
(stdlib only).

    python3 scripts/check_docs_tests.py

A citation is `file::test_name` (tests/file.rs), `module::tests::test_name`
(a unit test under src/), or `…::test_name` (the file of the citation
before it). Each must name a `fn` that is marked as a test
(#[test] or #[tokio::test]; in a proptest! block each test carries
#[test] too) in that file.
"""
import functools
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "reliability.md", ROOT / "docs" / "scaling.md"]
CITATION = re.compile(r"`((?:…|[a-z_]+)(?:::[a-z_]+)+)`")


def source_of(path):
    """The file a citation's module path names, or None."""
    parts = path.split("::")
    if len(parts) == 2:
        return ROOT / "tests" / f"{parts[0]}.rs"
    module = [p for p in parts[:-1] if p != "tests"]
    for candidate in (
        ROOT / "src" / pathlib.Path(*module).with_suffix(".rs"),
        ROOT / "src" / pathlib.Path(*module) / "mod.rs",
    ):
        if candidate.exists():
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def read(source):
    """The text of `source`, read once however many citations name it."""
    return source.read_text()


def is_test(text, name):
    m = re.search(rf"\bfn {re.escape(name)}\s*\(", text)
    if not m:
        return False
    # A test attribute in the 400 characters above the fn.
    tail = text[: m.start()][-400:]
    return bool(re.search(r"#\[(tokio::)?test\b", tail))


def main():
    failed = False
    for doc in DOCS:
        failed |= check(doc)
    return 1 if failed else 0


def check(doc):
    """Prints the problems of one document's citations; True if any."""
    problems = []
    cited = 0
    previous = None
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        for m in CITATION.finditer(line):
            path = m.group(1)
            if path.startswith("…::"):
                if previous is None:
                    problems.append(f"line {number}: {path} follows no citation")
                    continue
                path = previous.rsplit("::", 1)[0] + path[1:]
            if path.count("::") < 1 or not re.fullmatch(r"[a-z_:]+", path):
                continue
            name = path.rsplit("::", 1)[1]
            if not name.islower() or "_" not in name:
                continue
            source = source_of(path)
            if source is None or not source.exists():
                problems.append(f"line {number}: no source file for {path}")
                continue
            previous = path
            cited += 1
            if not is_test(read(source), name):
                problems.append(f"line {number}: {path}: no test {name} in {source.relative_to(ROOT)}")
    for p in problems:
        print(p)
    print(f"{doc.name}: {cited} tests cited, {len(problems)} problems")
    return bool(problems)


if __name__ == "__main__":
    sys.exit(main())
