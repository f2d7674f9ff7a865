#!/usr/bin/env python3
"""Whole-process comparison of sre-agent's TCP checks with blackbox_exporter's tcp prober, on
loopback, in one run. Prints resident memory (RssAnon, RssFile) with 1,000 checks configured,
user and system CPU per check at 200 and 1,000 checks per second, and CPU per /metrics scrape
with about 1,500 series. Not a test: figures go to docs/benchmarks.md.

  python3 tests/bench/tcp_vs_blackbox.py --agent build/release/bin/sre-agent [--window 30]

blackbox_exporter is driven the way it runs in production: Prometheus scrapes /probe for each
target. sre-agent's /metrics is scraped with gzip every 15 s meanwhile, and that is counted. Both tools connect to the same accepting listener, which counts connections, so "per
check" divides the tool's CPU by the connections it actually made in the window.
"""

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from benchlib import Scraper, cpu_seconds, free_port, memory, wait_http



class CountingListener:
    """Accepts and closes connections on 127.0.0.1 in its own thread, counting them."""

    def __init__(self):
        self.count = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait()

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def on_connect(reader, writer):
            self.count += 1
            writer.close()

        server = self.loop.run_until_complete(
            asyncio.start_server(on_connect, "127.0.0.1", 0, backlog=4096))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()


def measure(pid, listener, window):
    """CPU per connection made during `window` seconds, user and system separately (ms)."""
    u0, s0 = cpu_seconds(pid)
    c0 = listener.count
    time.sleep(window)
    u1, s1 = cpu_seconds(pid)
    connections = listener.count - c0
    return {
        "connections_per_s": connections / window,
        "user_ms_per_check": 1000 * (u1 - u0) / max(connections, 1),
        "sys_ms_per_check": 1000 * (s1 - s0) / max(connections, 1),
        **memory(pid),
    }


def run_agent(agent, listener, checks, interval, workdir):
    config = os.path.join(workdir, "agent.yaml")
    with open(config, "w") as f:
        f.write(f"agent:\n  interval: {interval}\n  timeout: 1s\ntcp:\n")
        for i in range(checks):
            f.write(f"  - check: c{i}\n    target: 127.0.0.1:{listener.port}\n")
    port = free_port()
    process = subprocess.Popen([agent, f"--config.file={config}",
                                f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"])
    wait_http(f"http://127.0.0.1:{port}/-/ready")
    return process, port


def run_blackbox(listener, checks, interval, workdir):
    blackbox_port, prometheus_port = free_port(), free_port()
    with open(os.path.join(workdir, "blackbox.yml"), "w") as f:
        f.write("modules:\n  tcp:\n    prober: tcp\n    timeout: 1s\n")
    blackbox = subprocess.Popen(
        [shutil.which("prometheus-blackbox-exporter"),
         f"--config.file={workdir}/blackbox.yml",
         f"--web.listen-address=127.0.0.1:{blackbox_port}", "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{blackbox_port}/metrics")
    # One distinct placeholder address per check; relabelling points every one at the listener.
    targets = ", ".join(f"'c{i}:1'" for i in range(checks))
    with open(os.path.join(workdir, "prometheus.yml"), "w") as f:
        f.write(f"""global:
  scrape_interval: {interval}
  scrape_timeout: 1s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {{module: [tcp]}}
    static_configs:
      - targets: [{targets}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: instance
      - target_label: __param_target
        replacement: 127.0.0.1:{listener.port}
      - target_label: __address__
        replacement: 127.0.0.1:{blackbox_port}
""")
    prometheus = subprocess.Popen(
        [shutil.which("prometheus"), f"--config.file={workdir}/prometheus.yml",
         f"--storage.tsdb.path={workdir}/tsdb", f"--web.listen-address=127.0.0.1:{prometheus_port}",
         "--log.level=error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{prometheus_port}/-/ready")
    return blackbox, prometheus


def stop(*processes):
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        p.wait(timeout=30)


def scrape_cost(agent, listener, workdir, window):
    """CPU per /metrics scrape with ~1,500 series, scraped back to back by one client."""
    process, port = run_agent(agent, listener, 55, "60s", workdir)
    url = f"http://127.0.0.1:{port}/metrics"
    body = urllib.request.urlopen(url).read().decode()
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    u0, s0 = cpu_seconds(process.pid)
    scrapes = 0
    deadline = time.time() + window
    with socket.create_connection(("127.0.0.1", port)) as s:
        stream = s.makefile("rb")
        while time.time() < deadline:
            s.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            stream.read(length)
            scrapes += 1
    u1, s1 = cpu_seconds(process.pid)
    stop(process)
    return {"series": series, "scrapes": scrapes, "body_bytes": len(body),
            "user_ms_per_scrape": 1000 * (u1 - u0) / scrapes,
            "sys_ms_per_scrape": 1000 * (s1 - s0) / scrapes}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", required=True)
    parser.add_argument("--window", type=float, default=30, help="seconds measured per case")
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--agent-only", action="store_true", help="skip blackbox_exporter")
    args = parser.parse_args()
    for tool in ("prometheus-blackbox-exporter", "prometheus"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: bash scripts/setup.sh bench")
    listener = CountingListener()
    checks = 1000
    print(f"{'tool':<10} {'rate/s':>7} {'measured/s':>10} {'user ms':>8} {'sys ms':>8} "
          f"{'RSS MiB':>8} {'RssAnon':>8} {'RssFile':>8}")
    for rate, interval in ((200, "5s"), (1000, "1s")):
        with tempfile.TemporaryDirectory() as workdir:
            process, port = run_agent(args.agent, listener, checks, interval, workdir)
            # The agent is measured while being scraped, as blackbox_exporter is while probed.
            scraper = Scraper(f"http://127.0.0.1:{port}/metrics")
            time.sleep(args.warmup)
            m = measure(process.pid, listener, args.window)
            scraper.close()
            stop(process)
            print(f"{'sre-agent':<10} {rate:>7} {m['connections_per_s']:>10.0f} "
                  f"{m['user_ms_per_check']:>8.3f} {m['sys_ms_per_check']:>8.3f} "
                  f"{m['VmRSS']:>8.1f} {m['RssAnon']:>8.1f} {m['RssFile']:>8.1f}", flush=True)
        if args.agent_only:
            continue
        with tempfile.TemporaryDirectory() as workdir:
            blackbox, prometheus = run_blackbox(listener, checks, interval, workdir)
            time.sleep(args.warmup)
            m = measure(blackbox.pid, listener, args.window)
            stop(prometheus, blackbox)
            print(f"{'blackbox':<10} {rate:>7} {m['connections_per_s']:>10.0f} "
                  f"{m['user_ms_per_check']:>8.3f} {m['sys_ms_per_check']:>8.3f} "
                  f"{m['VmRSS']:>8.1f} {m['RssAnon']:>8.1f} {m['RssFile']:>8.1f}", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        s = scrape_cost(args.agent, listener, workdir, min(args.window, 10))
        print(f"\n/metrics: {s['series']} series, {s['body_bytes']} bytes, {s['scrapes']} scrapes: "
              f"{s['user_ms_per_scrape']:.3f} user + {s['sys_ms_per_scrape']:.3f} sys CPU-ms "
              f"per scrape")


if __name__ == "__main__":
    sys.exit(main())
