#!/usr/bin/env python3
"""A small fake of the Apify API v2 webhook endpoints, for the end-to-end test.

Stdlib only; serves on 127.0.0.1. Four webhooks with deterministic behaviour,
each a scenario the bundled alerts must tell apart:

  wh-healthy        every dispatch SUCCEEDED at the first call (200): quiet.
  wh-misconfigured  the receiver answers 404, doNotRetry: every dispatch FAILED
                    after one call -> ReceiverMisconfigured, FailureRatioHigh.
  wh-flaky          503, then no answer (timeout), then 200 (2 of 3) or 503
                    (1 of 3); each dispatch stays ACTIVE ~5 s, so a few are
                    always ACTIVE -> ReceiverUnavailable, FailureRatioHigh.
  wh-stalled        last SUCCEEDED 8h ago, FAILED since, one dispatch ACTIVE
                    for 3h -> DispatchStuck, NoRecentSuccess. No live traffic.

A dispatch's status and calls are a function of its age, so the exporter sees
ACTIVE dispatches turn terminal and calls appear while it re-reads them.
`auth_ok = False` makes every request a 401 (token-not-valid).

Run alone to look at it:  python3 scripts/fake_apify.py 8080
"""
import json
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "e2e-token"
USER_ID = "e2eUser000000001"
TICK_SECONDS = 1.0


def iso(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % int(ts * 1000 % 1000)


# A dispatch plan: calls as (start offset s, duration s, HTTP status or None
# for "no answer"), and the offset at which the dispatch ends with a status.
def plan_healthy(n):
    return [(0.1, 0.2, 200)], 0.4, "SUCCEEDED"


def plan_misconfigured(n):
    return [(0.1, 0.05, 404)], 0.3, "FAILED"


def plan_flaky(n):
    last = 200 if n % 3 else 503
    return [(0.3, 0.1, 503), (1.5, 1.0, None), (4.0, 0.5, last)], 4.8, "SUCCEEDED" if last == 200 else "FAILED"


WEBHOOKS = [
    # id, description, request URL (userinfo and query must not leak into metrics),
    # event types, actor id, task id, doNotRetry, plan for live dispatches.
    ("wh-healthy", "Orders to CRM", "https://crm.example.com/hooks/apify?key=s3cret",
     ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"], "actHealthy00001", None, False, plan_healthy),
    ("wh-misconfigured", "Slack alerts (old URL)", "https://hooks.slack.example/services/T000/B000",
     ["ACTOR.RUN.FAILED"], "actSlack0000001", None, True, plan_misconfigured),
    ("wh-flaky", "Warehouse loader", "https://loader:pa55@etl.example.com/load",
     ["ACTOR.RUN.SUCCEEDED", "ACTOR.BUILD.SUCCEEDED"], "actEtl000000001", "taskEtl00000001", False, plan_flaky),
    ("wh-stalled", "Invoice sync", "https://billing.example.com/apify",
     ["ACTOR.RUN.SUCCEEDED"], "actBilling00001", None, False, None),
]


class Dispatch:
    def __init__(self, seq, webhook, created, event_type, calls, end, final):
        self.id = "disp%012d" % seq
        self.seq = seq
        self.webhook = webhook
        self.created = created
        self.event_type = event_type
        self.calls = calls
        self.end = end  # None: never ends (ACTIVE forever)
        self.final = final

    def body(self, now):
        age = now - self.created
        calls = []
        for start, duration, status in self.calls:
            if start > age:
                break
            started = self.created + start
            done = start + duration <= age
            calls.append({
                "startedAt": iso(started),
                "finishedAt": iso(started + duration) if done else None,
                "errorMessage": None if (not done or status) else "Request timed out",
                "responseStatus": status if done else None,
                "responseBody": ("ok" if status and status < 300 else "error") if done and status else None,
            })
        status = self.final if self.end is not None and age >= self.end else "ACTIVE"
        wh = self.webhook
        return {
            "id": self.id,
            "userId": USER_ID,
            "webhookId": wh["id"],
            "createdAt": iso(self.created),
            "status": status,
            "eventType": self.event_type,
            "eventData": {"actorId": wh["condition"]["actorId"], "actorRunId": "run%011d" % self.seq},
            "webhook": {"actionType": "HTTP_REQUEST", "condition": wh["condition"],
                        "requestUrl": wh["requestUrl"], "isAdHoc": False},
            "calls": calls,
        }


class FakeApify:
    def __init__(self, now=None):
        self.lock = threading.Lock()
        self.auth_ok = True
        self.requests = []  # (method, path, status) of every request
        self.start = now or time.time()
        self.webhooks = {}
        self.plans = {}
        for wid, desc, url, events, actor, task, no_retry, plan in WEBHOOKS:
            self.webhooks[wid] = {
                "id": wid, "createdAt": iso(self.start - 30 * 86400), "modifiedAt": iso(self.start - 86400),
                "userId": USER_ID, "isAdHoc": False, "shouldInterpolateStrings": False,
                "eventTypes": events, "condition": {"actorId": actor, "actorTaskId": task},
                "ignoreSslErrors": False, "doNotRetry": no_retry, "requestUrl": url,
                "payloadTemplate": "{\"resource\": {{resource}}}", "description": desc,
            }
            self.plans[wid] = plan
        self.dispatches = []
        self.seq = 0
        self.ticks = 0
        self._history()

    def _add(self, wid, created, event_type, calls, end, final):
        self.seq += 1
        self.dispatches.append(Dispatch(self.seq, self.webhooks[wid], created, event_type, calls, end, final))

    def _history(self):
        h = self.start
        # wh-healthy and wh-flaky: some deliveries over the last hours.
        for k in range(12, 0, -1):
            self._add("wh-healthy", h - k * 600, "ACTOR.RUN.SUCCEEDED", [(0.1, 0.2, 200)], 0.4, "SUCCEEDED")
            self._add("wh-flaky", h - k * 600 + 30, "ACTOR.RUN.SUCCEEDED", [(0.5, 0.3, 200)], 1.0, "SUCCEEDED")
        # wh-stalled: delivered 8h ago, failing since, one dispatch retried for 3h.
        self._add("wh-stalled", h - 8 * 3600, "ACTOR.RUN.SUCCEEDED", [(0.2, 0.3, 200)], 0.6, "SUCCEEDED")
        for hours_ago in (7, 5):
            calls = [(60 * 2 ** i, 30.0, 500) for i in range(4)]
            self._add("wh-stalled", h - hours_ago * 3600, "ACTOR.RUN.SUCCEEDED", calls, 3600.0, "FAILED")
        self._add("wh-stalled", h - 3 * 3600, "ACTOR.RUN.SUCCEEDED",
                  [(60 * 2 ** i, 30.0, 500) for i in range(6)], None, None)
        self.dispatches.sort(key=lambda d: (d.created, d.seq))

    def advance(self, now=None):
        """Create the live dispatches due by `now`: one per webhook with a plan, per tick."""
        now = now or time.time()
        with self.lock:
            due = int((now - self.start) / TICK_SECONDS)
            while self.ticks < due:
                self.ticks += 1
                created = self.start + self.ticks * TICK_SECONDS
                for wid, plan in self.plans.items():
                    if plan is None:
                        continue
                    calls, end, final = plan(self.ticks)
                    events = self.webhooks[wid]["eventTypes"]
                    self._add(wid, created, events[self.ticks % len(events)], calls, end, final)

    # -- views ---------------------------------------------------------------

    def _visible(self, now, webhook_id=None):
        out = [d for d in self.dispatches if d.created <= now and (webhook_id is None or d.webhook["id"] == webhook_id)]
        return sorted(out, key=lambda d: (d.created, d.seq), reverse=True)

    def _webhook(self, wid, now, full):
        wh = dict(self.webhooks[wid])
        if not full:
            # The list endpoints return WebhookShort: no description, no templates.
            for key in ("description", "payloadTemplate"):
                wh.pop(key, None)
        mine = self._visible(now, wid)
        if mine:
            last = mine[0].body(now)
            wh["lastDispatch"] = {"status": last["status"],
                                  "finishedAt": (last["calls"][-1]["finishedAt"] if last["calls"] else None)}
            wh["stats"] = {"totalDispatches": len(mine)}
        return wh

    def handle(self, method, raw_path, headers):
        """(status, JSON body) for one request."""
        self.advance()
        now = time.time()
        url = urllib.parse.urlsplit(raw_path)
        path = url.path.rstrip("/")
        query = dict(urllib.parse.parse_qsl(url.query))
        if method != "GET":
            return 405, {"error": {"type": "method-not-allowed", "message": "Only GET here"}}
        if not self.auth_ok or headers.get("Authorization") != "Bearer " + TOKEN:
            return 401, {"error": {"type": "token-not-valid", "message": "Authentication token is not valid."}}
        parts = path.split("/")[1:]  # ["v2", ...]
        if parts[:1] != ["v2"]:
            return 404, not_found("route")
        rest = parts[1:]
        with self.lock:
            if rest == ["users", "me"]:
                return 200, {"data": {"id": USER_ID, "username": "e2e"}}
            if rest == ["webhooks"]:
                return 200, page([self._webhook(w, now, False) for w in self.webhooks], query)
            if len(rest) == 3 and rest[0] in ("acts", "actors", "actor-tasks") and rest[2] == "webhooks":
                key = "actorTaskId" if rest[0] == "actor-tasks" else "actorId"
                items = [self._webhook(w, now, False) for w, wh in self.webhooks.items() if wh["condition"][key] == rest[1]]
                return 200, page(items, query)
            if len(rest) == 2 and rest[0] == "webhooks":
                if rest[1] not in self.webhooks:
                    return 404, not_found("webhook")
                return 200, {"data": self._webhook(rest[1], now, True)}
            if len(rest) == 3 and rest[0] == "webhooks" and rest[2] == "dispatches":
                if rest[1] not in self.webhooks:
                    return 404, not_found("webhook")
                return 200, page(self._visible(now, rest[1]), query, lambda d: d.body(now))
            if rest == ["webhook-dispatches"]:
                return 200, page(self._visible(now), query, lambda d: d.body(now))
            if len(rest) == 2 and rest[0] == "webhook-dispatches":
                for d in self.dispatches:
                    if d.id == rest[1] and d.created <= now:
                        return 200, {"data": d.body(now)}
                return 404, not_found("webhook dispatch")
        return 404, not_found("route")


def not_found(what):
    return {"error": {"type": "record-not-found", "message": "The %s was not found" % what}}


def page(items, query, render=lambda item: item):
    """One page of a list, newest first (the exporter always sends desc=true);
    only the items of the page are rendered."""
    desc = query.get("desc", "false").lower() in ("true", "1")
    if not desc:
        items = list(reversed(items))
    offset = max(0, int(query.get("offset", 0) or 0))
    limit = min(1000, max(1, int(query.get("limit", 1000) or 1000)))
    chunk = items[offset:offset + limit]
    return {"data": {"total": len(items), "offset": offset, "limit": limit, "desc": desc,
                     "count": len(chunk), "items": [render(i) for i in chunk]}}


def serve(fake, host="127.0.0.1", port=0):
    """Start an HTTP server for `fake` in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self):
            try:
                status, body = fake.handle(self.command, self.path, self.headers)
            except ValueError:
                status, body = 400, {"error": {"type": "invalid-input", "message": "bad query"}}
            data = json.dumps(body).encode()
            with fake.lock:
                fake.requests.append((self.command, self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = _reply

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-apify", daemon=True).start()
    return server


if __name__ == "__main__":
    import sys
    srv = serve(FakeApify(), port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print("fake Apify on http://127.0.0.1:%d (token %s)" % (srv.server_address[1], TOKEN), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
