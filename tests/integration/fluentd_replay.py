"""A stand-in for Fluentd's monitor_agent: serves `GET /api/plugins.json` from the responses in
exporters/fluentd/testdata/, one HTTP server per worker on consecutive ports of 127.0.0.1, as
monitor_agent listens with `<system> workers N` (port, port+1, ...).

Fluentd is not in Debian's archive, so the responses are written field for field after Fluentd's
documentation and source (exporters/fluentd/testdata/README.md says which): this serves them as
WEBrick would (Content-Type application/json, 404 elsewhere). Run by itself to scrape it by hand:

    python3 tests/integration/fluentd_replay.py plugins_idle.json plugins_retrying.json
"""

import http.server
import os
import socket
import sys
import threading
import time

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "exporters",
                        "fluentd", "testdata")


def testdata(name):
    with open(os.path.join(TESTDATA, name), "rb") as f:
        return f.read()


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "WEBrick/1.8.1"
    sys_version = "(Ruby/3.2.2/2023-03-30)"
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        worker = self.server.worker
        if self.path.split("?")[0] != "/api/plugins.json":
            self._send(404, b"<HTML><HEAD><TITLE>Not Found</TITLE></HEAD></HTML>", "text/html")
            return
        worker.requests += 1
        self._send(200, worker.body, "application/json")

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Worker:
    def __init__(self, sock, body):
        self.body = body
        self.requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler,
                                                      bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.server.server_address = sock.getsockname()
        self.server.daemon_threads = True
        self.server.worker = self
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _consecutive_sockets(count, attempts=100):
    """`count` sockets bound to consecutive ports of 127.0.0.1 (the first chosen by the kernel)."""
    for _ in range(attempts):
        sockets = []
        try:
            first = socket.socket()
            first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            first.bind(("127.0.0.1", 0))
            sockets.append(first)
            base = first.getsockname()[1]
            for i in range(1, count):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sockets.append(s)
                s.bind(("127.0.0.1", base + i))
            return sockets
        except OSError:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


class MonitorAgentReplay:
    """One monitor_agent per response (a testdata file name), on consecutive ports: worker i
    answers with responses[i]. `url` is worker 0's base URL."""

    def __init__(self, responses):
        self.workers = [_Worker(sock, testdata(name))
                        for sock, name in zip(_consecutive_sockets(len(responses)), responses)]
        self.ports = [w.server.server_address[1] for w in self.workers]
        self.url = f"http://127.0.0.1:{self.ports[0]}"

    def serve(self, worker, name):
        """Worker `worker` answers with testdata `name` from now on."""
        self.workers[worker].body = testdata(name)

    def stop(self, worker):
        """Stops one worker's server: its port refuses connections from now on."""
        self.workers[worker].close()

    def close(self):
        for worker in self.workers:
            if worker.thread.is_alive():
                worker.close()


def main(argv):
    names = argv[1:] or ["plugins_idle.json", "plugins_retrying.json", "plugins_worker2.json"]
    replay = MonitorAgentReplay(names)
    for i, port in enumerate(replay.ports):
        print(f"worker {i}: http://127.0.0.1:{port}/api/plugins.json ({names[i]})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        replay.close()


if __name__ == "__main__":
    main(sys.argv)
