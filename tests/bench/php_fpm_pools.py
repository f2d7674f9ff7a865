#!/usr/bin/env python3
"""sre-agent's php_fpm exporter against one real php-fpm 8.2 with 20 pools of 50 workers each
(pm = static, unix sockets), on loopback. Prints, for `processes: false` and `processes: true`,
the agent's CPU per collection (user and system time from /proc/PID/stat over a window, divided
by the runs sre_agent_collects_total counted in it), the median of the sampled
sre_agent_collect_duration_seconds, memory at the end, and the series and bytes of /metrics; then
the wall time of one `sre-probe php-fpm` over the same 20 pools. Not a test: figures go to
docs/benchmarks.md.

  python3 tests/bench/php_fpm_pools.py --agent build/release/bin/sre-agent [--window 30]

The window is a whole number of collection intervals, started and ended half an interval after a
collection, so it holds exactly window/interval collections. /metrics is scraped with gzip every
5 s inside the window (Prometheus' usual 15 s, three times over), and that CPU is counted: nothing
is subtracted. Only the agent process is counted, not php-fpm. The hipages php-fpm_exporter is
not packaged in Debian, so there is no side-by-side run. --capture PATH writes the body of pool
p0's `json&full` status page, read once the agent runs are over, to PATH. php-fpm is started by
tests/integration/php_fpm.py within its 15 s START_TIMEOUT (1,000 workers take about 1 s here).
"""

import argparse
import gzip
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import php_fpm  # noqa: E402  (tests/integration)
import support  # noqa: E402
from benchlib import cpu_seconds, memory  # noqa: E402

SELF = re.compile(r'^(sre_agent_\w+)\{exporter="php_fpm",check="bench"(?:,reason="\w+")?\} (\S+)$',
                  re.M)


def self_figures(text):
    """The check's own series: runs, last duration, last finish time, errors, skipped ticks."""
    figures = {"errors": 0.0}
    for name, value in SELF.findall(text):
        if name == "sre_agent_collect_errors_total":
            figures["errors"] += float(value)
        else:
            figures[name] = float(value)
    return figures


def scrape(url, compressed=True):
    """(plain text, bytes on the wire) of one /metrics scrape."""
    headers = {"Accept-Encoding": "gzip"} if compressed else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            return gzip.decompress(body).decode(), len(body)
    return body.decode(), len(body)


def cpu_idle_ticks():
    """(idle + iowait, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def sleep_until(when):
    delay = when - time.time()
    if delay > 0:
        time.sleep(delay)


def start_php_fpm(binary, pools, children):
    """One master serving `pools` pools of `children` static workers; returns it once every
    worker is forked and every pool reports all of them on its status page."""
    started = time.monotonic()
    fpm = php_fpm.PhpFpm(binary, [php_fpm.Pool(f"p{i}", children=children)
                                  for i in range(pools)])
    answered = time.monotonic() - started

    def all_up():
        if len(fpm.worker_pids()) != pools * children:
            return False
        try:  # a status request may meet a locked scoreboard (500): not yet
            return all(php_fpm.status_json(p.address, full=False)["total processes"] == children
                       for p in fpm.pools)
        except (AssertionError, OSError):
            return False

    try:
        support.wait_for(all_up, timeout=php_fpm.START_TIMEOUT, what="every worker")
    except BaseException:
        fpm.close()
        raise
    return fpm, answered, time.monotonic() - started


def run_agent(fpm, processes, warmup, window, scrape_every, interval=1.0):
    uris = ", ".join(json.dumps(p.scrape_uri) for p in fpm.pools)
    config = (f"agent:\n  interval: 1s\n  timeout: 900ms\nphp_fpm:\n  - check: bench\n"
              f"    interval: 1s\n    timeout: 900ms\n    scrape_uri: [{uris}]\n"
              f"    processes: {'true' if processes else 'false'}\n")
    agent = support.Agent(config)  # log level info: the bound address is an info line
    try:
        url = agent.url + "/metrics"
        time.sleep(warmup)
        # Start half an interval after a collection finished, so no run straddles an edge.
        last = self_figures(scrape(url)[0])["sre_agent_collect_last_timestamp_seconds"]
        t0 = last + interval / 2
        while t0 < time.time() + 0.05:
            t0 += interval
        sleep_until(t0)
        u0, s0 = cpu_seconds(agent.process.pid)
        idle0, total0 = cpu_idle_ticks()
        text, _ = scrape(url)
        first = self_figures(text)
        durations = [first["sre_agent_collect_duration_seconds"]]
        scrapes, wire = 1, []
        while t0 + scrapes * scrape_every < t0 + window - 0.5:
            sleep_until(t0 + scrapes * scrape_every)
            text, size = scrape(url)
            durations.append(self_figures(text)["sre_agent_collect_duration_seconds"])
            wire.append(size)
            scrapes += 1
        sleep_until(t0 + window)
        u1, s1 = cpu_seconds(agent.process.pid)
        idle1, total1 = cpu_idle_ticks()
        mem = memory(agent.process.pid)
        text, size = scrape(url)
        last = self_figures(text)
        durations.append(last["sre_agent_collect_duration_seconds"])
        wire.append(size)
        plain, plain_bytes = scrape(url, compressed=False)
        series = sum(1 for line in plain.splitlines() if line and not line.startswith("#"))
        ups = [float(v) for v in re.findall(r'^phpfpm_up\{[^}]*\} (\S+)$', plain, re.M)]
    finally:
        code = agent.stop()
    runs = last["sre_agent_collects_total"] - first["sre_agent_collects_total"]
    return {
        "runs": runs, "user": 1000 * (u1 - u0) / runs, "sys": 1000 * (s1 - s0) / runs,
        "duration_ms": 1000 * statistics.median(durations),
        "duration_max_ms": 1000 * max(durations), "samples": len(durations),
        "errors": last["errors"] - first["errors"],
        "skipped": (last["sre_agent_skipped_ticks_total"]
                    - first["sre_agent_skipped_ticks_total"]),
        "pools_up": sum(ups), "pools": len(ups), "series": series, "bytes": plain_bytes,
        "gzip_bytes": statistics.median(wire), "scrapes": scrapes, "exit": code,
        "idle": 100 * (idle1 - idle0) / (total1 - total0), **mem,
    }


def time_probe(probe, uris, extra, runs):
    """Wall time of `sre-probe php-fpm URI...` (ms): hyperfine if installed, else a loop. The
    CPU figures are the process's, its start (loading a 30 MB binary) included."""
    command = [probe, "php-fpm", *uris, *extra]
    check = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check.returncode != 0:
        raise SystemExit(f"sre-probe exited {check.returncode}:\n{check.stdout.decode()[-2000:]}")
    idle0, total0 = cpu_idle_ticks()
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            run = subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs),
                                  "--style", "none", "--export-json", out.name,
                                  " ".join(shlex.quote(a) for a in command)],
                                 check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            r = json.load(open(out.name))["results"][0]
        t = {"how": "hyperfine", "mean": r["mean"], "sd": r["stddev"], "median": r["median"],
             "min": r["min"], "max": r["max"], "user": r["user"], "sys": r["system"]}
        note = "; hyperfine saw outliers" if b"outliers" in run.stderr else ""
    else:
        walls = []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = {"how": "loop", "mean": statistics.mean(walls), "sd": statistics.stdev(walls),
             "median": statistics.median(walls), "min": min(walls), "max": max(walls),
             "user": (after.ru_utime - before.ru_utime) / runs,
             "sys": (after.ru_stime - before.ru_stime) / runs}
        note = ""
    idle1, total1 = cpu_idle_ticks()
    t = {k: (1000 * v if k != "how" else v) for k, v in t.items()}  # seconds to ms
    t.update(note=note, idle=100 * (idle1 - idle0) / (total1 - total0))
    return t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", required=True, help="sre-agent; sre-probe is its sibling")
    parser.add_argument("--window", type=int, default=30, help="seconds measured per mode")
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--scrape-every", type=float, default=5, help="/metrics scrape period")
    parser.add_argument("--pools", type=int, default=20)
    parser.add_argument("--children", type=int, default=50)
    parser.add_argument("--probe-runs", type=int, default=30)
    parser.add_argument("--capture", help="write pool p0's json&full status body here")
    args = parser.parse_args()
    agent = os.path.abspath(args.agent)
    probe = os.path.join(os.path.dirname(agent), "sre-probe")
    binary = shutil.which(php_fpm.BINARY) or f"/usr/sbin/{php_fpm.BINARY}"
    for path in (agent, probe, binary):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"{path} is missing")
    os.environ["SRE_AGENT"] = agent  # support.Agent runs this

    fpm, answered, all_up = start_php_fpm(binary, args.pools, args.children)
    try:
        print(f"php-fpm: {args.pools} pools x {args.children} workers; every pool answered /ping "
              f"after {answered:.2f} s, all {args.pools * args.children} workers up after "
              f"{all_up:.2f} s", flush=True)
        print(f"window {args.window} s after {args.warmup:g} s of warm-up, interval 1 s, "
              f"/metrics scraped with gzip every {args.scrape_every:g} s in the window\n")
        print(f"{'processes':<9} {'runs':>4} {'user ms':>8} {'sys ms':>7} {'total ms':>8} "
              f"{'run p50 ms':>10} {'run max':>7} {'errors':>6} {'up':>5} {'series':>6} "
              f"{'bytes':>8} {'gzip':>6} {'RSS MiB':>7} {'RssAnon':>7} {'RssFile':>7} "
              f"{'idle %':>6}", flush=True)
        for processes in (False, True):
            m = run_agent(fpm, processes, args.warmup, args.window, args.scrape_every)
            print(f"{str(processes).lower():<9} {m['runs']:>4.0f} {m['user']:>8.3f} "
                  f"{m['sys']:>7.3f} {m['user'] + m['sys']:>8.3f} {m['duration_ms']:>10.2f} "
                  f"{m['duration_max_ms']:>7.2f} {m['errors'] + m['skipped']:>6.0f} "
                  f"{m['pools_up']:>2.0f}/{m['pools']:<2} {m['series']:>6} {m['bytes']:>8} "
                  f"{m['gzip_bytes']:>6.0f} {m['VmRSS']:>7.1f} {m['RssAnon']:>7.1f} "
                  f"{m['RssFile']:>7.1f} {m['idle']:>6.1f}", flush=True)
            if m["exit"] != 0:
                print(f"  (sre-agent exited {m['exit']})")
        print(f"  ({m['scrapes']} scrapes per window; 'run p50' is the median of "
              f"{m['samples']} sampled sre_agent_collect_duration_seconds; errors counts "
              f"sre_agent_collect_errors_total and skipped ticks in the window; 'idle %' is the "
              f"whole machine's idle time in the window, from /proc/stat)")

        uris = [p.scrape_uri for p in fpm.pools]
        print()
        for extra in ([], ["--processes"]):
            t = time_probe(probe, uris, extra, args.probe_runs)
            print(f"sre-probe php-fpm <{len(uris)} URIs> {' '.join(extra):<11} ({t['how']}, "
                  f"{args.probe_runs} runs): wall mean {t['mean']:.2f} ± {t['sd']:.2f} ms, "
                  f"median {t['median']:.2f}, min {t['min']:.2f}, max {t['max']:.2f}; "
                  f"user {t['user']:.2f} + sys {t['sys']:.2f} ms; machine idle {t['idle']:.0f} %"
                  f"{t['note']}", flush=True)

        with open(fpm.error_log, errors="replace") as f:
            log = f.read()
        print(f"\nphp-fpm log: {log.count('failed to lock')} 'failed to lock', "
              f"{log.count('WARNING')} warnings, {log.count('ERROR')} errors")
        if args.capture:
            status, _, body = php_fpm.fcgi_get(fpm.pools[0].address, php_fpm.STATUS_PATH,
                                               "json&full")
            if status != 200:
                raise SystemExit(f"capture: status {status}: {body[:200]!r}")
            with open(args.capture, "wb") as f:
                f.write(body)
            print(f"captured pool p0's json&full status ({len(body)} bytes) to {args.capture}")
    finally:
        fpm.close()


if __name__ == "__main__":
    sys.exit(main())
