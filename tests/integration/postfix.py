"""A real private postfix 3.7 for integration tests, run by hand (no systemd, no change under /etc)
in a temp dir, and Debian's prometheus-postfix-exporter as a peer (journal files: journal.py).

    tools = postfix_tools(self)
    with Postfix(tools, long_queue_ids=True) as pf:
        ids = pf.send(30, size=(500, 5000))          # over SMTP; the queue IDs
        ids += pf.sendmail(5)                         # through maildrop and pickup
        pf.wait_settled(35)                           # every message deferred
        pf.hold(ids[:10])
        pf.wait_settled(35)
        pf.depth_by_queue()    # {"maildrop": 0, ..., "deferred": 25, "hold": 10}
        pf.read_showq()        # b"protocol\\0mail_queue_list_protocol\\0\\0queue_name\\0..."
        with PostfixExporterPeer(postfix_exporter_binary(self), pf.showq_path, pf.maillog) as peer:
            peer.families()    # {"postfix_up", "postfix_showq_message_size_bytes", ...}

The instance: its own config dir (a copy of /etc/postfix/master.cf and a main.cf written with
`postconf -c DIR/etc -e`), queue and data directories in the temp dir, `maillog_file = DIR/maillog`
(written by postlogd: no syslog), an smtpd on a free 127.0.0.1 port, and a relayhost on a 127.0.0.1
port that is bound but never listened on, so every delivery attempt is refused at once: messages
end up deferred, no DNS is used, and long queue_run_delay/backoff times keep them there. The master
daemonizes (its parent becomes PID 1); close() stops it with `postfix stop` and makes sure the
master and every daemon it had are gone, by PID. Stdlib only.

Not thread-safe: a Postfix and a PostfixExporterPeer belong to the thread that made them. Their
read-only queries (queue, depth_by_queue, read_showq, metrics) start their own processes or
connections and may run from other threads."""

import collections
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid

from support import IN_CI, free_port, wait_for

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# The queues `postqueue -j` and showq report.
QUEUES = ("maildrop", "active", "incoming", "deferred", "hold")
# Postfix's own short-lived queues: a message in one of them will move on its own.
MOVING_QUEUES = ("maildrop", "active", "incoming")
HOSTNAME = "localhost.localdomain"
QUEUED_AS = re.compile(rb"queued as ([0-9A-Za-z]+)")

PostfixTools = collections.namedtuple(
    "PostfixTools", "postfix postconf postsuper postqueue sendmail")


def _missing(test, message):
    """Fails in CI and skips loudly elsewhere, as support.require_tool does. `test` may be a
    TestCase instance or class (for setUpClass)."""
    if IN_CI:
        raise test.failureException(message)
    print(f"\n*** SKIPPING: {message} ***\n")
    raise unittest.SkipTest(message)


def _which(name):
    for path in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def postfix_tools(test) -> PostfixTools:
    """The paths of postfix, postconf, postsuper, postqueue and sendmail (package postfix); when
    one is missing, fails in CI and skips loudly elsewhere."""
    paths = {name: _which(name) for name in PostfixTools._fields}
    missing = [name for name, path in paths.items() if not path]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        _missing(test, f"{', '.join(missing)} {verb} not installed (run scripts/setup.sh test: "
                       "package postfix)")
    return PostfixTools(**paths)


def postfix_exporter_binary(test) -> str:
    """The path of Debian's prometheus-postfix-exporter (kumina 0.3.0); when it is missing, fails
    in CI and skips loudly elsewhere."""
    path = _which("prometheus-postfix-exporter")
    if not path:
        _missing(test, "prometheus-postfix-exporter is not installed (run scripts/setup.sh test: "
                       "package prometheus-postfix-exporter)")
    return path


# --- processes ------------------------------------------------------------------------------------


def _proc_stat(pid):
    """(state, ppid, starttime) from /proc/PID/stat, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[19])


def pid_alive(pid, starttime=None) -> bool:
    """Whether PID runs (a zombie counts as gone: PID 1 here reaps orphans late). With
    `starttime`, a recycled PID counts as gone too."""
    stat = _proc_stat(pid)
    return bool(stat) and stat[0] not in ("Z", "X") and (starttime is None or stat[2] == starttime)


def child_processes(pid) -> list:
    """[(pid, starttime)] of PID's children, read from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[1] == pid:
                out.append((int(entry), stat[2]))
    return out


def _wait_gone(processes, timeout) -> list:
    """Polls until every (pid, starttime) is gone; returns those still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = [(p, t) for p, t in processes if pid_alive(p, t)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def tcp_listening(port, host="127.0.0.1") -> bool:
    """Whether a TCP socket listens on host:port, read from /proc/net/tcp (connecting would make
    smtpd log a connection)."""
    want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(host))[0], port)
    with open("/proc/net/tcp") as f:
        next(f)
        return any(line.split()[1] == want and line.split()[3] == "0A" for line in f)


# --- postfix --------------------------------------------------------------------------------------


def _message(index, size, sender, recipients, token) -> bytes:
    """An RFC 5322 message of about `size` bytes (the DATA payload; postfix's message_size adds
    the headers it inserts, about 300 bytes) with a unique Message-ID."""
    head = (f"From: <{sender}>\r\nTo: {', '.join(f'<{r}>' for r in recipients)}\r\n"
            f"Subject: test message {index}\r\n"
            f"Message-ID: <{token}.{index}@{HOSTNAME}>\r\n\r\n").encode()
    body = bytearray(f"message {index}\r\n".encode())
    while len(head) + len(body) < size:
        line = b"x" * min(76, max(0, size - len(head) - len(body) - 2)) + b"\r\n"
        body += line
    return head + bytes(body)


def _sizes(n, size):
    """n sizes: `size` each, or spread evenly over [lo, hi] when `size` is a (lo, hi) tuple."""
    if isinstance(size, (tuple, list)):
        lo, hi = size
        return [lo + (hi - lo) * i // max(1, n - 1) for i in range(n)]
    return [size] * n


class Postfix:
    """One private postfix instance in a 0755 temp dir; see the module comment.

    The constructor returns once `postfix start` has succeeded, the master's PID is in
    QUEUE_DIR/pid/master.pid, the smtpd port listens, the showq socket exists and postlogd has
    written the master's "daemon started" line to the maillog (about 0.35 s here), or raises
    with the maillog's tail after 15 s. Attributes: dir, etc (config dir), queue_dir, data_dir,
    showq_path, maillog, smtp_port, relay_port (bound, never listening), master_pid."""

    def __init__(self, tools: PostfixTools, long_queue_ids: bool = False):
        self.tools = tools
        self.long_queue_ids = long_queue_ids
        self.master_pid = None
        self._master_start = None
        self._relay = None
        self._token = uuid.uuid4().hex[:12]  # makes Message-IDs unique across instances
        self._sent = 0
        # mktemp makes 0700, and postfix's daemons (user postfix) must reach the queue dir.
        self.dir = tempfile.mkdtemp(prefix="postfix-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.queue_dir = os.path.join(self.dir, "queue")
        self.data_dir = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "maillog")
        self.showq_path = os.path.join(self.queue_dir, "public", "showq")
        try:
            if len(os.path.join(self.queue_dir, "private", "scache").encode()) >= 108:
                raise ValueError(f"unix socket paths under {self.queue_dir} are too long "
                                 "(sun_path): set TMPDIR to a shorter dir")
            # Bound but not listening: connections to it are refused (RST), and no other test
            # can take the port while this instance runs.
            self._relay = socket.socket()
            self._relay.bind(("127.0.0.1", 0))
            self.relay_port = self._relay.getsockname()[1]
            self.smtp_port = free_port()
            self._configure()
            self._start()
        except BaseException as error:
            tail = self.log_tail()
            self.close()
            if isinstance(error, AssertionError):
                raise AssertionError(f"{error}; the maillog:\n{tail}") from None
            raise

    # --- commands ---------------------------------------------------------------------------

    def _run(self, argv, stdin=None, check=True, timeout=30.0) -> subprocess.CompletedProcess:
        """Runs a postfix command; with `check`, raises with its output and the maillog's tail
        when it fails (postfix(1) prints its errors only to a terminal: the maillog has them)."""
        result = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {result.returncode}: "
                               f"{result.stdout.decode(errors='replace')}"
                               f"{result.stderr.decode(errors='replace')}\n"
                               f"the maillog:\n{self.log_tail()}")
        return result

    def postconf(self, *args):
        """Runs `postconf -c DIR/etc ARGS...`; returns its stdout as text."""
        return self._run([self.tools.postconf, "-c", self.etc, *args]).stdout.decode()

    def _configure(self):
        os.mkdir(self.etc, 0o755)
        os.mkdir(self.queue_dir, 0o755)  # root-owned; postfix start makes its subdirectories
        shutil.copy("/etc/postfix/master.cf", os.path.join(self.etc, "master.cf"))
        open(os.path.join(self.etc, "main.cf"), "w").close()
        settings = {
            "compatibility_level": "3.6",  # else every daemon logs a compatibility warning
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,  # created by postfix start: postfix, 0700
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "myhostname": HOSTNAME,
            "mydestination": "localhost",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[127.0.0.1]:{self.relay_port}",
            "smtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "smtpd_peername_lookup": "no",  # clients are "unknown[127.0.0.1]", no resolver
            "alias_maps": "",
            "alias_database": "",
            # One delivery attempt on arrival, then nothing for an hour.
            "queue_run_delay": "1h",
            "minimal_backoff_time": "1h",
            "maximal_backoff_time": "2h",
            "enable_long_queue_ids": "yes" if self.long_queue_ids else "no",
        }
        self.postconf("-e", *(f"{k}={v}" for k, v in settings.items()))
        self.postconf("-F", "*/*/chroot = n")
        self.postconf("-MX", "smtp/inet")  # Debian's smtpd on port 25
        listen = f"127.0.0.1:{self.smtp_port}"
        self.postconf("-M", f"{listen}/inet={listen} inet n - n - - smtpd")
        # Postfix waits until main.cf is over a second old before it reads it (in case an editor
        # is still writing it): back-date the files, or `postfix start` takes 2 s more.
        past = time.time() - 10
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.etc, name), (past, past))

    def _start(self):
        # `postfix start` runs `master -w`, which returns once the master has opened its
        # sockets; it then daemonizes, so the master is not our child.
        self._run([self.tools.postfix, "-c", self.etc, "start"])
        self.master_pid = wait_for(self._master_from_pid_file, timeout=START_TIMEOUT,
                                   what="master.pid")
        self._master_start = _proc_stat(self.master_pid)[2]
        wait_for(lambda: tcp_listening(self.smtp_port), timeout=START_TIMEOUT,
                 what=f"smtpd to listen on 127.0.0.1:{self.smtp_port}")
        wait_for(lambda: os.path.exists(self.showq_path), timeout=START_TIMEOUT,
                 what="the showq socket")
        wait_for(lambda: "daemon started" in self._maillog_text(), timeout=START_TIMEOUT,
                 what="postlogd to log the master's start")

    def _master_from_pid_file(self):
        """The PID in QUEUE_DIR/pid/master.pid if it is a running postfix master, else None."""
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().split(b"\0")[0]
        except (OSError, ValueError, IndexError):
            return None
        return pid if command.endswith(b"/master") and pid_alive(pid) else None

    # --- messages ---------------------------------------------------------------------------

    def send(self, n, size=600, sender=f"sender@{HOSTNAME}", recipient_domain="remote.example",
             recipients=1) -> list:
        """Submits n messages over one SMTP connection to the smtpd; returns their queue IDs in
        order. `size` is the DATA payload's size in bytes, or (lo, hi) to spread the sizes evenly
        over that range; each message goes to `recipients` addresses at recipient_domain."""
        import smtplib  # only here: most users of this module never send
        ids = []
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.ehlo("test.localdomain")
            for size_i in _sizes(n, size):
                index = self._sent
                self._sent += 1
                to = [f"user{index}.{j}@{recipient_domain}" for j in range(recipients)]
                code, reply = smtp.mail(sender)
                if code != 250:
                    raise RuntimeError(f"MAIL FROM: {code} {reply!r}")
                for address in to:
                    code, reply = smtp.rcpt(address)
                    if code not in (250, 251):
                        raise RuntimeError(f"RCPT TO:<{address}>: {code} {reply!r}")
                code, reply = smtp.data(_message(index, size_i, sender, to, self._token))
                match = QUEUED_AS.search(reply)
                if code != 250 or not match:
                    raise RuntimeError(f"DATA: {code} {reply!r}")
                ids.append(match.group(1).decode())
        return ids

    def sendmail(self, n, size=600, sender=f"sender@{HOSTNAME}",
                 recipient_domain="remote.example", timeout=10.0) -> list:
        """Submits n messages with `sendmail -C DIR/etc` (postdrop, maildrop, pickup, cleanup);
        returns their queue IDs in order, read from cleanup's `ID: message-id=<...>` lines in the
        maillog (so it waits until cleanup has taken them all)."""
        wanted = []
        for size_i in _sizes(n, size):
            index = self._sent
            self._sent += 1
            to = f"user{index}.0@{recipient_domain}"
            self._run([self.tools.sendmail, "-C", self.etc, "-i", "-f", sender, to],
                      stdin=_message(index, size_i, sender, [to], self._token))
            wanted.append(f"<{self._token}.{index}@{HOSTNAME}>")
        found = {}

        def all_found():
            for match in re.finditer(r"postfix/cleanup\[\d+\]: ([0-9A-Za-z]+): "
                                     r"message-id=(<[^>]*>)", self._maillog_text()):
                found[match.group(2)] = match.group(1)
            return all(w in found for w in wanted)

        try:
            wait_for(all_found, timeout=timeout, what="cleanup to take the sendmail messages")
        except AssertionError as error:
            raise AssertionError(f"{error}; the maillog:\n{self.log_tail()}") from None
        return [found[w] for w in wanted]

    def _postsuper(self, flag, ids) -> int:
        """Runs `postsuper -c DIR/etc FLAG -` with the IDs on stdin; returns how many messages it
        says it handled."""
        ids = list(ids)
        if not ids:
            return 0
        result = self._run([self.tools.postsuper, "-c", self.etc, flag, "-"],
                           stdin="".join(f"{i}\n" for i in ids).encode())
        match = re.search(rb": (\d+) messages?", result.stderr)
        return int(match.group(1)) if match else 0

    def hold(self, ids) -> int:
        """Puts the messages on hold (`postsuper -h -`); returns how many postsuper moved."""
        return self._postsuper("-h", ids)

    def release(self, ids) -> int:
        """Releases held messages (`postsuper -H -`) to the deferred queue."""
        return self._postsuper("-H", ids)

    def delete(self, ids) -> int:
        """Deletes messages (`postsuper -d -`); the ID ALL deletes every message."""
        return self._postsuper("-d", ids)

    # --- the queue --------------------------------------------------------------------------

    def queue(self) -> list:
        """`postqueue -c DIR/etc -j`, one dict per message (queue_name, queue_id, arrival_time,
        message_size, forced_expire, sender, recipients: [{address, delay_reason?}])."""
        out = self._run([self.tools.postqueue, "-c", self.etc, "-j"]).stdout.decode()
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def depth_by_queue(self, messages=None) -> dict:
        """{queue_name: count} for every queue in QUEUES (zero-filled), from `messages` or a
        fresh queue()."""
        depth = dict.fromkeys(QUEUES, 0)
        for message in self.queue() if messages is None else messages:
            depth[message["queue_name"]] = depth.get(message["queue_name"], 0) + 1
        return depth

    def wait_settled(self, expected_total, timeout=15.0) -> list:
        """Polls `postqueue -j` until it lists expected_total messages and none is in maildrop,
        incoming or active (every one deferred or held), so the depths stay put; returns that
        listing. Raises with the last depths and the maillog's tail after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.queue()
            depth = self.depth_by_queue(messages)
            if (len(messages) == expected_total
                    and not any(depth[q] for q in MOVING_QUEUES)):
                return messages
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the queue did not settle at {expected_total} messages within {timeout:g} s;"
                    f" last depths {depth}; the maillog:\n{self.log_tail()}")
            time.sleep(0.1)  # each poll runs postqueue and wakes showq

    def read_showq(self, timeout=10.0) -> bytes:
        """The raw bytes the showq service writes to a client that connects and reads to EOF
        (needs root or the postdrop group: public/ is postfix:postdrop 0710)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.showq_path)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    # --- logs and shutdown ------------------------------------------------------------------

    def _maillog_text(self) -> str:
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40) -> str:
        """The last n lines of the maillog."""
        return "".join(self._maillog_text().splitlines(keepends=True)[-n:])

    def close(self):
        """`postfix -c DIR/etc stop`, then waits (10 s) for the master and every daemon it had to
        exit, killing by PID whatever is left; removes the temp dir. Idempotent."""
        if self.master_pid is None and self.dir:  # `postfix start` failed or timed out
            self.master_pid = self._master_from_pid_file()
        if self.master_pid is not None and pid_alive(self.master_pid, self._master_start):
            daemons = child_processes(self.master_pid)
            # It returns at once: master -t sees the lock released before the master has exited.
            self._run([self.tools.postfix, "-c", self.etc, "stop"], check=False)
            master = [(self.master_pid, self._master_start)]
            for pid, start in _wait_gone(master, STOP_TIMEOUT) + _wait_gone(daemons, 2.0):
                if pid_alive(pid, start):
                    os.kill(pid, signal.SIGKILL)
            _wait_gone(master + daemons, 2.0)
        self.master_pid = None
        if self._relay is not None:
            self._relay.close()
            self._relay = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_showq(data: bytes) -> list:
    """The records of a showq stream as [{attribute: value}], each with a `recipients` list of
    {"recipient": ..., "reason": ...} (reason only on deferred ones). The stream is
    `protocol\\0mail_queue_list_protocol\\0\\0`, then per message `name\\0value\\0` pairs ending
    with an extra `\\0`, then one more `\\0` (an empty record) at the end; `recipient` starts a
    recipient, `reason` belongs to the one before.
    A reference for tests, not a robust parser: raises ValueError on anything unexpected."""
    header = b"protocol\0mail_queue_list_protocol\0\0"
    if not data.startswith(header):
        raise ValueError(f"no showq protocol header: {data[:40]!r}")
    records, record, pos = [], None, len(header)
    while pos < len(data):
        if data[pos] == 0:  # the end of a record; an empty one ends the stream
            if record is None:
                if pos + 1 != len(data):
                    raise ValueError(f"{len(data) - pos - 1} bytes after the end at {pos}")
                return records
            records.append(record)
            record, pos = None, pos + 1
            continue
        name_end = data.index(b"\0", pos)
        value_end = data.index(b"\0", name_end + 1)
        name = data[pos:name_end].decode()
        value = data[name_end + 1:value_end].decode(errors="replace")
        pos = value_end + 1
        record = record if record is not None else {"recipients": []}
        if name == "recipient":
            record["recipients"].append({"recipient": value})
        elif name == "reason":
            if not record["recipients"]:
                raise ValueError(f"a reason before any recipient at {pos}")
            record["recipients"][-1]["reason"] = value
        else:
            record[name] = value
    raise ValueError("truncated showq stream: no end marker")


# --- prometheus-postfix-exporter ------------------------------------------------------------------


class PostfixExporterPeer:
    """Debian's prometheus-postfix-exporter (kumina 0.3.0) on 127.0.0.1:FREE, reading `showq_path`
    at each scrape and tailing `logfile_path` from its end (lines written before it started are
    not counted). Its flags: --web.listen-address, --web.telemetry-path, --postfix.showq_path,
    --postfix.logfile_path, --log.unsupported, --docker.enable, --docker.container.id; this
    build has no systemd flags. The constructor returns once /metrics answers 200 (or raises
    with its log after 15 s); close() stops it by its PID."""

    def __init__(self, binary, showq_path, logfile_path, *extra_flags):
        self.dir = tempfile.mkdtemp(prefix="postfix-exporter-")
        self.log = os.path.join(self.dir, "exporter.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.process = None
        try:
            with open(self.log, "wb") as log:
                self.process = subprocess.Popen(
                    [binary, f"--web.listen-address=127.0.0.1:{self.port}",
                     f"--postfix.showq_path={showq_path}",
                     f"--postfix.logfile_path={logfile_path}", *extra_flags],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            wait_for(self._ready, timeout=START_TIMEOUT, what="prometheus-postfix-exporter")
        except BaseException as error:
            tail = self.log_tail()
            self.close()
            if isinstance(error, AssertionError):
                raise AssertionError(f"{error}; its log:\n{tail}") from None
            raise

    def _ready(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus-postfix-exporter exited with "
                               f"{self.process.returncode}: {self.log_tail()}")
        try:
            return self.metrics(timeout=1.0) is not None
        except OSError:  # not listening yet
            return False

    def metrics(self, timeout=10.0) -> str:
        """The /metrics text."""
        with urllib.request.urlopen(self.url, timeout=timeout) as reply:
            if reply.status != 200:
                raise AssertionError(f"{self.url} answered {reply.status}")
            return reply.read().decode()

    def families(self, text=None) -> set:
        """The names of the metric families (from `# TYPE` lines) that start with `postfix_`.
        Counter and histogram vectors appear only once a label value has been seen."""
        text = self.metrics() if text is None else text
        return {line.split()[2] for line in text.splitlines()
                if line.startswith("# TYPE postfix_")}

    def log_tail(self, n=20) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except (OSError, TypeError):
            return ""

    def close(self):
        """SIGTERM, then SIGKILL after 5 s, by PID; removes the temp dir. Idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
