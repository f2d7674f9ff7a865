#!/usr/bin/env python3
"""Whole-process comparison of sre-agent's scheduled HTTP probes (`http_probe`) with
blackbox_exporter's http prober, on loopback, in one run. Not a test: figures go to
docs/benchmarks.md.

  python3 tests/bench/http_vs_blackbox.py --agent build/release/bin/sre-agent [--window 30]

Three parts (`--only` runs one):

cpu       User and system CPU per HTTP probe, and memory, at 200 and 1,000 probes/s: 1,000 checks
          with distinct URLs (/health?i=N) on a local nginx, interval 5 s and 1 s. blackbox_exporter
          is driven as in production: a Prometheus scrapes /probe?module=http_2xx for each target.
          sre-agent's /metrics is scraped with gzip every 15 s meanwhile, and that is counted.
          Probes are counted by nginx (stub_status `requests`, minus the status reads), so "per
          probe" divides the tool's CPU by the requests it actually made in the window. Last,
          two references: plain libcurl (a small C program compiled at run time) and the curl
          tool, each doing 20,000 GETs on fresh connections in one process.
accuracy  A target that answers 50 ms after the request: probe_duration_seconds of 30 probes minus
          curl's time to first byte (median of 30 runs of `curl -w %{time_starttransfer}`).
lateness  sre-agent alone with 2,000 checks (interval 15 s, timeout 10 s), 200 of them on a listener
          that accepts and never answers: sre_agent_collect_start_lateness_seconds over the window
          (p50/p99 from its buckets, as histogram_quantile) and how many healthy probes succeeded.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from benchlib import Scraper, cpu_seconds, free_port, memory, wait_http

# Every process this script starts, so that an exception or Ctrl-C still stops them (by PID).
STARTED = []


def spawn(argv, **kwargs):
    process = subprocess.Popen(argv, **kwargs)
    STARTED.append(process)
    return process


def stop(*processes):
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p in STARTED:
            STARTED.remove(p)


def stop_everything():
    stop(*reversed(STARTED))


def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def fetch(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    values = sorted(values)
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text, names):
    """[(name, {label: value}, value)] of the samples whose metric name is in `names`."""
    samples = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        if brace >= 0:
            name = line[:brace]
            end = line.rfind("}")
            labels = dict(LABEL.findall(line[brace + 1:end]))
            rest = line[end + 1:].split()
        else:
            name, *rest = line.split()
            labels = {}
        if name in names and rest:
            samples.append((name, labels, float(rest[0])))
    return samples


def histogram_quantile(q, buckets):
    """Prometheus' histogram_quantile on [(le, cumulative count)] sorted by le; None if empty."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    previous_le, previous_count = 0.0, 0.0
    for i, (le, count) in enumerate(buckets):
        if count >= rank:
            if le == float("inf"):
                return previous_le if i > 0 else None  # the highest finite bound
            if i == 0 and le <= 0:
                return le
            return previous_le + (le - previous_le) * (rank - previous_count) / (
                count - previous_count)
        previous_le, previous_count = le, count
    return previous_le


class Nginx:
    """A private nginx on 127.0.0.1: /health answers "ok", /nginx_status is stub_status."""

    def __init__(self, workdir):
        self.port = free_port()
        self.status_reads = 0
        prefix = os.path.join(workdir, "nginx")
        os.makedirs(prefix)
        os.chmod(workdir, 0o755)  # workers run as nobody when started by root
        os.chmod(prefix, 0o755)
        self.log = os.path.join(prefix, "error.log")
        config = os.path.join(prefix, "nginx.conf")
        with open(config, "w") as f:
            f.write(f"""worker_processes 1;
worker_rlimit_nofile 16384;
pid {prefix}/nginx.pid;
error_log {self.log} warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location = /health {{ default_type text/plain; return 200 "ok\\n"; }}
    location = /nginx_status {{ stub_status; }}
  }}
}}
""")
        self.process = spawn(["nginx", "-c", config, "-p", prefix, "-e", self.log,
                              "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.url("/health?i=ready"))

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self):
        """Requests served so far, not counting the status reads (each counts itself)."""
        text = fetch(self.url("/nginx_status"), timeout=5)
        self.status_reads += 1
        accepts_handled_requests = text.splitlines()[2].split()
        return int(accepts_handled_requests[2]) - self.status_reads

    def close(self):
        stop(self.process)


class SlowServer:
    """HTTP/1.1 on 127.0.0.1 that answers 50 ms after reading the request, then closes. A thread
    per connection sleeping with time.sleep (nanosleep): an asyncio server's timers wake up to a
    millisecond late, more when several requests overlap, which would blur a sub-millisecond
    comparison."""

    DELAY = 0.05
    RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                b"Connection: close\r\n\r\nok\n")

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection):
        with connection:
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                time.sleep(self.DELAY)
                connection.sendall(self.RESPONSE)
            except OSError:
                pass

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        self.thread.join()


class HangingListener:
    """Accepts on 127.0.0.1, reads and ignores requests, never answers; closes a connection only
    when the client does."""

    def __init__(self):
        self.accepted = 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4096)
        self.server.setblocking(False)
        self.port = self.server.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.server, selectors.EVENT_READ)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                if key.fileobj is self.server:
                    try:
                        connection, _ = self.server.accept()
                    except BlockingIOError:
                        continue
                    connection.setblocking(False)
                    self.selector.register(connection, selectors.EVENT_READ)
                    self.accepted += 1
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.stopping.set()
        self.thread.join()
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


class Agent:
    """sre-agent with `http_probe` checks [(check, url)], its log in the work dir."""

    def __init__(self, binary, workdir, checks, interval, timeout):
        config = os.path.join(workdir, "agent.yaml")
        with open(config, "w") as f:
            f.write(f"agent:\n  interval: {interval}\n  timeout: {timeout}\nhttp_probe:\n")
            for check, url in checks:
                f.write(f"  - check: {check}\n    url: '{url}'\n")
        self.port = free_port()
        self.log = os.path.join(workdir, "agent.log")
        with open(self.log, "w") as log:
            self.process = spawn([binary, f"--config.file={config}",
                                  f"--web.listen-address=127.0.0.1:{self.port}",
                                  "--log.level=error"], stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/-/ready")

    def metrics(self, names):
        return parse_metrics(fetch(f"http://127.0.0.1:{self.port}/metrics"), names)

    def close(self):
        stop(self.process)
        lines = open(self.log, errors="replace").read().splitlines()
        if lines:
            print(f"  sre-agent log: {len(lines)} lines at --log.level=error, first ones:")
            for line in lines[:3]:
                print(f"    {line[:200]}")


class Blackbox:
    """blackbox_exporter with an http_2xx module; with `targets`, also a Prometheus scraping
    /probe for each of them every `interval`."""

    def __init__(self, workdir, targets=(), interval="15s"):
        self.port = free_port()
        with open(os.path.join(workdir, "blackbox.yml"), "w") as f:
            f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                    "    http:\n      preferred_ip_protocol: ip4\n")
        self.process = spawn(
            [shutil.which("prometheus-blackbox-exporter"),
             f"--config.file={workdir}/blackbox.yml",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.port}/metrics")
        self.prometheus = None
        if not targets:
            return
        self.prometheus_port = free_port()
        listed = ", ".join(f"'{t}'" for t in targets)
        with open(os.path.join(workdir, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: {interval}
  scrape_timeout: 1s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {{module: [http_2xx]}}
    static_configs:
      - targets: [{listed}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{self.port}
""")
        self.prometheus = spawn(
            [shutil.which("prometheus"), f"--config.file={workdir}/prometheus.yml",
             f"--storage.tsdb.path={workdir}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.prometheus_port}", "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.prometheus_port}/-/ready")

    def probe(self, target):
        query = urllib.parse.urlencode({"module": "http_2xx", "target": target})
        return parse_metrics(fetch(f"http://127.0.0.1:{self.port}/probe?{query}"),
                             {"probe_duration_seconds", "probe_success"})

    def query(self, expression):
        """A PromQL instant query's first value, or None."""
        query = urllib.parse.urlencode({"query": expression})
        result = json.loads(fetch(
            f"http://127.0.0.1:{self.prometheus_port}/api/v1/query?{query}"))["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def close(self):
        if self.prometheus:
            stop(self.prometheus)
        stop(self.process)


def measure(pid, nginx, window):
    """CPU per request nginx served during `window` seconds, user and system separately (ms)."""
    u0, s0 = cpu_seconds(pid)
    r0 = nginx.requests()
    time.sleep(window)
    u1, s1 = cpu_seconds(pid)
    probes = nginx.requests() - r0
    return {
        "probes_per_s": probes / window,
        "user_ms": 1000 * (u1 - u0) / max(probes, 1),
        "sys_ms": 1000 * (s1 - s0) / max(probes, 1),
        **memory(pid),
    }


def cpu_row(tool, rate, m, ok):
    ok_text = f"{100 * ok:6.1f}" if ok is not None else f"{'?':>6}"
    return (f"{tool:<10} {rate:>7} {m['probes_per_s']:>10.0f} {ok_text} {m['user_ms']:>8.3f} "
            f"{m['sys_ms']:>8.3f} {m['user_ms'] + m['sys_ms']:>8.3f} "
            f"{m['VmRSS']:>8.1f} {m['RssAnon']:>8.1f} {m['RssFile']:>8.1f}")


# The floor: plain libcurl (the library the agent uses) doing GETs on fresh connections, as the
# agent's probes do (FRESH_CONNECT, FORBID_REUSE, handles reused), a few at a time on one multi
# handle. Compiled at run time; its own CPU (getrusage around the loop) per request.
BARE_LIBCURL_C = r"""
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static size_t discard(char* data, size_t size, size_t count, void* user) { return size * count; }

static void prepare(CURL* easy, const char* base, int i) {
  char url[512];
  snprintf(url, sizeof url, "%s?i=%d", base, i);
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
}

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char** argv) {
  const char* base = argv[1];
  const int total = atoi(argv[2]), parallel = atoi(argv[3]);
  int started = 0, done = 0, failed = 0;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  for (int i = 0; i < parallel && started < total; ++i) {
    CURL* easy = curl_easy_init();
    prepare(easy, base, started++);
    curl_multi_add_handle(multi, easy);
  }
  while (done < total) {
    int running = 0, left = 0;
    curl_multi_perform(multi, &running);
    CURLMsg* message;
    while ((message = curl_multi_info_read(multi, &left))) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      failed += message->data.result != CURLE_OK || status != 200;
      ++done;
      curl_multi_remove_handle(multi, easy);
      if (started < total) {
        prepare(easy, base, started++);
        curl_multi_add_handle(multi, easy);
      }
    }
    if (done < total) curl_multi_poll(multi, NULL, 0, 1000, NULL);
  }
  getrusage(RUSAGE_SELF, &r1);
  printf("%d %d %.6f %.6f\n", done, failed, seconds(r1.ru_utime) - seconds(r0.ru_utime),
         seconds(r1.ru_stime) - seconds(r0.ru_stime));
  return 0;
}
"""


def bare_libcurl(nginx, workdir, requests=20000, parallel=4):
    """(requests nginx served, failed, user ms, sys ms per request), or None without a compiler
    or libcurl's headers."""
    source, binary = os.path.join(workdir, "bare.c"), os.path.join(workdir, "bare")
    with open(source, "w") as f:
        f.write(BARE_LIBCURL_C)
    compiler = shutil.which("cc")
    if not compiler or subprocess.run([compiler, "-O2", "-o", binary, source, "-lcurl"],
                                      capture_output=True).returncode != 0:
        return None
    r0 = nginx.requests()
    out = subprocess.run([binary, nginx.url("/health"), str(requests), str(parallel)],
                         capture_output=True, text=True, check=True).stdout.split()
    served = nginx.requests() - r0
    done, failed, user, system = int(out[0]), int(out[1]), float(out[2]), float(out[3])
    return served, failed, 1000 * user / max(done, 1), 1000 * system / max(done, 1)


def bare_curl(nginx, requests=20000):
    """The curl tool (libcurl's multi interface underneath) in ONE process doing `requests` GETs,
    20 at a time, each on a new connection (Connection: close), so process start-up is amortised.
    Its CPU (wait4 rusage) per request served, less the cost of a curl doing one request."""
    def run(argv):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime

    single = [run(["curl", "-s", "-H", "Connection: close", nginx.url("/health?i=single")])
              for _ in range(10)]
    start_user = statistics.median(u for u, _ in single)
    start_sys = statistics.median(s for _, s in single)
    r0 = nginx.requests()
    user, system = run(["curl", "-s", "--no-progress-meter", "-H", "Connection: close",
                        "--parallel", "--parallel-max", "20",
                        nginx.url(f"/health?i=[1-{requests}]")])
    served = nginx.requests() - r0
    return (served, 1000 * (user - start_user) / max(served, 1),
            1000 * (system - start_sys) / max(served, 1))


def part_cpu(args, nginx):
    print("\n## cpu: CPU per HTTP probe against a local nginx (1,000 checks, distinct URLs)\n")
    print("rate/s: configured probes/s; measured/s: requests nginx served in the window; ok %: "
          "probe_success at the end;\nuser/sys/total ms: CPU-ms of the tool's process per probe; "
          "memory at the end of the window (MiB).\n")
    print(f"{'tool':<10} {'rate/s':>7} {'measured/s':>10} {'ok %':>6} {'user ms':>8} {'sys ms':>8} "
          f"{'total ms':>8} {'RSS MiB':>8} {'RssAnon':>8} {'RssFile':>8}", flush=True)
    checks = 1000
    for rate, interval in ((200, "5s"), (1000, "1s")):
        with tempfile.TemporaryDirectory() as workdir:
            agent = Agent(args.agent, workdir,
                          [(f"c{i}", nginx.url(f"/health?i={i}")) for i in range(checks)],
                          interval, "1s")
            try:
                # The agent is measured while being scraped, as blackbox_exporter is while probed.
                scraper = Scraper(f"http://127.0.0.1:{agent.port}/metrics")
                time.sleep(args.warmup)
                m = measure(agent.process.pid, nginx, args.window)
                scraper.close()
                success = agent.metrics({"probe_success"})
                ok = sum(v for _, _, v in success) / max(len(success), 1)
                print(cpu_row("sre-agent", rate, m, ok), flush=True)
            finally:
                agent.close()
        if args.agent_only:
            continue
        with tempfile.TemporaryDirectory() as workdir:
            blackbox = Blackbox(workdir, [nginx.url(f"/health?i={i}") for i in range(checks)],
                                interval)
            try:
                time.sleep(args.warmup)
                m = measure(blackbox.process.pid, nginx, args.window)
                ok = blackbox.query("avg(probe_success)")
                print(cpu_row("blackbox", rate, m, ok), flush=True)
            finally:
                blackbox.close()
    print("\nReferences (no scheduling, no series, no /metrics):")
    with tempfile.TemporaryDirectory() as workdir:
        bare = bare_libcurl(nginx, workdir)
    if bare is None:
        print("bare libcurl:  not measured (no C compiler or libcurl headers)")
    else:
        served, failed, user_ms, sys_ms = bare
        print(f"bare libcurl:  {served} GETs (failed {failed}), fresh connections, 4 at a time "
              f"on one multi handle: {user_ms:.3f} user + {sys_ms:.3f} sys = "
              f"{user_ms + sys_ms:.3f} CPU-ms per request")
    served, user_ms, sys_ms = bare_curl(nginx)
    print(f"curl tool:     {served} GETs from one `curl --parallel` process, Connection: close: "
          f"{user_ms:.3f} user + {sys_ms:.3f} sys = {user_ms + sys_ms:.3f} CPU-ms per request "
          f"(tool overhead included; process start subtracted)")


def part_accuracy(args):
    print("\n## accuracy: a target answering 50 ms after the request, 30 probes per tool\n")
    samples = 30
    slow = SlowServer()
    try:
        url = slow.url("/slow")
        ttfb = []
        for _ in range(samples):
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_starttransfer}",
                                  url], capture_output=True, text=True, check=True).stdout
            ttfb.append(float(out))
        reference = statistics.median(ttfb)
        print(f"curl time_starttransfer over {samples} runs: median {1000 * reference:.2f} ms, "
              f"p90 {1000 * percentile(ttfb, 0.9):.2f} ms (the reference)")
        print("diff = probe_duration_seconds of each probe - the reference's median\n")
        print(f"{'tool':<10} {'probes':>6} {'failed':>6} {'duration p50':>12} {'diff p50':>9} "
              f"{'diff p90':>9} {'diff max':>9}  (ms)")

        def row(tool, durations, failed):
            diffs = [1000 * (d - reference) for d in durations]
            if not diffs:
                print(f"{tool:<10} {0:>6} {failed:>6}  no durations")
                return
            print(f"{tool:<10} {len(durations):>6} {failed:>6} "
                  f"{1000 * statistics.median(durations):>12.2f} {statistics.median(diffs):>9.2f} "
                  f"{percentile(diffs, 0.9):>9.2f} {max(diffs):>9.2f}", flush=True)

        with tempfile.TemporaryDirectory() as workdir:
            # One check every 250 ms, its probes one after the other like curl's and
            # blackbox_exporter's; /metrics is read every 50 ms to catch each run's value.
            agent = Agent(args.agent, workdir, [("slow", url)], "250ms", "200ms")
            try:
                durations, failed, seen = [], 0, None
                deadline = time.time() + 60
                while len(durations) < samples and time.time() < deadline:
                    found = {n: v for n, _, v in
                             agent.metrics({"probe_duration_seconds", "probe_success",
                                            "sre_agent_collects_total"})}
                    runs = found.get("sre_agent_collects_total", 0)
                    if runs >= 2 and runs != seen:  # the first run also creates the curl handle
                        seen = runs
                        durations.append(found["probe_duration_seconds"])
                        failed += found.get("probe_success") != 1
                    time.sleep(0.05)
                row("sre-agent", durations, failed)
            finally:
                agent.close()
        if args.agent_only:
            return
        with tempfile.TemporaryDirectory() as workdir:
            blackbox = Blackbox(workdir)
            try:
                durations, failed = [], 0
                blackbox.probe(url)  # warm-up, not counted
                for _ in range(samples):
                    found = {n: v for n, _, v in blackbox.probe(url)}
                    durations.append(found["probe_duration_seconds"])
                    failed += found.get("probe_success") != 1
                row("blackbox", durations, failed)
            finally:
                blackbox.close()
    finally:
        slow.close()


def part_lateness(args, nginx):
    checks, hanging_every, interval = 2000, 10, 15
    warmup, window = max(args.warmup, 2 * interval), max(args.window, interval)
    print(f"\n## lateness: sre-agent, {checks} checks every {interval} s (timeout 10 s), "
          f"{checks // hanging_every} of them on a listener that never answers\n")
    print(f"Warm-up {warmup:.0f} s, then sre_agent_collect_start_lateness_seconds over a "
          f"{window:.0f} s window\n(difference of two scrapes; quantiles interpolated in the "
          f"buckets as histogram_quantile does).\n", flush=True)
    hanging = HangingListener()
    try:
        items = []
        for i in range(checks):
            if i % hanging_every == 0:
                items.append((f"h{i}", hanging.url(f"/hang?i={i}")))
            else:
                items.append((f"c{i}", nginx.url(f"/health?i={i}")))
        healthy = sum(1 for check, _ in items if check[0] == "c")
        with tempfile.TemporaryDirectory() as workdir:
            agent = Agent(args.agent, workdir, items, f"{interval}s", "10s")
            try:
                scraper = Scraper(f"http://127.0.0.1:{agent.port}/metrics")
                time.sleep(warmup)
                names = {"sre_agent_collect_start_lateness_seconds_bucket",
                         "sre_agent_collect_start_lateness_seconds_sum",
                         "sre_agent_collect_start_lateness_seconds_count",
                         "sre_agent_collects_total", "sre_agent_skipped_ticks_total",
                         "probe_success"}
                u0, s0 = cpu_seconds(agent.process.pid)
                r0 = nginx.requests()
                before = agent.metrics(names)
                time.sleep(window)
                after = agent.metrics(names)
                served = nginx.requests() - r0
                u1, s1 = cpu_seconds(agent.process.pid)
                scraper.close()
                rss = memory(agent.process.pid)
            finally:
                agent.close()

        def total(samples, name, prefix=None):
            return sum(v for n, labels, v in samples
                       if n == name and (prefix is None or labels.get("check", "")[:1] == prefix))

        def buckets(samples):
            found = {}
            for n, labels, v in samples:
                if n == "sre_agent_collect_start_lateness_seconds_bucket" and len(labels) == 1:
                    found[float(labels["le"])] = v
            return found

        b0, b1 = buckets(before), buckets(after)
        if not b1:
            print("sre_agent_collect_start_lateness_seconds: metric missing from /metrics "
                  "(not in this build of the scheduler yet)")
        else:
            window_buckets = sorted((le, b1[le] - b0.get(le, 0)) for le in b1)
            count = (total(after, "sre_agent_collect_start_lateness_seconds_count")
                     - total(before, "sre_agent_collect_start_lateness_seconds_count"))
            seconds = (total(after, "sre_agent_collect_start_lateness_seconds_sum")
                       - total(before, "sre_agent_collect_start_lateness_seconds_sum"))
            p50, p99 = (histogram_quantile(q, window_buckets) for q in (0.5, 0.99))

            def ms(x):
                return "n/a" if x is None else f"{1000 * x:.3f} ms"

            print(f"start lateness over the window: {count:.0f} runs, p50 {ms(p50)}, "
                  f"p99 {ms(p99)}, mean {ms(seconds / count if count else None)}")
            print("  buckets (le: runs in the window): " + ", ".join(
                f"{le:g}: {c:.0f}" for le, c in window_buckets))
        runs_healthy = (total(after, "sre_agent_collects_total", "c")
                        - total(before, "sre_agent_collects_total", "c"))
        runs_hanging = (total(after, "sre_agent_collects_total", "h")
                        - total(before, "sre_agent_collects_total", "h"))
        skipped = (total(after, "sre_agent_skipped_ticks_total")
                   - total(before, "sre_agent_skipped_ticks_total"))
        print(f"healthy checks succeeding at the end (sum of probe_success): "
              f"{total(after, 'probe_success', 'c'):.0f} of {healthy}; hanging ones: "
              f"{total(after, 'probe_success', 'h'):.0f} of {checks - healthy}")
        print(f"runs finished in the window: {runs_healthy:.0f} healthy, {runs_hanging:.0f} "
              f"hanging; nginx served {served}; skipped ticks {skipped:.0f}; hanging listener "
              f"accepted {hanging.accepted} connections in all")
        print(f"sre-agent over the window: {1000 * (u1 - u0):.0f} user + {1000 * (s1 - s0):.0f} "
              f"sys CPU-ms; RSS {rss['VmRSS']:.1f} MiB (anon {rss['RssAnon']:.1f}, file "
              f"{rss['RssFile']:.1f})")
    finally:
        hanging.close()


def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split(".")[0].split()) + ".")
    parser.add_argument("--agent", required=True)
    parser.add_argument("--window", type=float, default=30, help="seconds measured per case")
    parser.add_argument("--warmup", type=float, default=10,
                        help="seconds before measuring (lateness: at least 30)")
    parser.add_argument("--agent-only", action="store_true", help="skip blackbox_exporter")
    parser.add_argument("--only", choices=("cpu", "accuracy", "lateness"), help="run one part")
    args = parser.parse_args()
    tools = ["nginx", "curl"]
    if not args.agent_only and args.only != "lateness":
        tools += ["prometheus-blackbox-exporter", "prometheus"]
    for tool in tools:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: bash scripts/setup.sh bench")
    raise_fd_limit()
    signal.signal(signal.SIGTERM, on_sigterm)

    print("# sre-agent http_probe against blackbox_exporter's http prober, on loopback")
    print(f"command: python3 {' '.join(sys.argv)}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}, {os.cpu_count()} cores, "
          f"{platform.platform()}")
    curl = " ".join(version(["curl", "--version"]).split()[:2])
    print(f"nginx: {version(['nginx', '-v'])}; curl: {curl}")
    if not args.agent_only and args.only != "lateness":
        print(f"blackbox: {version(['prometheus-blackbox-exporter', '--version'])}; "
              f"prometheus: {version(['prometheus', '--version'])}")
    print(f"window {args.window:g} s after a warm-up of {args.warmup:g} s per case. nginx: one "
          f"worker, access_log off, /health returns \"ok\".")
    if args.only in (None, "cpu"):
        print("Reference measured elsewhere: a bare libcurl GET on a fresh connection costs "
              "about 0.13 CPU-ms; the `bare libcurl`\nline below measures the same here. One curl "
              "process per probe would not be comparable (process start).")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            nginx = Nginx(workdir) if args.only != "accuracy" else None
            try:
                if args.only in (None, "cpu"):
                    part_cpu(args, nginx)
                if args.only in (None, "accuracy"):
                    part_accuracy(args)
                if args.only in (None, "lateness"):
                    part_lateness(args, nginx)
            finally:
                if nginx:
                    nginx.close()
                    errors = open(nginx.log, errors="replace").read().splitlines()
                    if errors:
                        print(f"\nnginx error log: {len(errors)} lines, last: {errors[-1][:200]}")
    finally:
        stop_everything()


if __name__ == "__main__":
    sys.exit(main())
