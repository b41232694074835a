"""What the scripts that run processes and wait on them share (stdlib only):
scripts/e2e.py, scripts/e2e_notify.py and scripts/check_helm.py."""
import json
import socket
import time
import urllib.error
import urllib.request


class Failure(Exception):
    """A check failed."""


def free_port():
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body text); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def poll(what, fn, timeout, interval=0.5, retry=(Failure,)):
    """Call fn until it returns a truthy value, and return that; an exception
    of `retry` counts as a falsy answer, any other goes up at once. Failure
    after `timeout` seconds with the last value or error it gave."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except retry as e:
            last = str(e)
        if time.monotonic() >= deadline:
            raise Failure("%s: not within %ss (last: %s)" % (what, timeout, shorten(last)))
        time.sleep(interval)


def shorten(value, n=600):
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= n else text[:n] + "..."
