"""A real php-fpm 8.2 for integration tests, run by hand (no systemd) in a temp dir, plus a minimal
FastCGI client and a way to saturate a pool.

    with PhpFpm(php_fpm_binary(self), [Pool("www"), Pool("tcp", "tcp", children=2,
                                                        status_listen=True)]) as fpm:
        www, tcp = fpm.pools
        fcgi_get(www.address, "/ping")                 # (200, {...}, b"pong")
        status_json(tcp.status_address)["pool"]        # "tcp"
        with BusyWorkers(tcp.address, 2, fpm.slow_script, queued=3) as busy:
            busy.wait_all_busy(tcp)

php-fpm runs in the foreground as a child of the test (`--nodaemonize`); everything it writes
(config, pid, error log, unix sockets, docroot) lives in one temp dir, and close() stops it by its
PID and removes the dir. Everything listens on 127.0.0.1 or on unix sockets. Stdlib only.

Not thread-safe: a PhpFpm and a BusyWorkers belong to the thread that made them. fcgi_get and
status_json hold no state and may be called from any thread."""

import dataclasses
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from support import IN_CI, free_port, wait_for

BINARY = "php-fpm8.2"
STATUS_PATH = "/status"
PING_PATH = "/ping"
START_TIMEOUT = 15.0

# slow.php keeps a worker busy for ?ms= milliseconds, then says "done".
SLOW_PHP = """<?php
usleep(max(0, (int)($_GET['ms'] ?? 0)) * 1000);
echo "done";
"""


def php_fpm_binary(test) -> str:
    """The path of php-fpm8.2; when it is missing, fails in CI and skips loudly elsewhere, as
    support.require_tool does. `test` may be a TestCase instance or class (for setUpClass)."""
    for path in (shutil.which(BINARY), f"/usr/sbin/{BINARY}"):
        if path and os.access(path, os.X_OK):
            return path
    message = f"{BINARY} is not installed (run scripts/setup.sh test: package php8.2-fpm)"
    if IN_CI:
        raise test.failureException(message)
    print(f"\n*** SKIPPING: {message} ***\n")
    raise unittest.SkipTest(message)


# --- FastCGI 1.0 client ---------------------------------------------------------------------------
# A record is an 8-byte header (version, type, request id, content length, padding length,
# reserved) followed by the content and the padding.

FCGI_VERSION = 1
FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = (
    1, 3, 4, 5, 6, 7)
FCGI_RESPONDER = 1
FCGI_HEADER = struct.Struct(">BBHHBx")
REQUEST_ID = 1
PROTOCOL_STATUS = {1: "CANT_MPX_CONN", 2: "OVERLOADED", 3: "UNKNOWN_ROLE"}


def _record(record_type: int, content: bytes = b"") -> bytes:
    padding = -len(content) % 8
    return (FCGI_HEADER.pack(FCGI_VERSION, record_type, REQUEST_ID, len(content), padding)
            + content + b"\0" * padding)


def _name_value_length(n: int) -> bytes:
    # One byte below 128, otherwise four bytes with the top bit set.
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _encode_params(params: dict) -> bytes:
    out = bytearray()
    for name, value in params.items():
        name, value = name.encode(), value.encode()
        out += _name_value_length(len(name)) + _name_value_length(len(value)) + name + value
    return bytes(out)


def _connect(address, timeout: float) -> socket.socket:
    """A connected socket to a unix path (str) or a (host, port) tuple."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection(tuple(address), timeout=timeout)


def _request_bytes(script_name: str, query: str, script_filename) -> bytes:
    """BEGIN_REQUEST (responder, no keep-alive), the params, an empty PARAMS and an empty STDIN."""
    uri = script_name + (f"?{query}" if query else "")
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": script_name,
        "SCRIPT_FILENAME": script_filename or script_name,
        "QUERY_STRING": query,
        "REQUEST_URI": uri,
        "DOCUMENT_URI": script_name,
        "REMOTE_ADDR": "127.0.0.1",
    }
    body = _encode_params(params)
    chunks = [body[i:i + 65535] for i in range(0, len(body), 65535)]
    return (_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", FCGI_RESPONDER, 0))
            + b"".join(_record(FCGI_PARAMS, c) for c in chunks)
            + _record(FCGI_PARAMS) + _record(FCGI_STDIN))


def _read_response(sock: socket.socket, deadline: float):
    """(stdout, stderr) once END_REQUEST arrives. Raises TimeoutError past `deadline` and
    ConnectionError when the peer closes first or ends the request with a protocol error."""
    buffer = bytearray()

    def read_exactly(n):
        while len(buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("FastCGI response timed out")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("FastCGI peer closed the connection before END_REQUEST")
            buffer.extend(chunk)
        data = bytes(buffer[:n])
        del buffer[:n]
        return data

    stdout, stderr = bytearray(), bytearray()
    while True:
        version, record_type, _, length, padding = FCGI_HEADER.unpack(
            read_exactly(FCGI_HEADER.size))
        if version != FCGI_VERSION:
            raise ConnectionError(f"not a FastCGI record (version {version})")
        content = read_exactly(length + padding)[:length]
        if record_type == FCGI_STDOUT:
            stdout += content
        elif record_type == FCGI_STDERR:
            stderr += content
        elif record_type == FCGI_END_REQUEST:
            _, protocol_status = struct.unpack(">IB3x", content[:8])
            if protocol_status:
                raise ConnectionError("FastCGI request refused: "
                                      + PROTOCOL_STATUS.get(protocol_status, str(protocol_status)))
            return bytes(stdout), bytes(stderr)


def _parse_cgi(stdout: bytes):
    """(status, headers with lower-case names, body) of a CGI response."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = stdout.partition(separator)
        if found:
            break
    else:
        head, body = b"", stdout
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(headers["status"].split()[0]) if "status" in headers else 200
    return status, headers, body


def fcgi_get(address, script_name: str, query: str = "", script_filename=None,
             timeout: float = 5.0):
    """One FastCGI 1.0 GET on a fresh connection: (status, headers, body).

    `address` is a unix socket path (str) or a (host, port) tuple. SCRIPT_FILENAME defaults to
    SCRIPT_NAME, which is what php-fpm's /status and /ping expect. `headers` has lower-case names;
    `status` comes from the CGI `Status:` header, 200 when there is none. STDERR is discarded.
    `timeout` bounds the whole exchange (connect included): TimeoutError past it."""
    deadline = time.monotonic() + timeout
    with _connect(address, timeout) as sock:
        sock.sendall(_request_bytes(script_name, query, script_filename))
        stdout, _ = _read_response(sock, deadline)
    return _parse_cgi(stdout)


def status_json(address, full: bool = True, timeout: float = 5.0) -> dict:
    """php-fpm's status page as JSON (`?json&full` or `?json`); raises AssertionError on a
    non-200 answer, with its body. php-fpm 8.2 answers 500 "Internal error" now and then when
    concurrent status requests collide on the scoreboard lock."""
    status, _, body = fcgi_get(address, STATUS_PATH, "json&full" if full else "json",
                               timeout=timeout)
    if status != 200:
        raise AssertionError(f"status page at {address} answered {status}: {body[:200]!r}")
    return json.loads(body)


# --- php-fpm --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Pool:
    """One php-fpm pool (pm = static). The fields after `socket_dir` are filled in by PhpFpm."""
    name: str
    listen: str = "unix"  # "unix": DIR/NAME.sock (or socket_dir/NAME.sock); "tcp": 127.0.0.1:FREE
    children: int = 1  # pm.max_children
    # Adds pm.status_listen = 127.0.0.1:FREE. php-fpm serves it with a pool of its own, named
    # NAME_status, whose workers are spawned on demand (seen here: 1 or 2, whatever `children`
    # is); it reports NAME's scoreboard, so "pool" in its answer is NAME. A few clients that
    # connect and send nothing starve it just like a pool's own port.
    status_listen: bool = False
    listen_backlog: int | None = None  # listen.backlog; else php-fpm's (-1: somaxconn, 4096 here)
    request_slowlog_timeout: str | None = None  # e.g. "1s"; the slow log is DIR/NAME.slow.log
    socket_dir: str | None = None  # where the unix socket goes instead of the temp dir

    address: object = dataclasses.field(default=None, init=False)  # path or (host, port)
    status_address: tuple | None = dataclasses.field(default=None, init=False)
    scrape_uri: str | None = dataclasses.field(default=None, init=False)  # hipages syntax
    status_scrape_uri: str | None = dataclasses.field(default=None, init=False)

    def __post_init__(self):
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"pool name {self.name!r}: use letters, digits, '-' and '_'")
        if self.listen not in ("unix", "tcp"):
            raise ValueError(f"pool {self.name}: listen must be 'unix' or 'tcp', not "
                             f"{self.listen!r}")
        if self.children < 1:
            raise ValueError(f"pool {self.name}: children must be at least 1")


class PhpFpm:
    """One php-fpm master (`php-fpm8.2 --nodaemonize`) serving `pools` from a 0755 temp dir.

    The constructor returns once every pool answers /ping over FastCGI (and every status_listen
    socket answers /status), or raises with the tail of php-fpm's logs after 15 s. Each Pool
    gets its address and scrape URIs. `slow_script` is the path of slow.php (usleep ?ms=, then
    "done") in a docroot readable by www-data. close() stops php-fpm by its PID."""

    def __init__(self, binary: str, pools: list):
        if len({p.name for p in pools}) != len(pools) or not pools:
            raise ValueError("pools must be non-empty with unique names")
        self.pools = list(pools)
        self.process = None
        # mktemp makes 0700, and the workers (www-data when we are root) must reach the docroot.
        self.dir = tempfile.mkdtemp(prefix="php-fpm-")
        os.chmod(self.dir, 0o755)
        self.config = os.path.join(self.dir, "php-fpm.conf")
        self.error_log = os.path.join(self.dir, "php-fpm.log")
        self.stderr_log = os.path.join(self.dir, "stderr.log")  # errors before error_log opens
        self.pid_file = os.path.join(self.dir, "php-fpm.pid")
        self.slow_script = os.path.join(self.dir, "docroot", "slow.php")
        try:
            os.mkdir(os.path.dirname(self.slow_script), 0o755)
            with open(self.slow_script, "w") as f:
                f.write(SLOW_PHP)
            os.chmod(self.slow_script, 0o644)
            with open(self.config, "w") as f:
                f.write(self._config_text())
            with open(self.stderr_log, "wb") as stderr:
                self.process = subprocess.Popen(
                    [binary, "--nodaemonize", "--fpm-config", self.config],
                    stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=self.dir)
            wait_for(self._ready, timeout=START_TIMEOUT, what="php-fpm")
        except BaseException as error:
            tail = self.log_tail()
            self.close()
            if isinstance(error, AssertionError):
                raise AssertionError(f"php-fpm did not answer /ping within {START_TIMEOUT:g} s; "
                                     f"its logs:\n{tail}") from None
            raise

    def _config_text(self) -> str:
        as_root = os.geteuid() == 0
        lines = ["[global]", f"pid = {self.pid_file}", f"error_log = {self.error_log}",
                 "daemonize = no", "log_level = notice", ""]
        for pool in self.pools:
            if pool.listen == "unix":
                path = os.path.join(pool.socket_dir or self.dir, f"{pool.name}.sock")
                if len(path.encode()) >= 108:  # sun_path
                    raise ValueError(f"unix socket path too long: {path}")
                pool.address = path
                pool.scrape_uri = f"unix://{path};{STATUS_PATH}"
                listen = path
            else:
                pool.address = ("127.0.0.1", free_port())
                pool.scrape_uri = f"tcp://127.0.0.1:{pool.address[1]}{STATUS_PATH}"
                listen = f"127.0.0.1:{pool.address[1]}"
            lines += [f"[{pool.name}]", f"listen = {listen}"]
            if as_root:
                lines += ["user = www-data", "group = www-data"]
            if pool.listen == "unix":
                if as_root:
                    lines += ["listen.owner = www-data", "listen.group = www-data"]
                lines += ["listen.mode = 0666"]
            if pool.listen_backlog is not None:
                lines += [f"listen.backlog = {pool.listen_backlog}"]
            lines += ["pm = static", f"pm.max_children = {pool.children}",
                      f"pm.status_path = {STATUS_PATH}", f"ping.path = {PING_PATH}",
                      # Keep PHP's notices in our log rather than lost on a closed stderr.
                      "catch_workers_output = yes"]
            if pool.status_listen:
                pool.status_address = ("127.0.0.1", free_port())
                pool.status_scrape_uri = f"tcp://127.0.0.1:{pool.status_address[1]}{STATUS_PATH}"
                lines += [f"pm.status_listen = 127.0.0.1:{pool.status_address[1]}"]
            else:
                pool.status_address = pool.status_scrape_uri = None
            if pool.request_slowlog_timeout is not None:
                lines += [f"request_slowlog_timeout = {pool.request_slowlog_timeout}",
                          f"slowlog = {os.path.join(self.dir, pool.name + '.slow.log')}"]
            lines.append("")
        return "\n".join(lines)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"php-fpm exited with code {self.process.returncode}; its logs:\n"
                               + self.log_tail())
        try:
            for pool in self.pools:
                if fcgi_get(pool.address, PING_PATH, timeout=1.0)[0] != 200:
                    return False
                if pool.status_address and fcgi_get(pool.status_address, STATUS_PATH,
                                                    timeout=1.0)[0] != 200:
                    return False
        except OSError:  # not listening yet (refused, no such file) or not answering yet
            return False
        return True

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pids(self) -> list:
        """PIDs of the master's children (the workers), read from /proc."""
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # The command may hold spaces and parentheses: split after the last ')'.
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.process.pid:
                children.append(int(entry))
        return children

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of php-fpm's error log and of its stdout/stderr."""
        out = []
        for path in (self.error_log, self.stderr_log):
            try:
                with open(path, errors="replace") as f:
                    out.append(f"--- {os.path.basename(path)}\n"
                               + "".join(f.readlines()[-lines:]))
            except OSError:
                pass
        return "\n".join(out)

    def close(self):
        """Stops php-fpm by its PID: SIGQUIT, then SIGTERM, then, should both fail, SIGKILL to
        the master and its own workers. Removes the temp dir. Idempotent. SIGQUIT is meant to be
        graceful, but with process_control_timeout = 0 (the default, kept here) the master
        escalates at once: busy workers are killed in a few ms and do not delay close()."""
        if self.process is not None and self.process.poll() is None:
            for sig, grace in ((signal.SIGQUIT, 10), (signal.SIGTERM, 5)):
                self.process.send_signal(sig)
                try:
                    self.process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                workers = self.worker_pids()
                self.process.kill()
                self.process.wait()
                for pid in workers:  # orphaned by the master's death; still ours
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- saturation -----------------------------------------------------------------------------------


def _poll_status(pool: Pool, predicate, timeout: float, what: str) -> dict:
    """The first status (JSON, not full) from the pool's status_listen address that satisfies
    `predicate`. A failed status request counts as "not yet": php-fpm answers 500 now and then
    when two readers of the scoreboard collide (its log says "failed to lock")."""
    if pool.status_address is None:
        raise ValueError(f"pool {pool.name} has no status_listen address")
    last = None

    def check():
        nonlocal last
        try:
            last = status_json(pool.status_address, full=False, timeout=1.0)
        except (AssertionError, OSError, ValueError) as error:
            last = error
            return None
        return last if predicate(last) else None

    try:
        return wait_for(check, timeout=timeout, what=what)
    except AssertionError:
        raise AssertionError(f"pool {pool.name}: no {what} after {timeout:g} s; "
                             f"last status: {last!r}") from None


class BusyWorkers:
    """Keeps a pool's workers busy: `requests` concurrent `slow.php?ms=ms` requests, each read by
    a background thread, then `queued` extra connections that send nothing and wait in the listen
    queue. The slow requests are connected and sent before the queued connections are made, so
    the workers accept them first (the accept queue is FIFO).

    A worker that accepts a queued connection sits in "Reading headers", which the status page
    counts as active, until the connection closes. `results` collects, per slow request, its
    (status, headers, body) or the exception that ended it (list.append is atomic).

    close() shuts down and closes every socket and joins the threads; it does not wait for the
    slow scripts, which keep their workers until their usleep ends (php-fpm notices a closed
    client only when it writes)."""

    def __init__(self, address, requests: int, script_filename: str, queued: int = 0,
                 ms: int = 3000):
        self.sockets = []
        self.queued = []
        self.threads = []
        self.results = []  # (status, headers, body) or the exception, per finished request
        try:
            request = _request_bytes("/slow.php", f"ms={ms}", script_filename)
            for _ in range(requests):
                sock = _connect(address, 5.0)
                self.sockets.append(sock)
                sock.sendall(request)
            for sock in self.sockets:
                thread = threading.Thread(target=self._read, args=(sock, ms), daemon=True)
                thread.start()
                self.threads.append(thread)
            for _ in range(queued):
                # Non-blocking: a full accept queue must not stall the test here.
                family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
                self.queued.append(sock)
                sock.setblocking(False)
                sock.connect_ex(address if isinstance(address, str) else tuple(address))
        except BaseException:
            self.close()
            raise

    def _read(self, sock, ms):
        try:
            self.results.append(_parse_cgi(_read_response(sock, time.monotonic() + ms / 1000
                                                          + 30)[0]))
        except Exception as error:  # includes the shutdown() of close()
            self.results.append(error)

    def wait_all_busy(self, pool: Pool, timeout: float = 5.0) -> dict:
        """Polls the pool's status_listen address until `active processes` equals its children;
        returns that status. Needs a pool started with status_listen=True."""
        return _poll_status(pool, lambda s: s["active processes"] == pool.children, timeout,
                            f"all {pool.children} workers busy")

    def wait_listen_queue(self, pool: Pool, minimum: int = 1, timeout: float = 5.0) -> dict:
        """Polls the pool's status_listen address until `listen queue` >= minimum; returns that
        status. php-fpm's master samples the queue (TCP_INFO, so TCP listeners on Linux only; a
        unix socket always reports 0) on its once-a-second maintenance tick, so the figure lags
        the kernel's by up to a second."""
        return _poll_status(pool, lambda s: s["listen queue"] >= minimum, timeout,
                            f"listen queue >= {minimum}")

    def close(self):
        for sock in self.sockets + self.queued:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv(); close() won't
            except OSError:
                pass
        for thread in self.threads:
            thread.join(timeout=10)
        for sock in self.sockets + self.queued:
            sock.close()
        self.sockets, self.queued, self.threads = [], [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
