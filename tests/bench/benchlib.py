"""Helpers shared by the whole-process benchmarks: free ports, a process's CPU time and memory
from /proc, waiting for an HTTP endpoint, and a background /metrics scraper."""

import os
import re
import socket
import threading
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime


def memory(pid):
    status = open(f"/proc/{pid}/status").read()
    kib = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB", status, re.M)}
    return {k: kib.get(k, 0) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


class Scraper:
    """Scrapes a /metrics URL with gzip every `interval` seconds, as Prometheus would (15 s is the
    usual scrape interval), in a thread; the first scrape comes at once."""

    def __init__(self, url, interval=15.0):
        self.url = url
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            request = urllib.request.Request(self.url, headers={"Accept-Encoding": "gzip"})
            try:
                urllib.request.urlopen(request, timeout=10).read()
            except OSError as e:
                print(f"  (scrape of {self.url} failed: {e})", flush=True)
            if self.stop.wait(self.interval):
                return

    def close(self):
        self.stop.set()
        self.thread.join()
