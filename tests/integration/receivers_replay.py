"""Stand-ins for the two alert receivers that cannot run here: a Slack incoming webhook and
PagerDuty's Events API v2 (`POST /v2/enqueue`). Each is an HTTP server on 127.0.0.1:0 that checks
every request against the fields the public documentation specifies and answers as documented:

- Slack (docs.slack.dev, "Sending messages using incoming webhooks"; the 2016-05-17 changelog
  "Improving error conditions for Incoming Webhooks"): 200 `ok` as text/html; 400 with a plain
  text code (`invalid_payload`, `no_text`, `invalid_blocks`); 404 `no_service` for a URL that is
  no webhook; 429 with Retry-After (seconds) when rate limited.
- PagerDuty (developer-docs, events-API-v2 "Send an Alert Event" and "Overview": response codes
  and retry logic): 202 `{"status":"success","message":"Event processed","dedup_key":...}`;
  400 `{"status":"invalid event","message":"Event object is invalid","errors":[...]}`; 429 and
  5xx to retry. Alerts open and close by dedup_key per routing_key, as the docs describe.

Both record what they accepted, and can be scripted to answer the next N requests with 429
(plus Retry-After), 500 or 503, or a rejection. Run by itself to post to them by hand:

    python3 tests/integration/receivers_replay.py
"""

import http.server
import json
import secrets
import string
import threading
import time
import uuid

from support import wait_on

SEVERITIES = ("critical", "error", "warning", "info")
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self._read_body()
        fake = self.server.fake
        with fake.cond:
            fake.requests.append((self.path, dict(self.headers), body))
            scripted = fake.scripted.pop(0) if fake.scripted else None
            fake.cond.notify_all()
        if scripted is not None:
            self._send(*scripted)
        else:
            self._send(*fake.handle(self.path, body))

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status, content_type, body, headers=()):
        body = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops SYNs when a test posts 20 at once


class _FakeReceiver:
    """The server, the request log and the scripted answers both fakes share. Thread-safe: the
    server answers from its own threads, tests read under `cond`."""

    def __init__(self):
        self.cond = threading.Condition()
        self.requests = []  # (path, headers, body bytes) of every POST, scripted ones too
        self.scripted = []  # (status, content type, body, headers) for the next requests
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.fake = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)  # close() in 50 ms, not 500
        self.thread.start()

    def fail_next(self, count, status=503, retry_after=None):
        """The next `count` requests get `status` (429, 500, 503, ...), with `Retry-After:
        retry_after` (seconds, or an HTTP-date string) when given."""
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        answer = self.failure(status)
        with self.cond:
            self.scripted += [answer + (headers,)] * count

    def wait_requests(self, count, timeout=10.0):
        """Every request so far, once at least `count` arrived."""
        return self._wait(lambda: self.requests if len(self.requests) >= count else None,
                          timeout, f"{count} requests")

    def _wait(self, pick, timeout, what):
        return list(wait_on(self.cond, pick, timeout, what))  # a copy, safe from the server

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class FakeSlack(_FakeReceiver):
    """A Slack incoming webhook at `url` (`http://127.0.0.1:PORT/services/T.../B.../...`).
    `messages` holds the accepted messages, parsed."""

    def __init__(self):
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
        self.path = (f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}"
                     f"/{token}")
        self.messages = []
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}{self.path}"

    def failure(self, status):
        return (status, "text/html", "rate_limited" if status == 429 else "rollup_error")

    def reject_next(self, count, error="invalid_payload", status=400):
        """The next `count` requests are refused with `error` (e.g. `channel_not_found`, 404)."""
        with self.cond:
            self.scripted += [(status, "text/html", error, ())] * count

    def wait_messages(self, count, timeout=10.0):
        return self._wait(lambda: self.messages if len(self.messages) >= count else None,
                          timeout, f"{count} Slack messages")

    def handle(self, path, body):
        if path.split("?")[0] != self.path:
            return 404, "text/html", "no_service"
        try:
            message = json.loads(body)
        except ValueError:
            return 400, "text/html", "invalid_payload"
        if not isinstance(message, dict):
            return 400, "text/html", "invalid_payload"
        text, blocks = message.get("text"), message.get("blocks")
        if not (isinstance(text, str) and text.strip()) and not blocks:
            return 400, "text/html", "no_text"
        lists = [blocks] + [a.get("blocks") for a in message.get("attachments") or []
                            if isinstance(a, dict)]
        if not isinstance(message.get("attachments", []), list) or not all(
                _blocks_valid(b) for b in lists if b is not None):
            return 400, "text/html", "invalid_blocks"
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()
        return 200, "text/html", "ok"


def _blocks_valid(blocks):
    """Block Kit's limits for what our messages use: section text 1..3000 characters, at most
    10 fields of at most 2000, text objects typed plain_text or mrkdwn."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return False
        texts = [(block["text"], 3000)] if "text" in block else []
        fields = block.get("fields", [])
        if block["type"] == "section" and ("text" not in block and not fields or len(fields) > 10):
            return False
        texts += [(f, 2000) for f in fields]
        texts += [(e, 3000) for e in block.get("elements", [])
                  if not isinstance(e, dict) or e.get("type") != "image"]
        for obj, limit in texts:
            if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn") or \
                    not isinstance(obj.get("text"), str) or not 1 <= len(obj["text"]) <= limit:
                return False
    return True


class FakePagerDuty(_FakeReceiver):
    """PagerDuty's Events API v2 at `url` (`http://127.0.0.1:PORT/v2/enqueue`). `events` holds
    the accepted events; `incidents` every alert opened, keyed by (routing_key, dedup_key) while
    open: a trigger opens one (or adds to the open one), a resolve closes it, an acknowledge or
    resolve for no open alert is dropped, as the docs describe."""

    def __init__(self):
        self.events = []
        self.incidents = []  # dicts: routing_key, dedup_key, summary, state, events
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/v2/enqueue"

    def failure(self, status):
        return (status, "application/json",
                json.dumps({"status": "throttle event" if status == 429 else "error",
                            "message": "Requests for this service are arriving too quickly."
                            if status == 429 else "Internal Server Error"}))

    def open_incidents(self):
        with self.cond:
            return {i["dedup_key"]: i for i in self.incidents if i["state"] != "resolved"}

    def incidents_for(self, dedup_key):
        with self.cond:
            return [dict(i) for i in self.incidents if i["dedup_key"] == dedup_key]

    def wait_events(self, count, timeout=10.0):
        return self._wait(lambda: self.events if len(self.events) >= count else None,
                          timeout, f"{count} PagerDuty events")

    def handle(self, path, body):
        if path.split("?")[0] != "/v2/enqueue":
            return 404, "application/json", json.dumps({"status": "not found"})
        try:
            event = json.loads(body)
        except ValueError:
            return _invalid(["Malformed JSON: the request body is not JSON"])
        errors = validate_event(event)
        if errors:
            return _invalid(errors)
        action = event["event_action"]
        key = event.get("dedup_key") or uuid.uuid4().hex
        with self.cond:
            self.events.append(event)
            open_ = next((i for i in self.incidents if i["state"] != "resolved" and
                          (i["routing_key"], i["dedup_key"]) == (event["routing_key"], key)), None)
            if action == "trigger" and open_ is None:
                open_ = {"routing_key": event["routing_key"], "dedup_key": key,
                         "summary": event["payload"]["summary"], "state": "triggered",
                         "events": []}
                self.incidents.append(open_)
            if open_ is not None:
                open_["events"].append(action)
                if action != "trigger":
                    open_["state"] = "resolved" if action == "resolve" else "acknowledged"
            self.cond.notify_all()
        return 202, "application/json", json.dumps(
            {"status": "success", "message": "Event processed", "dedup_key": key})


def _invalid(errors):
    return 400, "application/json", json.dumps(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors})


def validate_event(event):
    """The errors in one Events API v2 alert event ("Send an Alert Event" parameters)."""
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return errors + ["'payload' is missing or not an object"]
        for field in ("summary", "source"):
            if not isinstance(payload.get(field), str) or not payload[field].strip():
                errors.append(f"'payload.{field}' is missing or blank")
        if isinstance(payload.get("summary"), str) and len(payload["summary"]) > 1024:
            errors.append("'payload.summary' is longer than 1024 characters")
        if payload.get("severity") not in SEVERITIES:
            errors.append("'payload.severity' is invalid (must be one of critical, error, "
                          "warning, info)")
        for field in ("timestamp", "component", "group", "class"):
            if field in payload and not isinstance(payload[field], str):
                errors.append(f"'payload.{field}' must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            errors.append("'payload.custom_details' must be an object")
    for field in ("links", "images"):
        if field in event and not isinstance(event[field], list):
            errors.append(f"'{field}' must be an array")
    return errors


def main():
    slack, pagerduty = FakeSlack(), FakePagerDuty()
    print(f"slack incoming webhook: {slack.url}", flush=True)
    print(f"pagerduty events api:   {pagerduty.url} (routing_key: any 32 characters)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        slack.close()
        pagerduty.close()


if __name__ == "__main__":
    main()
