#!/usr/bin/env python3
"""sre-agent's postfix exporter against Debian's prometheus-postfix-exporter (kumina 0.3.0) on the
same recorded showq streams and the same mail log, on loopback. Not a test: figures go to
docs/benchmarks.md.

  # 1. Record a real queue (a private postfix 3.7 from tests/integration/postfix.py; 17-40 s):
  python3 tests/bench/postfix_showq.py record --messages 10000 --hold 1000 \\
      --out exporters/postfix/testdata/showq_raw_N10000.bin.gz
  # 2. A 100,000-message stream from the 10,000 one (records repeated with fresh queue IDs):
  python3 tests/bench/postfix_showq.py expand exporters/postfix/testdata/showq_raw_N10000.bin.gz \\
      --messages 100000 --out exporters/postfix/testdata/showq_raw_N100000.bin.gz
  # 3. Both tools on each stream, served from a unix socket; then sre-probe under hyperfine:
  python3 tests/bench/postfix_showq.py queue --agent build/release/bin/sre-agent [--window 30]
  # 4. Log throughput: both tools follow a file that grows by a generated 1,000,000-line log:
  python3 tests/bench/postfix_showq.py log --agent build/release/bin/sre-agent [--lines 1000000]

`queue`: a small server (a thread of this script) answers each connection to a unix socket with
the stream's bytes and closes, as showq does. The agent reads it at each collection (one check,
interval 1 s, timeout 900 ms); /metrics is scraped with gzip every 5 s in the window and that CPU
is counted. prometheus-postfix-exporter reads it at each scrape of its /metrics, which this script
makes once a second (back to back when a scrape takes longer). Over a window after a warm-up, CPU
is each process's user + system time from /proc/PID/stat divided by its reads of the stream: the
agent's runs (sre_agent_collects_total), the exporter's scrapes. The server's CPU is counted for
neither. Memory is /proc/PID/status at the end of the window. `idle %` is the whole machine's
idle time over the window (/proc/stat), `others %` its time busy with anything but the tool
measured (the stream server included): above a few %, something else was running. Then
`sre-probe postfix --showq-path SOCK` under hyperfine.

`log`: one tool at a time starts on an empty file (both read a log from its end), then the
generated log is appended in chunks as fast as it can be written; the CPU the tool spends from the
first append until its counters show every line consumed (the agent's
postfix_log_read_bytes_total equal to the file's size; the exporter's
postfix_smtpd_connects_total equal to the known count, the last line being a connect) gives lines
per CPU-second. Each tool's /metrics is polled every 0.5 s meanwhile and that CPU is counted.
"""

import argparse
import gzip
import json
import os
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import postfix as harness  # noqa: E402  (tests/integration)
import support  # noqa: E402
from benchlib import TICKS, cpu_seconds, memory  # noqa: E402

TESTDATA = os.path.join(ROOT, "exporters", "postfix", "testdata")
HEADER = b"protocol\0mail_queue_list_protocol\0\0"


class _Cli(unittest.TestCase):
    """Stands in for a TestCase where the harness wants one (to fail or skip on a missing tool)."""

    failureException = SystemExit

    def runTest(self):  # noqa: N802  (unittest's name)
        pass


def cpu_idle_ticks():
    """(idle + iowait, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


class Idle:
    """The machine's CPU time between start and stop(), in % of all cores."""

    def __init__(self):
        self.start = cpu_idle_ticks()

    def stop(self, own_seconds=0.0):
        """(idle %, others %): the idle share, and the share busy with anything but the
        process measured, which used `own_seconds` of CPU meanwhile."""
        idle1, total1 = cpu_idle_ticks()
        total = max(1, total1 - self.start[1])
        idle = 100 * (idle1 - self.start[0]) / total
        return idle, max(0.0, 100 - idle - 100 * own_seconds * TICKS / total)


def sleep_until(when):
    delay = when - time.time()
    if delay > 0:
        time.sleep(delay)


# --- streams --------------------------------------------------------------------------------------


def split_records(data):
    """The stream's protocol header, its message records (each with its closing NUL) and the
    terminator, such that header + b"".join(records) + terminator == data."""
    if not data.startswith(HEADER):
        raise SystemExit(f"no showq protocol header: {data[:40]!r}")
    records, pos = [], len(HEADER)
    while pos < len(data):
        if data[pos] == 0:  # an empty record: the end
            if pos + 1 != len(data):
                raise SystemExit(f"{len(data) - pos - 1} bytes after the terminator")
            return HEADER, records, data[pos:]
        # name\0value\0 pairs until an empty name; a value may be empty, so step pair by pair.
        p = pos
        while True:
            name_end = data.index(b"\0", p)
            value_end = data.index(b"\0", name_end + 1)
            p = value_end + 1
            if data[p] == 0:
                break
        records.append(data[pos:p + 1])
        pos = p + 1
    raise SystemExit("truncated stream: no terminator")


def describe(data):
    """{queue: messages}, the message count and recipients, checked with the harness's reader."""
    records = harness.parse_showq(data)
    by_queue = {}
    for record in records:
        by_queue[record["queue_name"]] = by_queue.get(record["queue_name"], 0) + 1
    return {"messages": len(records), "by_queue": dict(sorted(by_queue.items())),
            "recipients": sum(len(r["recipients"]) for r in records),
            "bytes": len(data), "ids": len({r["queue_id"] for r in records})}


def write_gzip(path, data):
    with open(path, "wb") as raw:
        # mtime 0 and no name: the same bytes give the same file.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(data)


def record(args):
    tools = harness.postfix_tools(_Cli())
    started = time.monotonic()
    with harness.Postfix(tools) as pf:
        print(f"postfix {pf.dir}: smtpd 127.0.0.1:{pf.smtp_port}, relay 127.0.0.1:{pf.relay_port} "
              "(refuses)", flush=True)
        ids = []
        per_batch = args.messages // args.batches
        for batch in range(args.batches):
            n = per_batch if batch < args.batches - 1 else args.messages - len(ids)
            ids += pf.send(n, size=(args.min_size, args.max_size),
                           sender=f"sender{batch}@{harness.HOSTNAME}",
                           recipient_domain=f"remote{batch}.example")
            print(f"  sent {len(ids)} messages after {time.monotonic() - started:.0f} s",
                  flush=True)
        pf.wait_settled(args.messages, timeout=args.settle_timeout)
        print(f"  all deferred after {time.monotonic() - started:.0f} s", flush=True)
        step = max(1, args.messages // max(1, args.hold))
        held = pf.hold(ids[::step][:args.hold])
        listing = pf.wait_settled(args.messages, timeout=args.settle_timeout)
        depth = pf.depth_by_queue(listing)
        print(f"  {held} put on hold; settled after {time.monotonic() - started:.0f} s: {depth}",
              flush=True)
        walls, data = [], None
        for _ in range(5):
            t0 = time.perf_counter()
            data = pf.read_showq(timeout=60)
            walls.append(time.perf_counter() - t0)
        print(f"  showq wrote {len(data)} bytes in {1000 * statistics.median(walls):.0f} ms "
              f"(median of 5 reads, {', '.join(f'{1000 * w:.0f}' for w in walls)})", flush=True)
        if args.postqueue_out:
            with gzip.open(args.postqueue_out, "wt") as f:
                for message in listing:
                    f.write(json.dumps(message) + "\n")
        if args.maillog_out:
            shutil.copy(pf.maillog, args.maillog_out)
    d = describe(data)
    wanted = {q: n for q, n in depth.items() if n}
    if d["by_queue"] != wanted or d["ids"] != d["messages"]:
        raise SystemExit(f"the stream {d} does not match postqueue -j {depth}")
    write_gzip(args.out, data)
    print(f"wrote {args.out}: {d['messages']} messages {d['by_queue']}, {d['recipients']} "
          f"recipients, {d['bytes']} bytes ({os.path.getsize(args.out)} gzipped)")


def fresh_ids(count, length, taken, rng):
    """`count` short queue IDs of `length` characters that are not in `taken`, shaped as Postfix
    makes them (enable_long_queue_ids = no): 5 uppercase hex digits of the microsecond, then the
    queue file's inode number in uppercase hex."""
    out = []
    while len(out) < count:
        usec = rng.randrange(1_000_000)
        inode = rng.randrange(16 ** (length - 6), 16 ** (length - 5))
        queue_id = f"{usec:05X}{inode:X}"
        if queue_id not in taken:
            taken.add(queue_id)
            out.append(queue_id)
    return out


def expand(args):
    """The source stream's records repeated until there are --messages of them, each copy with a
    fresh unique queue ID of the same length; the header, the other fields (arrival times, sizes,
    senders, recipients, reasons) and the terminator are kept byte for byte."""
    with gzip.open(args.source) as f:
        data = f.read()
    header, records, terminator = split_records(data)
    if header + b"".join(records) + terminator != data:
        raise SystemExit("splitting the source stream lost bytes")
    queue_id = re.compile(rb"(?:^|\0)queue_id\0([0-9A-Za-z]+)\0")
    originals = [queue_id.search(r).group(1).decode() for r in records]
    taken = set(originals)
    rng = random.Random(args.seed)
    out, n = [header], 0
    while n < args.messages:
        for rec, old in zip(records, originals):
            if n == args.messages:
                break
            if n < len(records):
                out.append(rec)  # the first copy is the real stream
            else:
                new = fresh_ids(1, len(old), taken, rng)[0]
                out.append(rec.replace(b"queue_id\0" + old.encode() + b"\0",
                                       b"queue_id\0" + new.encode() + b"\0", 1))
            n += 1
    out.append(terminator)
    stream = b"".join(out)
    d = describe(stream)
    if d["ids"] != d["messages"] or d["messages"] != args.messages:
        raise SystemExit(f"expanded stream is wrong: {d}")
    write_gzip(args.out, stream)
    print(f"wrote {args.out}: {d['messages']} messages {d['by_queue']}, {d['recipients']} "
          f"recipients, {d['bytes']} bytes ({os.path.getsize(args.out)} gzipped)")


def check(args):
    for path in args.streams:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
        header, records, terminator = split_records(data)
        exact = header + b"".join(records) + terminator == data
        print(f"{os.path.relpath(path)}: {describe(data)}; header and terminator exact: {exact}")



# --- queue: both tools on one recorded stream ----------------------------------------------------


class StreamServer:
    """Answers each connection to a unix socket with `data` and closes it, as showq does; one
    thread accepts, one thread per connection writes. Counts the connections it served."""

    def __init__(self, data, path):
        self.data = data
        self.path = path
        self.served = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._write, args=(conn,), daemon=True).start()

    def _write(self, conn):
        try:
            with conn:
                conn.settimeout(30)
                conn.sendall(self.data)
                conn.shutdown(socket.SHUT_WR)
            with self.lock:
                self.served += 1
        except OSError:
            with self.lock:
                self.failed += 1

    def close(self):
        self.stopping.set()
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)


def get(url, compressed=True, timeout=30):
    """The plain text of one scrape."""
    headers = {"Accept-Encoding": "gzip"} if compressed else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=timeout) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
    return body.decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', re.M)


def values(text, name, **labels):
    """The values of the samples named `name` whose labels include `labels`."""
    out = []
    for metric, label_text, value in SAMPLE.findall(text):
        if metric == name and all(f'{k}="{v}"' in (label_text or "") for k, v in labels.items()):
            out.append(float(value))
    return out


def one(text, name, **labels):
    found = values(text, name, **labels)
    if len(found) != 1:
        raise SystemExit(f"{len(found)} samples of {name}{labels}")
    return found[0]


def agent_config(check, **keys):
    lines = ["agent:", "  interval: 1s", "  timeout: 900ms", "postfix:", f"  - check: {check}",
             "    interval: 1s", "    timeout: 900ms"]
    lines += [f"    {k}: {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def queue_agent(server, expected, warmup, window, scrape_every):
    """The agent reading the stream once a second; CPU per collection over `window` runs."""
    sock = server.path
    agent = support.Agent(agent_config("q", showq_path=sock))
    self_labels = {"exporter": "postfix", "check": "q"}
    try:
        url = agent.url + "/metrics"
        time.sleep(warmup)
        text = get(url)
        last = one(text, "sre_agent_collect_last_timestamp_seconds", **self_labels)
        t0 = last + 0.5  # half an interval after a run finished: no run straddles an edge
        while t0 < time.time() + 0.05:
            t0 += 1.0
        sleep_until(t0)
        u0, s0 = cpu_seconds(agent.process.pid)
        idle = Idle()
        served0 = server.served
        first = get(url)
        durations = [one(first, "sre_agent_collect_duration_seconds", **self_labels)]
        k = 1
        while k * scrape_every < window - 0.5:
            sleep_until(t0 + k * scrape_every)
            durations.append(one(get(url), "sre_agent_collect_duration_seconds", **self_labels))
            k += 1
        sleep_until(t0 + window)
        u1, s1 = cpu_seconds(agent.process.pid)
        idle_pct, others = idle.stop(u1 - u0 + s1 - s0)
        served = server.served - served0
        mem = memory(agent.process.pid)
        text = get(url)
        durations.append(one(text, "sre_agent_collect_duration_seconds", **self_labels))
    finally:
        code = agent.stop()
    runs = (one(text, "sre_agent_collects_total", **self_labels)
            - one(first, "sre_agent_collects_total", **self_labels))
    errors = (sum(values(text, "sre_agent_collect_errors_total", **self_labels))
              - sum(values(first, "sre_agent_collect_errors_total", **self_labels)))
    depth = sum(values(text, "postfix_showq_queue_depth"))
    up = one(text, "postfix_up", path=sock)
    if depth != expected or up != 1 or code != 0:
        raise SystemExit(f"the agent saw {depth} messages (want {expected}), postfix_up {up}, "
                         f"exit {code}")
    return {"reads": runs, "user": 1000 * (u1 - u0) / runs, "sys": 1000 * (s1 - s0) / runs,
            "read_ms": 1000 * statistics.median(durations), "errors": errors,
            "served": served, "idle": idle_pct, "others": others, **mem}


def queue_exporter(binary, server, empty_log, expected, warmup, window):
    """prometheus-postfix-exporter, scraped once a second (back to back when a scrape takes
    longer); each scrape reads the stream. CPU per scrape over `window` scrapes."""
    with harness.PostfixExporterPeer(binary, server.path, empty_log) as peer:
        pid = peer.process.pid
        deadline = time.time() + warmup
        while time.time() < deadline:
            started = time.time()
            get(peer.url)
            sleep_until(started + 1.0)
        time.sleep(0.5)
        u0, s0 = cpu_seconds(pid)
        idle = Idle()
        served0 = server.served
        walls, text = [], ""
        t0 = time.time()
        for k in range(window):
            sleep_until(t0 + k)
            started = time.perf_counter()
            text = get(peer.url)
            walls.append(time.perf_counter() - started)
        time.sleep(0.5)
        u1, s1 = cpu_seconds(pid)
        idle_pct, others = idle.stop(u1 - u0 + s1 - s0)
        served = server.served - served0
        mem = memory(pid)
    counted = sum(values(text, "postfix_showq_message_size_bytes_count"))
    up = values(text, "postfix_up")
    if counted != expected or up != [1.0]:
        raise SystemExit(f"the exporter counted {counted} messages (want {expected}), "
                         f"postfix_up {up}")
    return {"reads": window, "user": 1000 * (u1 - u0) / window, "sys": 1000 * (s1 - s0) / window,
            "read_ms": 1000 * statistics.median(walls), "errors": 0, "served": served,
            "idle": idle_pct, "others": others, **mem}


def hyperfine(command, runs):
    """hyperfine -N over `command` (a list); the figures in ms, and the machine's idle %."""
    idle = Idle()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs),
                              "--style", "none", "--export-json", out.name,
                              " ".join(shlex.quote(a) for a in command)],
                             check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        r = json.load(open(out.name))["results"][0]
    t = {k: 1000 * r[v] for k, v in (("mean", "mean"), ("sd", "stddev"), ("median", "median"),
                                     ("min", "min"), ("max", "max"), ("user", "user"),
                                     ("sys", "system"))}
    t["idle"] = idle.stop()[0]
    t["note"] = "; hyperfine saw outliers" if b"outliers" in run.stderr else ""
    return t


def queue(args):
    agent = os.path.abspath(args.agent)
    probe = os.path.join(os.path.dirname(agent), "sre-probe")
    exporter = harness.postfix_exporter_binary(_Cli())
    for path in (agent, probe):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"{path} is missing")
    if args.probe_runs and not shutil.which("hyperfine"):
        raise SystemExit("hyperfine is missing (apt-get install hyperfine), or --probe-runs 0")
    os.environ["SRE_AGENT"] = agent
    work = tempfile.mkdtemp(prefix="pf-bench-")
    empty_log = os.path.join(work, "empty.log")
    open(empty_log, "w").close()
    print(f"window {args.window} reads after {args.warmup:g} s of warm-up; agent: interval 1 s, "
          f"timeout 900 ms, /metrics scraped with gzip every {args.scrape_every:g} s (counted); "
          "exporter: scraped with gzip once a second\n")
    header = (f"{'stream':<8} {'tool':<16} {'reads':>5} {'served':>6} {'user ms':>8} "
              f"{'sys ms':>7} {'total ms':>8} {'read ms':>7} {'RSS MiB':>7} {'RssAnon':>7} "
              f"{'RssFile':>7} {'idle %':>6} {'others %':>8}")
    rows, probes = [], []
    try:
        print(header, flush=True)
        for n in args.sizes:
            path = os.path.join(TESTDATA, f"showq_raw_N{n}.bin.gz")
            with gzip.open(path) as f:
                data = f.read()
            expected = describe(data)["messages"]
            sock = os.path.join(work, f"showq{n}")
            server = StreamServer(data, sock)
            try:
                results = {}
                for tool in args.tools:
                    if tool == "sre-agent":
                        m = queue_agent(server, expected, args.warmup, args.window,
                                        args.scrape_every)
                    else:
                        m = queue_exporter(exporter, server, empty_log, expected, args.warmup,
                                           args.window)
                    results[tool] = m
                    label = f"N{n}"
                    print(f"{label:<8} {tool:<16} {m['reads']:>5.0f} {m['served']:>6} "
                          f"{m['user']:>8.2f} {m['sys']:>7.2f} {m['user'] + m['sys']:>8.2f} "
                          f"{m['read_ms']:>7.1f} "
                          f"{m['VmRSS']:>7.1f} {m['RssAnon']:>7.1f} {m['RssFile']:>7.1f} "
                          f"{m['idle']:>6.1f} {m['others']:>8.1f}", flush=True)
                rows.append((n, len(data), results))
                if args.probe_runs:
                    command = [probe, "postfix", "--showq-path", sock]
                    out = subprocess.run(command, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT)
                    if (out.returncode != 0
                            or f"({expected} messages queued)" not in out.stdout.decode()):
                        raise SystemExit(f"sre-probe exited {out.returncode}:\n"
                                         f"{out.stdout.decode()[-2000:]}")
                    probes.append((n, hyperfine(command, args.probe_runs)))
            finally:
                server.close()
        print("  ('served': connections the stream server answered in the window; 'read ms': the "
              "agent's median sre_agent_collect_duration_seconds sampled at its scrapes, the "
              "exporter's median scrape wall time; 'idle %': the whole machine's idle time in "
              "the window, from /proc/stat; 'others %': the machine's time busy with anything "
              "but the tool measured (the stream server included))")
        print()
        for n, size, results in rows:
            if len(results) == 2:
                a, e = results["sre-agent"], results["postfix_exporter"]
                ratio = (e["user"] + e["sys"]) / max(1e-9, a["user"] + a["sys"])
                print(f"N{n} ({size} bytes): postfix_exporter / sre-agent CPU per read = "
                      f"{e['user'] + e['sys']:.2f} / {a['user'] + a['sys']:.2f} = {ratio:.1f}x")
        for n, t in probes:
            print(f"sre-probe postfix N{n} (hyperfine, {args.probe_runs} runs): wall mean "
                  f"{t['mean']:.2f} ± {t['sd']:.2f} ms, median {t['median']:.2f}, min "
                  f"{t['min']:.2f}, max {t['max']:.2f}; user {t['user']:.2f} + sys "
                  f"{t['sys']:.2f} ms; machine idle {t['idle']:.0f} %{t['note']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)



# --- log: both tools following a growing mail log -------------------------------------------------

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
TLS_IN = ("{trust} TLS connection established from {client}: TLSv1.3 with cipher "
          "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS "
          "(2048 bits) server-digest SHA256")
TLS_OUT = ("{trust} TLS connection established to {mx}:25: {proto} with cipher {cipher} "
           "(256/256 bits)")
REJECTS = [
    "554 5.7.1 <{rcpt}>: Relay access denied; from=<{sender}> to=<{rcpt}> proto=ESMTP "
    "helo=<{helo}>",
    "450 4.7.1 Client host rejected: cannot find your reverse hostname, [{ip}]; "
    "from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{helo}>",
    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table; "
    "from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{helo}>",
    "504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname; "
    "from=<{sender}> to=<{rcpt}> proto=SMTP helo=<{helo}>",
]
UNSUPPORTED = [
    "postfix/anvil[{pid}]: statistics: max connection rate 4/60s for (smtp:{ip}) at {stamp}",
    "postfix/anvil[{pid}]: statistics: max cache size 3 at {stamp}",
    "postfix/scache[{pid}]: statistics: start interval {stamp}",
    "postfix/pickup[{pid}]: {qid}: uid=33 from=<www-data>",
    "postfix/postscreen[{pid}]: CONNECT from [{ip}]:{port} to [192.0.2.10]:25",
    "postfix/smtpd[{pid}]: warning: non-SMTP command from unknown[{ip}]: GET / HTTP/1.1",
    "postfix/smtpd[{pid}]: timeout after END-OF-MESSAGE from unknown[{ip}]",
    "postfix/tlsmgr[{pid}]: warning: request to update table btree:/var/lib/postfix/"
    "smtpd_scache in non-postfix directory /var/lib/postfix",
    "dovecot: imap-login: Login: user=<{user}>, method=PLAIN, rip={ip}, lip=192.0.2.10, "
    "mpid={pid}, TLS, session=<k3Jd8+kJ4Mx/AAAB>",
    "systemd[1]: Started session-{pid}.scope - Session {pid} of User root.",
]


class LogGenerator:
    """A realistic Postfix mail log: inbound sessions (connect, TLS, client=, cleanup, qmgr,
    disconnect), deliveries sent, deferred and bounced (with TLS and delays=), NOQUEUE rejects,
    lost connections, SASL failures, submission with SASL, lines these exporters do not read,
    and windows of the real instance's log (testdata/maillog_sample.log), a few sessions
    interleaved as in a real log, every line with a fresh syslog time stamp."""

    def __init__(self, seed, sample_lines):
        self.rng = random.Random(seed)
        self.sample = sample_lines
        self.counts = {"connect": 0, "submission_connect": 0}

    def qid(self):
        return f"{self.rng.randrange(1_000_000):05X}{self.rng.randrange(16 ** 5, 16 ** 6):X}"

    def client(self):
        r = self.rng
        ip = f"198.51.{r.randrange(100, 102)}.{r.randrange(1, 255)}"
        if r.random() < 0.3:
            return ip, f"unknown[{ip}]"
        return ip, f"mail-{r.randrange(1, 5000)}.out.example.net[{ip}]"

    def session(self):
        """One event: a list of (tag, message) in the order Postfix logs them."""
        r = self.rng
        pid = lambda: r.randrange(1000, 60000)  # noqa: E731
        smtpd, qmgr, cleanup, smtp = pid(), 1234, pid(), pid()
        ip, client = self.client()
        kind = r.random()
        user = f"user{r.randrange(100000)}"
        sender = f"{user}@sender{r.randrange(300)}.example"
        rcpt = f"rcpt{r.randrange(100000)}@example.org"
        if kind < 0.04:  # a window of the real instance's log
            start = r.randrange(0, len(self.sample) - 12)
            return [(None, line) for line in self.sample[start:start + r.randrange(4, 12)]]
        if kind < 0.10:  # lines of other programs and Postfix lines nobody counts
            template = r.choice(UNSUPPORTED)
            stamp = self.stamp_text()
            tag, _, message = template.partition(": ")
            return [(tag.format(pid=pid()), message.format(
                pid=pid(), ip=ip, stamp=stamp, qid=self.qid(), port=r.randrange(1024, 65535),
                user=user))]
        out = [(f"postfix/smtpd[{smtpd}]", f"connect from {client}")]
        self.counts["connect"] += 1
        if kind < 0.20:  # rejected before the queue
            helo = client.split("[")[0]
            for _ in range(r.randrange(1, 3)):
                out.append((f"postfix/smtpd[{smtpd}]",
                            f"NOQUEUE: reject: RCPT from {client}: " + r.choice(REJECTS).format(
                                rcpt=rcpt, sender=sender, helo=helo, ip=ip)))
            out.append((f"postfix/smtpd[{smtpd}]",
                        f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"))
            return out
        if kind < 0.25:  # lost connection, some after a failed login
            stage = r.choice(["CONNECT", "EHLO", "AUTH", "STARTTLS", "DATA"])
            if stage == "AUTH":
                out.append((f"postfix/smtpd[{smtpd}]",
                            f"warning: {client}: SASL LOGIN authentication failed: "
                            "UGFzc3dvcmQ6"))
            if r.random() < 0.3:
                out.append((f"postfix/smtpd[{smtpd}]",
                            f"warning: hostname {client.split('[')[0]} does not resolve to "
                            f"address {ip}: Name or service not known"))
            out.append((f"postfix/smtpd[{smtpd}]", f"lost connection after {stage} from {client}"))
            out.append((f"postfix/smtpd[{smtpd}]",
                        f"disconnect from {client} ehlo=1 auth=0/1 commands=1/2"))
            return out
        qid = self.qid()
        service = f"postfix/smtpd[{smtpd}]"
        sasl = ""
        if kind < 0.32:  # submission with SASL: the service is renamed in master.cf
            out[0] = (f"postfix/submission/smtpd[{smtpd}]", out[0][1])
            self.counts["connect"] -= 1
            self.counts["submission_connect"] += 1
            service = f"postfix/submission/smtpd[{smtpd}]"
            sasl = f", sasl_method={r.choice(['PLAIN', 'LOGIN'])}, sasl_username={sender}"
        if r.random() < 0.6:
            out.append((service, TLS_IN.format(trust=r.choice(["Anonymous", "Untrusted"]),
                                               client=client)))
        out.append((service, f"{qid}: client={client}{sasl}"))
        out.append((f"postfix/cleanup[{cleanup}]",
                    f"{qid}: message-id=<{r.getrandbits(64):016x}@{sender.split('@')[1]}>"))
        size, nrcpt = r.randrange(800, 200000), r.choice([1, 1, 1, 1, 2, 3, 7])
        out.append((f"postfix/qmgr[{qmgr}]",
                    f"{qid}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)"))
        out.append((service, f"disconnect from {client} ehlo=2 starttls=1 mail=1 rcpt={nrcpt} "
                             f"data=1 quit=1 commands={6 + nrcpt}"))
        mx_ip = f"203.0.113.{r.randrange(1, 255)}"
        mx = f"mx{r.randrange(1, 4)}.example.org[{mx_ip}]"
        outcome = r.random()
        for i in range(nrcpt):
            to = f"rcpt{r.randrange(100000)}@example.org"
            a, b = r.randrange(0, 300) / 100, r.randrange(0, 20) / 100
            c, d = r.randrange(0, 80) / 100, r.randrange(0, 150) / 100
            delays = f"delay={a + b + c + d:.2f}, delays={a:g}/{b:g}/{c:g}/{d:g}"
            if outcome < 0.80:
                if i == 0 and r.random() < 0.7:
                    proto, cipher = r.choice([("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
                                              ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")])
                    out.append((f"postfix/smtp[{smtp}]", TLS_OUT.format(
                        trust=r.choice(["Trusted", "Verified", "Untrusted"]), mx=mx,
                        proto=proto, cipher=cipher)))
                out.append((f"postfix/smtp[{smtp}]",
                            f"{qid}: to=<{to}>, relay={mx}:25, {delays}, dsn=2.0.0, "
                            f"status=sent (250 2.0.0 Ok: queued as {self.qid()})"))
            elif outcome < 0.93:
                if i == 0:
                    out.append((f"postfix/smtp[{smtp}]",
                                f"connect to {mx}:25: Connection timed out"))
                out.append((f"postfix/smtp[{smtp}]",
                            f"{qid}: to=<{to}>, relay=none, {delays}, dsn=4.4.1, "
                            f"status=deferred (connect to {mx}:25: Connection timed out)"))
            else:
                out.append((f"postfix/smtp[{smtp}]",
                            f"{qid}: to=<{to}>, relay={mx}:25, {delays}, dsn=5.1.1, "
                            f"status=bounced (host {mx} said: 550 5.1.1 <{to}>: Recipient "
                            "address rejected: User unknown (in reply to RCPT TO command))"))
        if outcome >= 0.93:
            bounce = self.qid()
            out.append((f"postfix/cleanup[{cleanup}]",
                        f"{bounce}: message-id=<{r.getrandbits(64):016x}@mail.example.net>"))
            out.append((f"postfix/bounce[{pid()}]",
                        f"{qid}: sender non-delivery notification: {bounce}"))
        if outcome < 0.80 or outcome >= 0.93:
            out.append((f"postfix/qmgr[{qmgr}]", f"{qid}: removed"))
        return out

    def stamp_text(self):
        t = time.localtime(self.clock)
        return (f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")

    def lines(self, n, start, per_second=1000):
        """n lines (bytes, each with its newline), the last one an smtpd connect, time stamps
        from `start` on at `per_second` lines a second."""
        self.clock = start
        out, live = [], []
        while len(out) < n - 1:
            while len(live) < 6:
                live.append(self.session())
            i = self.rng.randrange(len(live))
            tag, message = live[i].pop(0)
            if not live[i]:
                live.pop(i)
            if tag is None:  # a real line: its time stamp and host replaced
                message = message.split(" ", 4)[4]
            else:
                message = f"{tag}: {message}"
            self.clock += 1 / per_second
            out.append(f"{self.stamp_text()} mail {message}\n".encode())
        # Lines of unfinished sessions are dropped, so count only what was written.
        self.counts["connect"] = sum(1 for line in out if b" postfix/smtpd[" in line
                                     and b"]: connect from " in line)
        self.counts["submission_connect"] = sum(
            1 for line in out if b" postfix/submission/smtpd[" in line
            and b"]: connect from " in line)
        out.append(f"{self.stamp_text()} mail postfix/smtpd[4242]: connect from "
                   "last.example.net[198.51.100.250]\n".encode())
        self.counts["connect"] += 1
        return out


def log_compare_families(text):
    """Families both tools have (kumina 0.3.0 has no postfix_smtp_messages_processed_total),
    summed over their labels."""
    names = ["postfix_smtpd_connects_total", "postfix_smtpd_disconnects_total",
             "postfix_smtpd_messages_rejected_total", "postfix_smtpd_connections_lost_total",
             "postfix_smtpd_sasl_authentication_failures_total",
             "postfix_smtpd_tls_connections_total", "postfix_cleanup_messages_processed_total",
             "postfix_qmgr_messages_inserted_size_bytes_count",
             "postfix_qmgr_messages_removed_total", "postfix_smtpd_messages_processed_total",
             "postfix_smtp_status_deferred", "postfix_smtp_tls_connections_total",
             "postfix_smtp_connection_timed_out_total",
             "postfix_smtp_delivery_delay_seconds_count"]
    return {name: sum(values(text, name)) for name in names}


def follow(tool, url, path, chunks, done, poll):
    """Appends `chunks` to `path` as fast as they can be written, then polls `url` every `poll`
    seconds until done(text); returns (seconds to append, seconds until done, last text)."""
    started = time.perf_counter()
    with open(path, "ab") as f:
        for chunk in chunks:
            f.write(chunk)
            f.flush()
    appended = time.perf_counter() - started
    while True:
        text = get(url)
        if done(text):
            return appended, time.perf_counter() - started, text
        if time.perf_counter() - started > 600:
            raise SystemExit(f"{tool} did not consume the log in 600 s")
        time.sleep(poll)


def log_run(tool, args, work, chunks, total_bytes, counts, sock):
    path = os.path.join(work, f"mail-{tool}.log")
    open(path, "w").close()
    if tool == "sre-agent":
        agent = support.Agent(agent_config("log", showq_path=sock, log_file=path))
        pid, url = agent.process.pid, agent.url + "/metrics"
        support.wait_for(lambda: values(get(url), "postfix_log_read_bytes_total", path=path),
                         what="the agent's first run")
        done = lambda text: values(text, "postfix_log_read_bytes_total", path=path) == [  # noqa
            float(total_bytes)]
        stop = agent.stop
    else:
        peer = harness.PostfixExporterPeer(harness.postfix_exporter_binary(_Cli()), sock, path)
        pid, url = peer.process.pid, peer.url
        done = lambda text: values(text, "postfix_smtpd_connects_total") == [  # noqa
            float(counts["connect"])]
        stop = peer.close
    try:
        time.sleep(1.0)
        u0, s0 = cpu_seconds(pid)
        idle = Idle()
        appended, took, text = follow(tool, url, path, chunks, done, args.poll)
        u1, s1 = cpu_seconds(pid)
        idle_pct, others = idle.stop(u1 - u0 + s1 - s0)
        mem = memory(pid)
    finally:
        stop()
        os.unlink(path)
    return {"user": u1 - u0, "sys": s1 - s0, "appended": appended, "took": took,
            "idle": idle_pct, "others": others, "families": log_compare_families(text), **mem}


def log(args):
    agent = os.path.abspath(args.agent)
    if not os.access(agent, os.X_OK):
        raise SystemExit(f"{agent} is missing")
    os.environ["SRE_AGENT"] = agent
    with open(os.path.join(TESTDATA, "maillog_sample.log"), "rb") as f:
        sample = [line.decode().rstrip("\n") for line in f]
    generator = LogGenerator(args.seed, sample)
    started = time.perf_counter()
    lines = generator.lines(args.lines, start=time.time())
    counts = generator.counts
    chunks = [b"".join(lines[i:i + args.chunk_lines])
              for i in range(0, len(lines), args.chunk_lines)]
    total = sum(len(c) for c in chunks)
    print(f"generated {len(lines)} lines, {total} bytes ({total / len(lines):.0f} a line) in "
          f"{time.perf_counter() - started:.1f} s: {counts['connect']} postfix/smtpd connects, "
          f"{counts['submission_connect']} postfix/submission/smtpd ones; appended in "
          f"{len(chunks)} chunks of {args.chunk_lines} lines", flush=True)
    if args.save:
        with open(args.save, "wb") as f:
            f.writelines(chunks)
    work = tempfile.mkdtemp(prefix="pf-bench-log-")
    sock = os.path.join(work, "showq")
    server = StreamServer(HEADER + b"\0", sock)  # an empty queue
    print(f"\n{'tool':<16} {'lines':>8} {'user s':>7} {'sys s':>6} {'CPU s':>6} "
          f"{'lines/CPU-s':>11} {'wall s':>6} {'RSS MiB':>7} {'RssAnon':>7} {'idle %':>6} "
          f"{'others %':>8}",
          flush=True)
    results = {}
    try:
        for tool in args.tools:
            m = log_run(tool, args, work, chunks, total, counts, sock)
            cpu = m["user"] + m["sys"]
            results[tool] = m
            print(f"{tool:<16} {len(lines):>8} {m['user']:>7.2f} {m['sys']:>6.2f} {cpu:>6.2f} "
                  f"{len(lines) / cpu:>11.0f} {m['took']:>6.1f} {m['VmRSS']:>7.1f} "
                  f"{m['RssAnon']:>7.1f} {m['idle']:>6.1f} {m['others']:>8.1f}", flush=True)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"  (CPU from the first append until the counters show every line; the file took "
          f"{m['appended']:.2f} s to write; 'wall s' until the poll, every {args.poll:g} s, saw "
          "the last line; 'idle %': the whole machine's idle time over it; 'others %': its time "
          "busy with anything but the tool measured)")
    if len(results) == 2:
        a, e = results["sre-agent"], results["postfix_exporter"]
        ratio = (e["user"] + e["sys"]) / max(1e-9, a["user"] + a["sys"])
        print(f"\npostfix_exporter / sre-agent CPU for the same lines: {ratio:.1f}x\n")
        print(f"{'family (summed over labels)':<50} {'sre-agent':>10} {'exporter':>10}")
        for name in a["families"]:
            print(f"{name:<50} {a['families'][name]:>10.0f} {e['families'][name]:>10.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("record", help="fill a real postfix and record its showq stream")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--hold", type=int, default=1000, help="messages put on hold")
    p.add_argument("--batches", type=int, default=10,
                   help="SMTP sessions, each with its own sender and recipient domain")
    p.add_argument("--min-size", type=int, default=500)
    p.add_argument("--max-size", type=int, default=20000)
    p.add_argument("--settle-timeout", type=float, default=1800)
    p.add_argument("--out", default=os.path.join(TESTDATA, "showq_raw_N10000.bin.gz"))
    p.add_argument("--postqueue-out", help="also write postqueue -j (gzipped JSON lines) here")
    p.add_argument("--maillog-out", help="also copy the instance's mail log here")
    p.set_defaults(run=record)
    p = sub.add_parser("expand", help="repeat a stream's records with fresh queue IDs")
    p.add_argument("source")
    p.add_argument("--messages", type=int, default=100000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=os.path.join(TESTDATA, "showq_raw_N100000.bin.gz"))
    p.set_defaults(run=expand)
    p = sub.add_parser("queue", help="both tools on the recorded streams")
    p.add_argument("--agent", required=True, help="sre-agent; sre-probe is its sibling")
    p.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000],
                   help="streams testdata/showq_raw_N<size>.bin.gz")
    p.add_argument("--tools", nargs="+", default=["sre-agent", "postfix_exporter"],
                   choices=["sre-agent", "postfix_exporter"])
    p.add_argument("--window", type=int, default=30, help="reads measured per tool and stream")
    p.add_argument("--warmup", type=float, default=10)
    p.add_argument("--scrape-every", type=float, default=5, help="the agent's /metrics period")
    p.add_argument("--probe-runs", type=int, default=30, help="hyperfine runs; 0: none")
    p.set_defaults(run=queue)
    p = sub.add_parser("log", help="log throughput of both tools")
    p.add_argument("--agent", required=True)
    p.add_argument("--lines", type=int, default=1000000)
    p.add_argument("--chunk-lines", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--poll", type=float, default=0.5, help="seconds between /metrics polls")
    p.add_argument("--tools", nargs="+", default=["sre-agent", "postfix_exporter"],
                   choices=["sre-agent", "postfix_exporter"])
    p.add_argument("--save", help="also write the generated log here")
    p.set_defaults(run=log)
    p = sub.add_parser("check", help="parse streams with the harness's reader")
    p.add_argument("streams", nargs="+")
    p.set_defaults(run=check)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
