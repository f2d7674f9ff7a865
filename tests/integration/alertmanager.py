"""Debian's prometheus-alertmanager started by hand on a loopback port (no gossip, a temp
storage dir), stopped by PID; and a webhook sink that records what the agent POSTs, answering
what a test scripts (a user's webhook endpoint is any HTTP server, so this one is real)."""

import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from support import free_port, wait_for

CONFIG = """route:
  receiver: default
  group_wait: 0s
receivers:
  - name: default
"""


class Alertmanager:
    """One Alertmanager on 127.0.0.1:`port` (a free one by default). stop() and start() again
    keep the port, so a test can take it down and bring it back."""

    def __init__(self, binary, port=None, start=True):
        self.binary = binary
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp()
        self.config = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        self.process = None
        if start:
            self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "alertmanager.log"), "a")
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self.config}",
             f"--storage.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self.log, stderr=self.log)
        wait_for(self._ready, what="alertmanager /-/ready")

    def _ready(self):
        if self.process.poll() is not None:
            with open(self.log.name) as f:
                raise AssertionError("alertmanager exited: " + f.read())
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        self.log.close()

    def alerts(self, **labels):
        """The alerts Alertmanager holds now (GET /api/v2/alerts) whose labels include `labels`;
        Alertmanager leaves out those whose endsAt has passed (resolved)."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as response:
            alerts = json.load(response)
        return [a for a in alerts if all(a["labels"].get(k) == v for k, v in labels.items())]

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's name)
        sink = self.server.sink
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with sink.lock:
            status = sink.script.pop(0) if sink.script else 200
            sink.requests.append((status, body))
            if status < 300:
                sink.accepted.append(json.loads(body))
        answer = b"ok" if status < 300 else b"bad request: this sink was told to refuse"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class WebhookSink:
    """An HTTP server on 127.0.0.1 recording every POST; `script` lists the statuses to answer
    the next requests with (then 200). stop() and start() keep the port."""

    def __init__(self, port=None, start=True, script=()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        self.lock = threading.Lock()
        self.script = list(script)
        self.requests = []  # (status answered, body) of every POST
        self.accepted = []  # parsed bodies answered with 2xx
        self.server = None
        if start:
            self.start()

    def start(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _SinkHandler)
        self.server.sink = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def alerts(self, **labels):
        """Every alert of every accepted payload whose labels include `labels`, in order."""
        with self.lock:
            return [a for body in self.accepted for a in body["alerts"]
                    if all(a["labels"].get(k) == v for k, v in labels.items())]


class Port:
    """A TCP port on 127.0.0.1 that a test opens (listening) and closes (refused) at will."""

    def __init__(self):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.sock = None

    def open(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        threading.Thread(target=self._accept, args=(self.sock,), daemon=True).start()

    @staticmethod
    def _accept(sock):
        # Accepted and closed at once, so the backlog never fills and connects never hang.
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def close(self):
        if self.sock:
            self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None


def elapsed_until(predicate, timeout, what):
    """Seconds until `predicate` holds (polled every 20 ms)."""
    start = time.monotonic()
    wait_for(predicate, timeout=timeout, what=what)
    return time.monotonic() - start
