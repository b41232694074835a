#!/usr/bin/env python3
"""Python peer for `scripts/bench.sh peers`: serves the families of a saved
/metrics body with prometheus_client, re-encoding them on every scrape.

    bench_python_peer.py BODY_FILE PORT

The body is parsed once, at start. Each scrape then does what a custom
collector in a Python exporter does: collect() builds fresh Metric families
with their samples, and prometheus_client's own WSGI server (threaded, from
start_http_server) encodes them and gzips the result when the scraper sends
`Accept-Encoding: gzip`. Listens on 127.0.0.1 only.
"""

import sys
import threading

from prometheus_client import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry


class SavedFamilies:
    """A custom collector yielding the parsed families, rebuilt per collect()."""

    def __init__(self, families):
        self._families = families

    def collect(self):
        for parsed in self._families:
            family = Metric(parsed.name, parsed.documentation, parsed.type, parsed.unit)
            for s in parsed.samples:
                family.add_sample(s.name, dict(s.labels), s.value, s.timestamp, s.exemplar)
            yield family


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench_python_peer.py BODY_FILE PORT")
    body_file, port = sys.argv[1], int(sys.argv[2])
    with open(body_file, encoding="utf-8") as f:
        families = list(text_string_to_metric_families(f.read()))
    registry = CollectorRegistry()
    registry.register(SavedFamilies(families))
    start_http_server(port, addr="127.0.0.1", registry=registry)
    samples = sum(len(f.samples) for f in families)
    print(f"listening 127.0.0.1:{port} families={len(families)} samples={samples}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
