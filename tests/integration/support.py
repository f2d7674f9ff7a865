"""Helpers for integration tests: loopback peers that misbehave on purpose, the agent as a
subprocess, dnsmasq, and a /metrics parser. Everything listens on 127.0.0.0/8 only."""

import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

IN_CI = os.environ.get("CI") == "true"


def require_tool(test: unittest.TestCase, name: str) -> str:
    """The tool's path; fails in CI and skips loudly elsewhere when it is missing."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path:
        return path
    message = f"{name} is not installed (run scripts/setup.sh test)"
    if IN_CI:
        test.fail(message)
    print(f"\n*** SKIPPING: {message} ***\n")
    test.skipTest(message)
    return ""


def wait_for(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_on(cond, pick, timeout, what):
    """`pick()`'s value once it is not None, waiting on `cond` (a threading.Condition the
    producer notifies) rather than polling; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with cond:
        while (value := pick()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            cond.wait(left)
        return value


def free_port(host="127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Peers:
    """Loopback servers, one per behaviour, served by one thread:
    ok (accepts), banner (says "220 ready"), garbage (sends junk and closes), silent (accepts,
    says nothing), reset (accepts and resets), plus a refused port and a listener whose backlog
    is full so connect() hangs."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        self.held = []
        self.ports = {}
        for name in ("ok", "banner", "garbage", "silent", "reset"):
            self.ports[name] = self._listen(name)
        self.ports["refused"] = free_port()
        self.ports["hang"] = self._full_backlog()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _listen(self, behaviour, host="127.0.0.1", port=0):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(128)
        s.setblocking(False)
        self.selector.register(s, selectors.EVENT_READ, behaviour)
        self.sockets.append(s)
        return s.getsockname()[1]

    def listen_on(self, host, port, behaviour="ok"):
        return self._listen(behaviour, host, port)

    def _full_backlog(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        self.sockets.append(s)
        port = s.getsockname()[1]
        # Fill the accept queue; later SYNs are dropped, so connects to it hang.
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            self.held.append(c)
        return port

    def _serve(self):
        while self.running:
            for key, _ in self.selector.select(timeout=0.1):
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                behaviour = key.data
                if behaviour == "banner":
                    conn.sendall(b"220 ready\r\n")
                    self.held.append(conn)
                elif behaviour == "garbage":
                    conn.sendall(b"\x00\xff\xfegarbage\x01\nmore junk\n")
                    conn.close()
                elif behaviour == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                else:  # ok and silent: keep the connection open, say nothing
                    self.held.append(conn)
                # Bound what held connections can cost over a long test.
                if len(self.held) > 5000:
                    for c in self.held[3:1000]:
                        c.close()
                    del self.held[3:1000]

    def close(self):
        self.running = False
        self.thread.join()
        for s in self.sockets + self.held:
            s.close()


class Dnsmasq:
    """dnsmasq on a loopback UDP port serving a hosts file, stopped by PID."""

    def __init__(self, binary, hosts: dict):
        self.dir = tempfile.mkdtemp()
        path = os.path.join(self.dir, "hosts")
        with open(path, "w") as f:
            for name, addresses in hosts.items():
                for address in addresses:
                    f.write(f"{address} {name}\n")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts", f"--addn-hosts={path}",
             "--user=root", f"--pid-file={self.dir}/pid"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, what="dnsmasq to answer")

    def _answers(self):
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x01x\x04test\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                return s.recv(512)
            except OSError:
                return None

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


class Agent:
    """sre-agent as a subprocess on 127.0.0.1:0; reads the bound address from its log."""

    def __init__(self, config_text: str, *flags: str, env=None):
        self.dir = tempfile.mkdtemp()
        self.config = os.path.join(self.dir, "agent.yaml")
        self.write_config(config_text)
        self.lines = []
        self.process = subprocess.Popen(
            [os.environ["SRE_AGENT"], f"--config.file={self.config}",
             "--web.listen-address=127.0.0.1:0", *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        address = wait_for(self._bound_address, what="sre-agent to listen")
        self.url = f"http://{address}"

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def _bound_address(self):
        if self.process.poll() is not None:
            raise AssertionError("sre-agent exited: " + "".join(self.lines))
        for line in list(self.lines):
            match = re.search(r"msg=listening address=(\S+)", line)
            if match:
                return match.group(1)
        return None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def get(self, path, headers=None, method="GET"):
        request = urllib.request.Request(self.url + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def wait_ready(self):
        wait_for(lambda: self.get("/-/ready")[0] == 200, what="/-/ready")

    def metrics(self):
        status, _, body = self.get("/metrics")
        assert status == 200, status
        return body.decode()

    def samples_when(self, predicate, what, timeout=10):
        """The parsed samples of /metrics once `predicate(samples)` holds."""
        def ready():
            samples = parse_metrics(self.metrics())
            return samples if predicate(samples) else None
        return wait_for(ready, timeout=timeout, what=what)

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=10)
        self.reader.join(timeout=5)
        self.process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return code


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {labels}, value)] of every sample in a text-format body."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"unparsable line: {line!r}"
        labels = dict(LABEL.findall(match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def find(samples, name, **labels):
    """Values of the samples named `name` whose labels include `labels`."""
    return [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]


class Blackbox:
    """blackbox_exporter on a loopback port with the given blackbox.yml text, stopped by PID."""

    def __init__(self, binary, config_text):
        self.dir = tempfile.mkdtemp()
        config = os.path.join(self.dir, "blackbox.yml")
        with open(config, "w") as f:
            f.write(config_text)
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _get(self, query):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/probe?{query}", timeout=10) as reply:
                return reply.read().decode()
        except OSError:
            return None

    def probe(self, module, target):
        """The /probe answer for `module` and `target`, once blackbox_exporter listens."""
        query = urllib.parse.urlencode({"module": module, "target": target})
        return wait_for(lambda: self._get(query), what="blackbox_exporter")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# sre-probe's one JSON schema (docs/sre-probe.md), for every subcommand.
_RESULT_FIELDS = {"exporter": str, "check": str, "target": str, "status": str, "exit_code": int,
                  "success": bool, "reason": str, "message": str,
                  "duration_seconds": (int, float), "observations": list}
_OBSERVATION_FIELDS = {"subject": str, "success": bool, "reason": str, "message": str,
                       "duration_seconds": (int, float), "figures": dict, "details": dict}
_SUMMARY_FIELDS = {"runs": int, "ok": int, "absent": int, "warning": int, "critical": int,
                   "failures": int, "min_seconds": (int, float), "median_seconds": (int, float),
                   "max_seconds": (int, float)}
STATUSES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def _fields(test, what, obj, fields):
    test.assertIsInstance(obj, dict, what)
    test.assertEqual(set(obj), set(fields), f"{what}: fields")
    for name, kind in fields.items():
        test.assertIsInstance(obj[name], kind, f"{what}.{name}")
        test.assertFalse(isinstance(obj[name], bool) and kind in (int, (int, float)),
                         f"{what}.{name} is a bool")


def assert_probe_json(test: unittest.TestCase, text: str):
    """Parses sre-probe's --output json and checks it against the documented schema; returns it."""
    import json
    doc = json.loads(text)
    test.assertEqual(set(doc), {"command", "status", "exit_code", "results", "summary"})
    test.assertIn(doc["status"], STATUSES)
    test.assertEqual(STATUSES.index(doc["status"]), doc["exit_code"])
    test.assertGreaterEqual(len(doc["results"]), 1)
    for i, result in enumerate(doc["results"]):
        _fields(test, f"results[{i}]", result, _RESULT_FIELDS)
        test.assertEqual(STATUSES.index(result["status"]), result["exit_code"])
        for j, observation in enumerate(result["observations"]):
            _fields(test, f"results[{i}].observations[{j}]", observation, _OBSERVATION_FIELDS)
            for name, value in observation["figures"].items():
                test.assertIsInstance(value, (int, float), name)
            for name, value in observation["details"].items():
                test.assertIsInstance(value, str, name)
    _fields(test, "summary", doc["summary"], _SUMMARY_FIELDS)
    test.assertEqual(doc["summary"]["runs"], len(doc["results"]))
    test.assertEqual(doc["exit_code"], max(r["exit_code"] for r in doc["results"]))
    return doc
