"""Soak test of the built sre-agent (issue 10): every exporter against real local services and
against hostile peers for a long run, while /metrics is scraped every second and the config is
reloaded every minute; reports how the agent held up.

    python3 tests/bench/soak.py --duration 1h --json /tmp/soak.json
    python3 tests/bench/soak.py --duration 2m --slowloris 500     # scrapes under a slowloris

Services: a real php-fpm, a real postfix (showq + a mail log this script appends to) and
Fluentd's monitor_agent replayed (tests/integration helpers), a healthy HTTP server, and hostile
servers on 127.0.0.1 that hang, reset (RST), answer garbage or flood 10 MB. A service that cannot
start is named in the report and its checks are left out. Every check runs each 1-5 s; every
hostile check has a timeout below its interval.

Measured: scrape latency and failures, reloads (POST /-/reload and SIGHUP in turn, each after a
small config change), the agent's RSS and open fds every 10 s, and per check the runs, skipped
ticks, missed collections (see CollectionTracker) and failure reasons from the agent's own
sre_agent_* series. The agent is build/me/bin/sre-agent unless --agent PATH or SRE_AGENT says.
Exit code 1 if the agent died, a scrape or reload failed, or its fds grew by more than
FD_GROWTH_LIMIT; figures are for docs/reliability.md, not thresholds. Needs root for postfix."""

import argparse
import collections
import json
import math
import os
import re
import resource
import signal
import socket
import socketserver
import statistics
import struct
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from fluentd_replay import MonitorAgentReplay  # noqa: E402
from http_probe_test import Server  # noqa: E402
from php_fpm import PhpFpm, Pool, php_fpm_binary  # noqa: E402
from postfix import Postfix, postfix_tools  # noqa: E402
from support import Agent, free_port, parse_metrics, wait_for  # noqa: E402

SCRAPE_EVERY, SAMPLE_EVERY, RELOAD_EVERY, MAILLOG_EVERY = 1.0, 10.0, 60.0, 1.0
# Hostile checks keep a few connections in flight at any moment; more than this is a leak.
FD_GROWTH_LIMIT = 20
FLOOD_BYTES = 10 * 1024 * 1024
SLOWLORIS_BYTE_EVERY = 3.0  # per connection; well inside the agent's 10 s idle timeout


def parse_duration(text):
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: use e.g. 90s, 10m, 1h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


# --- peers ----------------------------------------------------------------------------------------

class HostileHandler(socketserver.BaseRequestHandler):
    """One connection, treated as the server's `behaviour` says."""

    def handle(self):
        getattr(self, self.server.behaviour)()

    def drain(self):
        """Reads and drops whatever comes until the peer closes: the agent ends it by timeout."""
        self.request.settimeout(30)
        try:
            while self.request.recv(65536):
                pass
        except OSError:
            pass

    def hang(self):
        self.drain()

    def reset(self):
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.close()

    def garbage(self):
        # Read the request first (closing with it unread would send an RST, not garbage); a
        # client that waits for a banner (tcp with expect) sends none.
        self.request.settimeout(0.2)
        try:
            self.request.recv(65536)
        except socket.timeout:
            pass
        except OSError:
            return
        try:
            self.request.sendall(os.urandom(4096))
            self.request.shutdown(socket.SHUT_WR)
        except OSError:
            return
        self.drain()

    def flood(self):
        """10 MB of body: as FastCGI STDOUT records to a FastCGI client, else as HTTP."""
        self.request.settimeout(5)
        try:
            first = self.request.recv(65536)
            self.request.sendall(FLOOD_FCGI if first[:1] == b"\x01" else FLOOD_HTTP)
        except OSError:
            pass  # the agent gave up: its size cap or its deadline


def _fcgi_flood():
    chunk = b"A" * 32768
    record = struct.pack(">BBHHBx", 1, 6, 1, len(chunk), 0) + chunk  # version 1, STDOUT, id 1
    head = b"Content-Type: application/json\r\n\r\n"
    return struct.pack(">BBHHBx", 1, 6, 1, len(head), 0) + head + record * (FLOOD_BYTES // 32768)


FLOOD_HTTP = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {FLOOD_BYTES}"
              "\r\n\r\n").encode() + b"A" * FLOOD_BYTES
FLOOD_FCGI = _fcgi_flood()


def start_hostile(behaviour):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), HostileHandler)
    server.daemon_threads = True
    server.behaviour = behaviour
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_postfix():
    """A postfix with 50 deferred messages (its relay refuses), so showq has a queue to list."""
    pf = Postfix(postfix_tools(unittest.TestCase))
    try:
        pf.send(50, size=(500, 5000))
        pf.wait_settled(50)
    except BaseException:
        pf.close()
        raise
    return pf


def start_services():
    """(services, closers, unavailable): what started, how to stop it, and why the rest did not.
    The helpers skip or fail a TestCase when a tool is missing; here that only means "not run"."""
    services, closers, unavailable = {}, [], {}
    starters = {
        "php-fpm": lambda: PhpFpm(php_fpm_binary(unittest.TestCase),
                                  [Pool("www"), Pool("tcp", "tcp")]),
        "postfix": start_postfix,
        "fluentd": lambda: MonitorAgentReplay(["plugins_idle.json", "plugins_retrying.json"]),
    }
    for name, start in starters.items():
        try:
            services[name] = start()
            closers.append(services[name].close)
        except (Exception, unittest.SkipTest) as error:  # noqa: BLE001 (report it, go on)
            unavailable[name] = f"{type(error).__name__}: {str(error).strip()[:300]}"
    services["http"] = Server()  # answers 200 on /ok
    services["refused"] = free_port()  # nothing listens there; fixed so reloads keep the check
    for behaviour in ("hang", "reset", "garbage", "flood"):
        services[behaviour] = start_hostile(behaviour)
    closers += [services["http"].close] + [services[n].shutdown
                                           for n in ("hang", "reset", "garbage", "flood")]
    return services, closers, unavailable


# --- config ---------------------------------------------------------------------------------------

def check_list(services, generation):
    """[(exporter, check, interval s, timeout s, keys, role)]. `generation` flips the label of
    tcp-reload and adds tcp-extra on odd reloads, so each reload changes two checks."""
    port = {n: services[n].server_address[1] for n in ("hang", "reset", "garbage", "flood")}
    ok = f"127.0.0.1:{services['http'].port}"
    checks = [
        ("tcp", "tcp-ok", 1, 0.5, {"target": ok}, "healthy"),
        ("tcp", "tcp-reload", 1, 0.5, {"target": ok, "labels": {"gen": str(generation % 2)}},
         "healthy"),
        ("http_probe", "http-ok", 2, 1, {"url": f"http://{ok}/ok"}, "healthy"),
        ("tcp", "tcp-refused", 1, 0.5, {"target": f"127.0.0.1:{services['refused']}"},
         "hostile"),
    ]
    if generation % 2:
        checks.append(("tcp", "tcp-extra", 1, 0.5, {"target": ok}, "healthy"))
    for behaviour in ("hang", "reset", "garbage"):
        checks.append(("tcp", f"tcp-{behaviour}", 2, 1,
                       {"target": f"127.0.0.1:{port[behaviour]}",
                        "query_response": [{"expect": "^220 "}]}, "hostile"))
    for behaviour in ("hang", "reset", "garbage", "flood"):
        address = f"127.0.0.1:{port[behaviour]}"
        checks.append(("http_probe", f"http-{behaviour}", 2, 1, {"url": f"http://{address}/"},
                       "hostile"))
        checks.append(("php_fpm", f"fpm-{behaviour}", 2, 1,
                       {"scrape_uri": [f"tcp://{address}/status"]}, "hostile"))
    checks.append(("fluentd", "fluentd-flood", 2, 1,
                   {"urls": [f"http://127.0.0.1:{port['flood']}"]}, "hostile"))
    if "php-fpm" in services:
        www, tcp = services["php-fpm"].pools
        checks.append(("php_fpm", "fpm", 1, 0.5, {"scrape_uri": [www.scrape_uri, tcp.scrape_uri]},
                       "healthy"))
        checks.append(("tcp", "tcp-fpm", 5, 1, {"target": f"127.0.0.1:{tcp.address[1]}"},
                       "healthy"))
    if "postfix" in services:
        pf = services["postfix"]
        checks.append(("postfix", "mail", 2, 1, {"showq_path": pf.showq_path,
                                                 "log_file": pf.maillog}, "healthy"))
    if "fluentd" in services:
        checks.append(("fluentd", "fluentd", 2, 1, {"urls": [services["fluentd"].url],
                                                    "workers": 2}, "healthy"))
    return checks


def render_config(checks):
    """YAML with every value written as JSON, which YAML reads as flow style."""
    lines = []
    for exporter in sorted({c[0] for c in checks}):
        lines.append(f"{exporter}:")
        for kind, name, interval, timeout, keys, _ in checks:
            if kind != exporter:
                continue
            lines += [f"  - check: {name}", f"    interval: {interval}s",
                      f"    timeout: {int(timeout * 1000)}ms"]
            lines += [f"    {key}: {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


# --- measurement ----------------------------------------------------------------------------------

class CollectionTracker:
    """Follows sre_agent_collects_total, _skipped_ticks_total and _collect_last_timestamp_seconds
    of every check across scrapes. A stretch is the time a check is seen with a growing run
    counter; a reload that re-creates the check (its counter drops) or removes it ends one.
    Missed runs of a stretch: floor((last run's timestamp - first run's timestamp) / interval)
    minus the runs counted between them. Start-up and reload gaps fall between stretches, so
    they do not count; a run's duration (below the interval) cannot make a miss appear, so the
    count may be one short per stretch but never too high."""

    def __init__(self):
        self.open = {}  # (exporter, check) -> [first (runs, ts, skipped), last (...)]
        self.closed = {}  # (exporter, check) -> [(first, last), ...]
        self.errors = {}  # (exporter, check) -> {reason: count}, from the latest scrape
        self.max_duration = {}

    def observe(self, samples):
        seen = {}
        for name, labels, value in samples:
            if not name.startswith("sre_agent_") or "check" not in labels:
                continue
            key = (labels["exporter"], labels["check"])
            seen.setdefault(key, {})[name] = value
            if name == "sre_agent_collect_errors_total":
                self.errors.setdefault(key, {})[labels["reason"]] = value
            elif name == "sre_agent_collect_duration_seconds":
                self.max_duration[key] = max(value, self.max_duration.get(key, 0))
        for key in [k for k in self.open if k not in seen]:
            self._close(key)
        for key, values in seen.items():
            if values.get("sre_agent_collects_total", 0) < 1:
                continue  # placeholder before the first run: no timestamp yet
            point = (values["sre_agent_collects_total"],
                     values["sre_agent_collect_last_timestamp_seconds"],
                     values["sre_agent_skipped_ticks_total"])
            if key in self.open and point[0] < self.open[key][1][0]:
                self._close(key)  # re-created by a reload
            self.open.setdefault(key, [point, point])[1] = point

    def _close(self, key):
        self.closed.setdefault(key, []).append(tuple(self.open.pop(key)))

    def summary(self, checks):
        """Per check; `checks` maps (exporter, check) to (interval in s, role)."""
        for key in list(self.open):
            self._close(key)
        report = {}
        for key, stretches in self.closed.items():
            interval, role = checks[key]
            runs = sum(last[0] - first[0] for first, last in stretches)
            missed = sum(max(0, math.floor((last[1] - first[1]) / interval) - (last[0] - first[0]))
                         for first, last in stretches)
            report["/".join(key)] = {
                "role": role, "interval_s": interval, "runs": int(runs), "missed": int(missed),
                "skipped_ticks": int(sum(last[2] - first[2] for first, last in stretches)),
                "stretches": len(stretches), "errors": self.errors.get(key, {}),
                "max_duration_ms": round(self.max_duration.get(key, 0) * 1000, 1)}
        return report


def scrape_loop(url, stop, tracker, latencies, failures):
    """GET /metrics every SCRAPE_EVERY s; keeps each latency (ms) and each failure."""
    next_at = time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
                body = response.read().decode()
            latencies.append((time.monotonic() - started) * 1000)
            tracker.observe(parse_metrics(
                "\n".join(line for line in body.splitlines() if line.startswith("sre_agent_"))))
        except Exception as error:  # noqa: BLE001 (an unparsable answer is a failure too)
            failures.append(f"{time.strftime('%H:%M:%S')} {type(error).__name__}: {error}")
        next_at += SCRAPE_EVERY
        stop.wait(max(0.0, next_at - time.monotonic()))


class Slowloris:
    """`count` connections to the agent, each sending a partial request header one byte every
    SLOWLORIS_BYTE_EVERY s; one the agent closes is opened again (counted in `reopened`)."""

    def __init__(self, address, count):
        self.address, self.count, self.reopened = address, count, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _connect(self):
        sock = socket.create_connection(self.address, timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: soak\r\nX-Slow: ")
        return sock

    def _run(self):
        # Stagger the bytes over the period, so the agent sees a steady trickle.
        conns = [[None, time.monotonic() + SLOWLORIS_BYTE_EVERY * i / self.count]
                 for i in range(self.count)]
        while not self.stop.wait(0.05):
            now = time.monotonic()
            for conn in conns:
                if conn[1] > now:
                    continue
                conn[1] = now + SLOWLORIS_BYTE_EVERY
                try:
                    if conn[0] is None:
                        conn[0] = self._connect()
                    else:
                        conn[0].sendall(b"a")
                except OSError:
                    if conn[0] is not None:
                        conn[0].close()
                        self.reopened += 1
                    conn[0] = None
        for sock, _ in conns:
            if sock is not None:
                sock.close()

    def close(self):
        self.stop.set()
        self.thread.join()


def reload(agent, how):
    """POST /-/reload or SIGHUP; True once the agent says the new config is in."""
    before = reload_timestamp(agent)
    if how == "POST":
        if agent.get("/-/reload", method="POST")[0] != 200:
            return False
    else:
        agent.process.send_signal(signal.SIGHUP)
    try:
        wait_for(lambda: reload_timestamp(agent) > before, timeout=10, what="reload")
    except AssertionError:
        return False
    return True


def reload_timestamp(agent):
    samples = parse_metrics(agent.metrics())
    if [v for n, _, v in samples if n == "sre_agent_config_last_reload_successful"] != [1.0]:
        return -1.0
    return [v for n, _, v in samples
            if n == "sre_agent_config_last_reload_success_timestamp_seconds"][0]


def process_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kib = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))
    return round(rss_kib / 1024, 2), len(os.listdir(f"/proc/{pid}/fd"))


def append_mail_log(path):
    """An smtpd connection as postfix logs it; the agent counts it in
    postfix_smtpd_connects_total."""
    stamp = time.strftime("%b %e %H:%M:%S")
    with open(path, "a") as f:
        f.write(f"{stamp} localhost postfix/smtpd[4242]: connect from unknown[127.0.0.1]\n"
                f"{stamp} localhost postfix/smtpd[4242]: disconnect from unknown[127.0.0.1] "
                "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n")


def growth_per_hour(series):
    """MiB/h: slope of a least-squares line through the second half of (seconds, MiB)."""
    half = series[len(series) // 2:]
    if len(half) < 2:
        return None
    mean_t = statistics.fmean(t for t, _ in half)
    mean_r = statistics.fmean(r for _, r in half)
    spread = sum((t - mean_t) ** 2 for t, _ in half)
    return round(sum((t - mean_t) * (r - mean_r) for t, r in half) / spread * 3600, 2)


def percentile(values, q):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if values else None


# --- the run --------------------------------------------------------------------------------------

def soak(args):
    services, closers, unavailable = start_services()
    agent = None
    try:
        checks = check_list(services, 0)
        agent = Agent(render_config(checks))
        agent.wait_ready()
        return run(args, agent, services, checks, unavailable)
    finally:
        if agent is not None:
            agent.stop()
        for close in reversed(closers):
            close()


def run(args, agent, services, first_checks, unavailable):
    pid = agent.process.pid
    tracker, latencies, failures = CollectionTracker(), [], []
    meta = {(c[0], c[1]): (c[2], c[5]) for c in first_checks}
    stop = threading.Event()
    scraper = threading.Thread(target=scrape_loop,
                               args=(agent.url, stop, tracker, latencies, failures), daemon=True)
    rss, fds, reloads, reload_failures, mail_lines, generation = [], [], 0, [], 0, 0
    start = time.monotonic()
    rss_mib, fd_count = process_sample(pid)
    rss.append((0.0, rss_mib))
    fds.append(fd_count)
    host, port = agent.url.split("//")[1].rsplit(":", 1)
    slowloris = Slowloris((host, int(port)), args.slowloris) if args.slowloris else None
    scraper.start()
    next_sample, next_reload, next_mail = SAMPLE_EVERY, RELOAD_EVERY, 0.0
    died = None
    while (elapsed := time.monotonic() - start) < args.duration:
        if agent.process.poll() is not None:
            died = f"exit code {agent.process.returncode}: " + "".join(agent.lines[-10:])
            break
        if "postfix" in services and elapsed >= next_mail:
            append_mail_log(services["postfix"].maillog)
            mail_lines, next_mail = mail_lines + 1, next_mail + MAILLOG_EVERY
        if elapsed >= next_sample:
            rss_mib, fd_count = process_sample(pid)
            rss.append((round(elapsed, 1), rss_mib))
            fds.append(fd_count)
            next_sample += SAMPLE_EVERY
        if elapsed >= next_reload:
            generation += 1
            checks = check_list(services, generation)
            meta.update({(c[0], c[1]): (c[2], c[5]) for c in checks})
            agent.write_config(render_config(checks))
            how = "POST" if generation % 2 else "SIGHUP"
            if reload(agent, how):
                reloads += 1
            else:
                reload_failures.append(f"{how} at {elapsed:.0f}s")
            next_reload += RELOAD_EVERY
        time.sleep(0.1)
    if slowloris:
        slowloris.close()
    stop.set()
    scraper.join()
    # The end figures come once the slowloris connections are closed, and stay out of the
    # series: the fit is of the steady run, not of the teardown.
    end_rss, end_fds = rss[-1][1], fds[-1]
    if died is None:
        time.sleep(2)
        end_rss, end_fds = process_sample(pid)
    final = parse_metrics(agent.metrics()) if died is None else []
    connects = sum(v for n, _, v in final if n == "postfix_smtpd_connects_total")
    levels = collections.Counter(m.group(1) if (m := re.search(r"level=(\w+)", line)) else "other"
                                 for line in agent.lines)
    per_check = tracker.summary(meta)
    return {
        "duration_s": round(time.monotonic() - start, 1), "slowloris_connections": args.slowloris,
        "slowloris_reopened": slowloris.reopened if slowloris else 0,
        "exporters": sorted({e for e, _ in meta}),
        "checks": sorted("/".join(k) for k in meta),
        "services_not_started": unavailable,
        "agent_died": died,
        "rss_mib": {"start": rss[0][1], "end": end_rss, "max": max(end_rss, *(r for _, r in rss)),
                    "growth_per_hour_second_half": growth_per_hour(rss), "series": rss},
        "fds": {"start": fds[0], "end": end_fds, "max": max(end_fds, *fds)},
        "scrapes": {"done": len(latencies) + len(failures), "failed": len(failures),
                    "failures": failures[:20], "p50_ms": percentile(latencies, 0.5),
                    "p99_ms": percentile(latencies, 0.99),
                    "max_ms": round(max(latencies), 1) if latencies else None},
        "reloads": {"done": reloads + len(reload_failures), "failed": len(reload_failures),
                    "failures": reload_failures},
        "missed_collections_total": sum(c["missed"] for c in per_check.values()),
        "skipped_ticks_total": sum(c["skipped_ticks"] for c in per_check.values()),
        "per_check": per_check,
        "mail_log": {"connect_lines_appended": mail_lines, "agent_counted": connects},
        "showq_messages": sum(v for n, _, v in final if n == "postfix_showq_queue_depth"),
        "agent_log_lines_by_level": dict(levels),
    }


def print_report(r):
    print(f"\nsoak: {r['duration_s']:.0f} s, slowloris {r['slowloris_connections']} "
          f"(reopened {r['slowloris_reopened']}), exporters {', '.join(r['exporters'])}, "
          f"{len(r['checks'])} checks")
    for name, why in r["services_not_started"].items():
        print(f"  NOT STARTED: {name}: {why}")
    if r["agent_died"]:
        print(f"  AGENT DIED: {r['agent_died']}")
    m, f, s, rl = r["rss_mib"], r["fds"], r["scrapes"], r["reloads"]
    print(f"  RSS MiB start {m['start']} end {m['end']} max {m['max']}, growth "
          f"{m['growth_per_hour_second_half']} MiB/h (second half, linear fit)")
    print(f"  fds start {f['start']} end {f['end']} max {f['max']}")
    print(f"  scrapes {s['done']} failed {s['failed']}, latency ms p50 {s['p50_ms']} "
          f"p99 {s['p99_ms']} max {s['max_ms']}")
    for failure in s["failures"][:5]:
        print(f"    {failure}")
    print(f"  reloads {rl['done']} failed {rl['failed']} {rl['failures'] or ''}")
    print(f"  missed collections {r['missed_collections_total']}, skipped ticks "
          f"{r['skipped_ticks_total']}; mail log lines {r['mail_log']['connect_lines_appended']}"
          f", counted {r['mail_log']['agent_counted']:.0f}; showq lists {r['showq_messages']:.0f}")
    print(f"  agent log lines by level {r['agent_log_lines_by_level']}")
    print(f"  {'check':<26}{'role':>8}{'every':>6}{'runs':>7}{'missed':>7}{'skip':>6}"
          f"{'max ms':>8}  errors")
    for key, c in sorted(r["per_check"].items()):
        errors = ", ".join(f"{k}={v:.0f}" for k, v in sorted(c["errors"].items()))
        print(f"  {key:<26}{c['role']:>8}{c['interval_s']:>5}s{c['runs']:>7}{c['missed']:>7}"
              f"{c['skipped_ticks']:>6}{c['max_duration_ms']:>8}  {errors}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_agent = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                                 "me", "bin", "sre-agent")
    parser.add_argument("--agent", default=os.environ.get("SRE_AGENT", default_agent))
    parser.add_argument("--duration", type=parse_duration, default=3600.0)
    parser.add_argument("--slowloris", type=int, default=0, metavar="N")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    os.environ["SRE_AGENT"] = os.path.abspath(args.agent)  # support.Agent reads it
    # The slowloris sockets and the hostile servers' connections need fds of our own.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    report = soak(args)
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    failed = (report["agent_died"] or report["scrapes"]["failed"] or report["reloads"]["failed"]
              or report["fds"]["end"] - report["fds"]["start"] > FD_GROWTH_LIMIT)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
